import { hashBundle, sameModelConfig, withModel, type ModelConfig, type RoleBundle, type VersionOrigin } from '@bernstein/prompt-versions';
import type { RoleState } from './state.js';

/**
 * The bundle on disk against the routing state, as pure functions (SPEC, Routing rules 2, 4, 7, 8).
 */

/**
 * A promoted `--model` canary (SPEC, Routing rule 8): the model it put in place, and the model
 * config the files on disk had when it was made. While disk still has that model config, the
 * files on disk are versioned with the promoted model; once the model config on disk changes,
 * disk speaks for itself again.
 */
export interface PromotedModel {
  /** The `default_model` the promoted canary set. */
  model: string;
  /** The model config on disk the override was made on top of. */
  diskModel: ModelConfig;
}

/** What routing acts on: the bundle on disk, with a promoted model applied when rule 8 says so. */
export interface EffectiveBundle {
  bundle: RoleBundle;
  origin: VersionOrigin;
  /** The bundle exactly as on disk (differs from `bundle` when a promoted model applies). */
  disk: RoleBundle;
}

export function effectiveBundle(disk: RoleBundle, promoted: PromotedModel | null): EffectiveBundle {
  if (promoted === null || !sameModelConfig(disk.model, promoted.diskModel)) return { bundle: disk, origin: { kind: 'disk' }, disk };
  return {
    bundle: withModel(disk, promoted.model),
    origin: { kind: 'model-override', baseVersionId: hashBundle(disk).id, model: promoted.model },
    disk,
  };
}

/**
 * Where the bundle on disk stands (status's `disk.state`, and what route reports):
 * - 'stable' / 'canary': it is what that arm serves;
 * - 'pending': it differs from stable and the next route acts on it (first sight, direct release or
 *   an automatic canary, SPEC rule 2);
 * - 'moved-on': a canary runs and disk matches neither arm; it is acted on when the canary ends (rule 7);
 * - 'rejected': a rolled-back version; never used again automatically (rule 4);
 * - 'superseded': routing already acted on this bundle and a command changed stable since
 *   (e.g. a promoted `--prompt-version` canary); the next edit is acted on;
 * - 'invalid' / 'missing' / 'empty': the files cannot be read as a bundle; stable and canary keep
 *   being served from the registry and nothing is released or canaried (rule 7).
 */
export type DiskState = 'stable' | 'canary' | 'pending' | 'moved-on' | 'rejected' | 'superseded' | 'invalid' | 'missing' | 'empty';

export function classifyDisk(role: RoleState | undefined, observed: string | undefined, versionId: string): DiskState {
  if (role === undefined || role.stable === null) return 'pending';
  if (versionId === role.stable) return 'stable';
  if (role.canary !== null && versionId === role.canary.versionId) return 'canary';
  if (role.rejected.includes(versionId)) return 'rejected';
  if (role.canary !== null) return 'moved-on';
  if (observed === versionId) return 'superseded';
  return 'pending';
}

/** One line for a user about a disk state that needs a word (null when there is nothing to say). */
export function describeDiskState(role: string, state: DiskState, versionId: string | null, roleState: RoleState | undefined): string | null {
  const stable = roleState?.stable ?? 'none';
  const canary = roleState?.canary;
  switch (state) {
    case 'moved-on':
      return `role "${role}": the bundle on disk (${versionId}) matches neither stable ${stable} nor canary ${canary?.id} (version ${canary?.versionId}); still serving both, and the new bundle is handled when canary ${canary?.id} ends`;
    case 'rejected':
      return `role "${role}": the bundle on disk (${versionId}) was rolled back and is rejected; serving stable ${stable} (edit the files, or canary it again explicitly)`;
    default:
      return null;
  }
}
