import { BernsteinError } from '@bernstein/store';
import { hashBundle, sameModelConfig, type ModelConfig } from '@bernstein/prompt-versions';
import { classifyDisk, effectiveBundle, type DiskState, type EffectiveBundle, type PromotedModel, type RoleState } from '@bernstein/canary-router';
import type { StoreReader, StoreTransaction } from '../port.js';
import type { Rollout } from '../rollout.js';

/**
 * The bundle on disk, read for routing, scanning and status. Reading never throws for a broken
 * bundle: the caller decides (route keeps serving from the registry, scan reports the role, a
 * command that needs the files fails with the error).
 */
export type DiskRead =
  | { ok: true; effective: EffectiveBundle; versionId: string; inputs: string[] }
  | { ok: false; state: 'invalid' | 'missing' | 'empty'; error: BernsteinError; inputs: null };

/** The promoted `--model` canary serving as `stableId`, if it is one (SPEC, Routing rule 8). */
export async function promotedModelOf(reader: StoreReader, stableId: string | null | undefined): Promise<PromotedModel | null> {
  if (!stableId) return null;
  let version = await reader.resolveVersion(stableId).catch(() => undefined);
  if (!version || version.origin.kind !== 'model-override') return null;
  const model = version.origin.model;
  // Walk down to the version read from disk that the override (or a chain of them) was made on.
  for (let hops = 0; version && version.origin.kind === 'model-override' && hops < 64; hops++) {
    version = await reader.resolveVersion(version.origin.baseVersionId).catch(() => undefined);
  }
  if (!version || version.origin.kind !== 'disk') return null;
  return { model, diskModel: version.model };
}

export async function readDisk(rollout: Rollout, reader: StoreReader, role: string, roleState: RoleState | undefined): Promise<DiskRead> {
  // Outside the try: a broken config is the caller's error, not a broken bundle.
  const config = await rollout.config();
  try {
    const { bundle, inputs } = await rollout.roleBundle(role, config);
    const effective = effectiveBundle(bundle, await promotedModelOf(reader, roleState?.stable));
    return { ok: true, effective, versionId: hashBundle(effective.bundle).id, inputs };
  } catch (error) {
    if (!(error instanceof BernsteinError) || !['BUNDLE_INVALID', 'BUNDLE_EMPTY', 'MALFORMED_FILE', 'ROLE_NOT_FOUND', 'IO_ERROR'].includes(error.code)) throw error;
    const state = error.code === 'ROLE_NOT_FOUND' ? 'missing' : error.code === 'BUNDLE_EMPTY' ? 'empty' : 'invalid';
    return { ok: false, state, error, inputs: null };
  }
}

/** Register what routing would act on: the effective bundle, and the plain disk bundle it was made from. */
export async function registerDisk(tx: StoreTransaction, read: Extract<DiskRead, { ok: true }>): Promise<{ isNew: boolean }> {
  const { effective } = read;
  if (effective.origin.kind === 'model-override') await tx.registerVersion(effective.disk);
  const { isNew } = await tx.registerVersion(effective.bundle, effective.origin);
  return { isNew };
}

/** `status`'s `disk` entry of a role (SPEC, Routing rules 7 and 8). */
export interface DiskView {
  state: DiskState;
  /** The id routing acts on for the files on disk (promoted model applied); null when they cannot be read. */
  versionId: string | null;
  /** One line naming the file (and line) when the files cannot be read as a bundle. */
  error: string | null;
  /** Set when the model config on disk differs from the serving stable's model. */
  model: null | { disk: ModelConfig; serving: ModelConfig };
}

export async function inspectDisk(
  rollout: Rollout,
  role: string,
  roleState: RoleState | undefined,
  observed: string | undefined,
): Promise<{ view: DiskView; inputs: string[] | null }> {
  const read = await readDisk(rollout, rollout.store, role, roleState);
  if (!read.ok) return { view: { state: read.state, versionId: null, error: read.error.message, model: null }, inputs: null };
  let model: DiskView['model'] = null;
  if (roleState?.stable) {
    const serving = (await rollout.store.resolveVersion(roleState.stable).catch(() => undefined))?.model;
    if (serving && !sameModelConfig(read.effective.disk.model, serving)) model = { disk: read.effective.disk.model, serving };
  }
  return { view: { state: classifyDisk(roleState, observed, read.versionId), versionId: read.versionId, error: null, model }, inputs: read.inputs };
}

/** The one-line warning route prints when it serves from the registry because disk is broken. */
export function diskProblemWarning(role: string, read: Extract<DiskRead, { ok: false }>, roleState: RoleState): string {
  const serving = `stable ${roleState.stable}${roleState.canary ? ` and canary ${roleState.canary.id} (version ${roleState.canary.versionId})` : ''}`;
  return `role "${role}": ${read.error.message.replace(/:\s*$/, '')}; serving ${serving} from the registry, and nothing is released or canaried until the files are valid [${read.error.code}]`;
}
