import { BernsteinError } from '@bernstein/store';
import { z } from 'zod';
import { ModelConfigSchema, RoleBundleSchema, RoleNameSchema, type RoleBundle } from './bundle.js';
import { hashBundle, VERSION_ID_LENGTH } from './hash.js';

/** Where a version came from: a scan of the role folder, or a model change on top of another version. */
export const VersionOriginSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('disk') }),
  z.object({ kind: z.literal('model-override'), baseVersionId: z.string(), model: z.string() }),
]);
export type VersionOrigin = z.infer<typeof VersionOriginSchema>;

const VERSION_ID_RE = /^[0-9a-f]{12}$/;

/** A version id: the first 12 lowercase hex chars of the bundle's SHA-256 (SPEC, Words). The one definition. */
export const VersionIdSchema = z.string().regex(VERSION_ID_RE, 'expected a version id (12 lowercase hex chars)');
/** A version hash: the full SHA-256, 64 lowercase hex chars. */
export const VersionHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'expected a version hash (64 lowercase hex chars)');

export function isVersionId(value: string): boolean {
  return VERSION_ID_RE.test(value);
}

const HexId = VersionIdSchema;
const Hash = VersionHashSchema;

/** What the registry index keeps per version (the content lives in its own file). */
export const VersionSummarySchema = z.object({
  id: HexId,
  hash: Hash,
  role: RoleNameSchema,
  createdAt: z.string(),
  origin: VersionOriginSchema,
  fileNames: z.array(z.string()),
  model: ModelConfigSchema,
});
export type VersionSummary = z.infer<typeof VersionSummarySchema>;

export const RoleHistoryEntrySchema = z.object({ versionId: HexId, at: z.string(), origin: VersionOriginSchema });
export type RoleHistoryEntry = z.infer<typeof RoleHistoryEntrySchema>;

/** `.sdd/config/prompt_versions.json` */
export const RegistryDocumentSchema = z.object({
  schemaVersion: z.literal(1),
  versions: z.record(z.string(), VersionSummarySchema),
  roles: z.record(z.string(), z.object({ history: z.array(RoleHistoryEntrySchema) })),
});
export type RegistryDocument = z.infer<typeof RegistryDocumentSchema>;

/** A version with its full content: everything needed to spawn an agent with it. */
export interface Version extends VersionSummary {
  files: Record<string, string>;
}

export interface RegisterResult {
  version: VersionSummary;
  /** False when this exact content was registered before (nothing was written). */
  isNew: boolean;
}

export const MIN_PREFIX_LENGTH = 4;

/** Pure prefix resolution, shared by every RegistryStore implementation. */
export function resolvePrefix(versions: readonly VersionSummary[], idOrPrefix: string): VersionSummary {
  const query = idOrPrefix.trim().toLowerCase();
  if (!/^[0-9a-f]+$/.test(query)) {
    throw new BernsteinError('INVALID_ARGUMENT', `"${idOrPrefix}" is not a version id: expected hex characters`, { query: idOrPrefix });
  }
  if (query.length < MIN_PREFIX_LENGTH) {
    throw new BernsteinError('INVALID_ARGUMENT', `version prefix "${idOrPrefix}" is too short: give at least ${MIN_PREFIX_LENGTH} hex characters`, {
      query: idOrPrefix,
    });
  }
  const matches = versions.filter((v) => (query.length > VERSION_ID_LENGTH ? v.hash.startsWith(query) : v.id.startsWith(query)));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    const list = matches
      .slice(0, 10)
      .map((v) => `${v.id} (${v.role})`)
      .join(', ');
    throw new BernsteinError('VERSION_AMBIGUOUS', `version prefix "${query}" is ambiguous: ${list}${matches.length > 10 ? ', ...' : ''}`, {
      candidates: matches.map((v) => v.id),
    });
  }
  const known = [...versions].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)).slice(0, 10);
  const hint = known.length ? `; known versions: ${known.map((v) => `${v.id} (${v.role})`).join(', ')}` : '; no versions are registered yet (run `bernstein versions scan`)';
  throw new BernsteinError('VERSION_NOT_FOUND', `unknown version "${query}"${hint}`, { candidates: known.map((v) => v.id) });
}

