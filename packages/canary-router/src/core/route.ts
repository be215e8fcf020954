import { BernsteinError } from '@bernstein/store';
import { routesToCanary } from './bucket.js';
import type { CanaryConfig, ProjectConfig } from './config.js';
import type { RoleState } from './state.js';
import type { Transition } from './transitions.js';

export type Arm = 'stable' | 'canary';

export interface RouteDecision {
  arm: Arm;
  versionId: string;
  /**
   * The role's active canary, on BOTH arms: a stable-arm task routed while a canary runs belongs
   * to that canary's comparison window. null when no canary runs.
   */
  canaryId: string | null;
  /** The canary's epoch when routed (null without a canary): the evidence compares the arms within each epoch. */
  epoch: number | null;
}

/**
 * The routing decision for one task over a snapshot of the role's state (SPEC, Routing rule 1):
 * canary iff bucket(taskId, canary.id) < canary.percentage, else stable. Pure, no I/O: the hot path.
 * Throws INVALID_ARGUMENT if the role has no stable version (initialise the role first).
 */
export function decideRoute(role: RoleState, taskId: string): RouteDecision {
  const stable = role.stable;
  if (stable === null) {
    throw new BernsteinError('INVALID_ARGUMENT', 'the role has no stable version yet; initialise it from its bundle on disk before routing');
  }
  const canary = role.canary;
  if (canary === null) return { arm: 'stable', versionId: stable, canaryId: null, epoch: null };
  if (routesToCanary(taskId, canary.id, canary.percentage)) {
    return { arm: 'canary', versionId: canary.versionId, canaryId: canary.id, epoch: canary.epoch };
  }
  return { arm: 'stable', versionId: stable, canaryId: canary.id, epoch: canary.epoch };
}

/**
 * What to do when a role is routed and its bundle on disk has id `diskVersionId` (SPEC, Routing
 * rules 2 and 4):
 * - 'init': the role was never seen (or has no stable): the disk version becomes stable;
 * - 'none': disk is the stable or the running canary's version, or a canary of ANOTHER version
 *   is running: that canary continues undisturbed and the new bundle is considered again once it
 *   has been promoted or rolled back (the bundle on disk is re-read at every routing);
 * - 'rejected': disk holds a rolled-back version: serve stable, change nothing (warn the user);
 * - 'release': canary_percentage is 0: the disk version becomes stable directly;
 * - 'start-canary': canary_percentage > 0: start a canary of the disk version
 *   (see autoStartTransition for its parameters);
 * - 'behind' (only with a shared store, rule 9): disk holds a version the role had as stable
 *   before, or one that was rolled back: this host's templates are behind the fleet; serve the
 *   fleet's stable, change nothing, warn.
 */
export type BundleChangePlan = 'none' | 'init' | 'release' | 'start-canary' | 'rejected' | 'behind';

export interface BundleChangeOptions {
  /** The store is shared by several hosts (fleet mode): SPEC routing rule 9 applies. */
  shared?: boolean;
}

export function planBundleChange(
  role: RoleState | undefined,
  diskVersionId: string,
  /** The project config or its `canary` part. */
  config: Pick<ProjectConfig, 'canary'> | Pick<CanaryConfig, 'canaryPercentage'>,
  options: BundleChangeOptions = {},
): BundleChangePlan {
  const canaryPercentage = 'canary' in config ? config.canary.canaryPercentage : config.canaryPercentage;
  if (role === undefined || role.stable === null) return 'init';
  if (diskVersionId === role.stable) return 'none';
  if (role.canary !== null && diskVersionId === role.canary.versionId) return 'none';
  // Rule 9: with many hosts, an old bundle on one host's disk is a stale checkout, not a change.
  if (options.shared && (role.rejected.includes(diskVersionId) || role.previousStables.includes(diskVersionId))) return 'behind';
  if (role.rejected.includes(diskVersionId)) return 'rejected';
  if (role.canary !== null) return 'none';
  return canaryPercentage > 0 ? 'start-canary' : 'release';
}

/**
 * The transition that starts an automatic canary from the configuration: with `steps`, the ramp
 * starts at steps[0] (canary_percentage then only switches automatic canaries on); otherwise at
 * canary_percentage. `policy: null` means "the configured default", resolved at decision time.
 */
export function autoStartTransition(
  role: string,
  versionId: string,
  stable: string | null,
  /** The project config or its `canary` part. */
  config: Pick<ProjectConfig, 'canary'> | Pick<CanaryConfig, 'canaryPercentage' | 'steps'>,
): Extract<Transition, { type: 'start' }> {
  const canary = 'canary' in config ? config.canary : config;
  return canary.steps.length > 0
    ? { type: 'start', role, versionId, steps: [...canary.steps], policy: null, expectedStable: stable }
    : { type: 'start', role, versionId, percentage: canary.canaryPercentage, policy: null, expectedStable: stable };
}
