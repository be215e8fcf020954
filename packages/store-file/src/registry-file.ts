import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { BernsteinError, MalformedFileError, defineJsonDocument, withProjectLock, writeJsonAtomic, type ProjectPaths } from '@bernstein/store';
import {
  hashBundle,
  RegistryDocumentSchema,
  resolvePrefix,
  RoleBundleSchema,
  type RegisterResult,
  type RegistryDocument,
  type RoleBundle,
  type RoleHistoryEntry,
  type Version,
  type VersionOrigin,
  type VersionSummary,
  VersionHashSchema,
  VersionIdSchema,
} from '@bernstein/prompt-versions';
import { z } from 'zod';
import { deepFreeze, fileSignature, FileMemo } from './file-memo.js';


export const registryDocument = defineJsonDocument({
  label: 'prompt version registry',
  schema: RegistryDocumentSchema,
  currentVersion: 1,
  empty: (): RegistryDocument => ({ schemaVersion: 1, versions: {}, roles: {} }),
});

/** `.sdd/versions/<id>.json`: the immutable content of one version. */
export const VersionContentSchema = RoleBundleSchema.extend({ schemaVersion: z.literal(1), id: VersionIdSchema, hash: VersionHashSchema });
export const versionContentDocument = defineJsonDocument({
  label: 'version content',
  schema: VersionContentSchema,
  currentVersion: 1,
  empty: () => {
    throw new Error('version content files have no empty form');
  },
});

/** The registry as the file adapter uses it. */
export interface RegistryStore {
  /** Idempotent: registering the same content again returns the existing version and writes nothing. */
  register(bundle: RoleBundle, origin?: VersionOrigin): Promise<RegisterResult>;
  /** Full content of an exact version id. */
  get(id: string): Promise<Version>;
  /** Resolve a full id, a full hash or a unique prefix of >= 4 hex chars. */
  resolve(idOrPrefix: string): Promise<VersionSummary>;
  list(filter?: { role?: string }): Promise<VersionSummary[]>;
  history(role: string): Promise<RoleHistoryEntry[]>;
}

/** Verified version contents kept in memory (a version's files are a few KiB; routing reads the same two). */
const MAX_CACHED_CONTENTS = 256;

/** The file-backed registry under `.sdd/`. */
export class FileRegistry implements RegistryStore {
  /** The index, parsed once per change of the file (frozen: shared by every caller). */
  private readonly index: FileMemo<RegistryDocument>;
  /** Version contents read and verified, by id, with the signature of the file they came from. */
  private readonly contents = new Map<string, { signature: string; files: Readonly<Record<string, string>> }>();

  constructor(
    private readonly paths: ProjectPaths,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.index = new FileMemo(paths.registry, async () => deepFreeze(await registryDocument.load(paths.registry)));
  }

  private contentFile(id: string): string {
    return join(this.paths.versionsDir, `${id}.json`);
  }

  async load(): Promise<RegistryDocument> {
    return this.index.get();
  }

  async register(bundle: RoleBundle, origin: VersionOrigin = { kind: 'disk' }): Promise<RegisterResult> {
    const { hash, id } = hashBundle(bundle);
    // Fast path without the lock: most scans find nothing new.
    const existing = (await this.load()).versions[id];
    if (existing) return { version: assertSameHash(existing, hash, this.paths.registry), isNew: false };

    return withProjectLock(this.paths, async (lock) => {
      const document = await this.load();
      const found = document.versions[id];
      if (found) return { version: assertSameHash(found, hash, this.paths.registry), isNew: false };
      const at = this.now().toISOString();
      const summary: VersionSummary = {
        id,
        hash,
        role: bundle.role,
        createdAt: at,
        origin,
        fileNames: Object.keys(bundle.files).sort(),
        model: bundle.model,
      };
      // Content first: the index never names a version whose content is missing.
      await lock.assertHeld();
      await writeJsonAtomic(this.contentFile(id), { schemaVersion: 1, id, hash, role: bundle.role, files: bundle.files, model: bundle.model });
      const history = document.roles[bundle.role]?.history ?? [];
      const next: RegistryDocument = {
        ...document,
        versions: { ...document.versions, [id]: summary },
        roles: { ...document.roles, [bundle.role]: { history: [...history, { versionId: id, at, origin }] } },
      };
      await lock.assertHeld();
      await registryDocument.save(this.paths.registry, next);
      this.index.invalidate();
      return { version: summary, isNew: true };
    });
  }

  async get(id: string): Promise<Version> {
    const summary = (await this.load()).versions[id];
    if (!summary) throw new BernsteinError('VERSION_NOT_FOUND', `unknown version "${id}"`, { id });
    const file = this.contentFile(id);
    // Content files are written once and never change; the signature still catches a hand edit.
    const signature = fileSignature(file);
    const cached = this.contents.get(id);
    if (cached?.signature === signature) return { ...summary, files: cached.files };
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new BernsteinError('IO_ERROR', `${file}: cannot read the content of version ${id} (${(error as Error).message})`, { id }, { cause: error });
    }
    const content = versionContentDocument.parse(file, text);
    const { hash } = hashBundle(content);
    if (hash !== summary.hash || content.id !== id) {
      throw new MalformedFileError(file, `content does not match version ${id} (hash ${hash.slice(0, 12)}); the file was edited or damaged`);
    }
    const files = Object.freeze(content.files);
    if (this.contents.size >= MAX_CACHED_CONTENTS) this.contents.clear();
    this.contents.set(id, { signature, files });
    return { ...summary, files };
  }

  async resolve(idOrPrefix: string): Promise<VersionSummary> {
    return resolvePrefix(Object.values((await this.load()).versions), idOrPrefix);
  }

  async list(filter: { role?: string } = {}): Promise<VersionSummary[]> {
    const all = Object.values((await this.load()).versions);
    return all
      .filter((v) => filter.role === undefined || v.role === filter.role)
      .sort((a, b) => (a.role !== b.role ? (a.role < b.role ? -1 : 1) : a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  async history(role: string): Promise<RoleHistoryEntry[]> {
    return (await this.load()).roles[role]?.history ?? [];
  }
}

function assertSameHash(summary: VersionSummary, hash: string, file: string): VersionSummary {
  if (summary.hash !== hash) {
    throw new BernsteinError('CONFLICT', `${file}: version id ${summary.id} already names different content (hash collision on the 12-char id)`, {
      id: summary.id,
    });
  }
  return summary;
}
