import { join } from 'node:path';
import { BernsteinError, projectPaths } from '@bernstein/store';
import { assertRoleName, TaskIdSchema, type AssignmentRecord, type ModelConfig, type Version } from '@bernstein/prompt-versions';
import { classifyDisk, decideRoute, describeDiskState, describeTemplatesFolder, planBundleChange, type AuditEvent, type CanaryState, type RoleState, type Transition } from '@bernstein/canary-router';
import type { StoreTransaction, TransitionRequest } from '../port.js';
import type { Rollout } from '../rollout.js';
import { diskProblemWarning, readDisk, registerDisk } from './disk.js';
import { persist, startJudging } from './judge.js';
import { sweepRole } from './timeouts.js';

/** What an orchestrator needs to spawn the agent for one task. */
export interface RouteResult {
  taskId: string;
  role: string;
  arm: 'stable' | 'canary';
  versionId: string;
  canaryId: string | null;
  /** The version's model config (e.g. `default_model`). */
  model: ModelConfig;
  /** The version's prompt files, name to text. */
  files: Record<string, string>;
  /** True when this task was routed before in the same canary and keeps its arm (a retry). */
  sticky: boolean;
}

export interface RouteOptions {
  /** A label known at routing time (task type, complexity), stored with each new assignment. */
  stratum?: string;
  /**
   * Told once per call about the bundle on disk when routing does not act on it: broken files
   * (stable and canary are served from the registry), an edit that matches neither arm of a
   * running canary, a rejected version. One line each. In a shared store, a host whose templates
   * are behind the fleet (SPEC routing rule 9) is told once per Rollout.
   */
  onWarning?: (message: string) => void;
  /**
   * Called after commit with the transitions this call applied (a first sight, a direct release,
   * an automatic canary start), so a shell can say why the version changed.
   */
  onTransitions?: (events: readonly AuditEvent[]) => void;
}

/**
 * Route tasks of one role, in one unit of work scoped to the role: register the bundle on disk,
 * apply SPEC routing rule 2 (first sight, direct release, automatic canary start; rejected
 * versions are ignored), decide each task's arm (sticky for retries), and write each new
 * assignment before returning. Many task ids per call is how callers batch.
 */
export async function routeTasks(rollout: Rollout, role: string, taskIds: readonly string[], options: RouteOptions = {}): Promise<RouteResult[]> {
  assertRoleName(role);
  for (const taskId of taskIds) {
    const check = TaskIdSchema.safeParse(taskId);
    if (!check.success) throw new BernsteinError('INVALID_ARGUMENT', `invalid task id ${JSON.stringify(taskId)}: ${check.error.issues[0]?.message}`);
  }
  const config = await rollout.config();

  const applied: AuditEvent[] = [];
  const results = await rollout.store.transaction({ roles: [role] }, async (tx) => {
    applied.length = 0;
    let state = await syncRoleWithDisk(rollout, tx, role, options, applied);
    // Looked up first: the task index checks the ledger before anything else reads it.
    const { tasks: known } = await tx.getTasks(taskIds);
    if (state.roles[role]?.canary) {
      // Tasks of the canary past outcome_timeout count as failed now; a decision they bring
      // (a rollback of a canary whose failures never report) applies before these tasks are routed.
      // Cheap: the canary's aggregate says whether any task is overdue.
      const j = startJudging({ rollout, tx, config, state, aggregates: new Map(), apply: true });
      if ((await sweepRole(j, role)) > 0) {
        await persist(j);
        applied.push(...j.transitions);
        state = j.state;
      }
    }
    const roleState = state.roles[role];
    if (!roleState || roleState.stable === null) {
      throw new BernsteinError('ROLE_NOT_FOUND', `role "${role}" has no stable version and no bundle folder "${role}" in the templates folder ${describeTemplatesFolder(config, projectPaths(rollout.root))}`, { role });
    }
    const now = rollout.now().toISOString();
    const fresh: AssignmentRecord[] = [];
    const routed: Array<Omit<RouteResult, 'model' | 'files'>> = [];
    const seenInCall = new Map<string, Omit<RouteResult, 'model' | 'files'>>();
    for (const taskId of taskIds) {
      const repeat = seenInCall.get(taskId);
      if (repeat) {
        routed.push({ ...repeat, sticky: true });
        continue;
      }
      const previous = known.get(taskId)?.assignment;
      const sticky = previous !== undefined && isSameWindow(previous, role, roleState);
      let result: Omit<RouteResult, 'model' | 'files'>;
      if (sticky) {
        result = { taskId, role, arm: previous.arm, versionId: previous.versionId, canaryId: previous.canaryId, sticky: true };
      } else {
        const decision = decideRoute(roleState, taskId);
        fresh.push({
          v: 1,
          type: 'assign',
          taskId,
          role,
          arm: decision.arm,
          versionId: decision.versionId,
          canaryId: decision.canaryId,
          epoch: decision.epoch,
          at: now,
          ...(options.stratum !== undefined ? { stratum: options.stratum } : {}),
        });
        result = { taskId, role, arm: decision.arm, versionId: decision.versionId, canaryId: decision.canaryId, sticky: false };
      }
      seenInCall.set(taskId, result);
      routed.push(result);
    }
    // Load (and verify) every version's content before writing: a route that cannot return what
    // the agent needs must not leave assignments behind. Both arms' versions are read and
    // verified, whichever arms this call's tasks landed on.
    const contents = new Map<string, Version>();
    const serving = [roleState.stable, roleState.canary?.versionId, ...routed.map((r) => r.versionId)];
    for (const versionId of serving) if (versionId && !contents.has(versionId)) contents.set(versionId, await tx.getVersion(versionId));
    await tx.appendAssignments(fresh);
    return routed.map((r) => {
      const version = contents.get(r.versionId)!;
      return { ...r, model: version.model, files: version.files };
    });
  });
  rollout.alerts.kick();
  if (applied.length > 0) options.onTransitions?.(applied);
  return results;
}

/**
 * A task routed earlier keeps its arm while the same canary runs (or, without a canary, while
 * the same stable serves).
 */
function isSameWindow(previous: AssignmentRecord, role: string, state: RoleState): boolean {
  if (previous.role !== role) return false;
  if (state.canary) return previous.canaryId === state.canary.id;
  return previous.canaryId === null && previous.versionId === state.stable;
}

/**
 * Register the role's bundle on disk and apply SPEC routing rules 2, 4, 7, 8 and 9, inside `tx`
 * (scoped to the role). Returns the state after any automatic transition; the transitions it
 * applied are appended to `applied`. A bundle on disk that cannot be read never stops a role that
 * has a stable version: it keeps serving from the registry and `onWarning` is told.
 */
export async function syncRoleWithDisk(
  rollout: Rollout,
  tx: StoreTransaction,
  role: string,
  options: Pick<RouteOptions, 'onWarning'> = {},
  applied: AuditEvent[] = [],
): Promise<CanaryState> {
  const config = await rollout.config();
  const state = await tx.loadState();
  const roleState = state.roles[role];
  const read = await readDisk(rollout, tx, role, roleState);
  if (!read.ok) {
    if (roleState?.stable) {
      options.onWarning?.(diskProblemWarning(role, read, roleState));
      return state;
    }
    // A role never seen: name the setting the folder came from, not only the path.
    if (read.error.code === 'ROLE_NOT_FOUND') {
      throw new BernsteinError('ROLE_NOT_FOUND', `no role "${role}": no folder "${role}" in the templates folder ${describeTemplatesFolder(config, projectPaths(rollout.root))}`, { role }, { cause: read.error });
    }
    throw read.error;
  }
  await registerDisk(tx, read);
  const version = { id: read.versionId };
  // A shared store (fleet mode) serves many hosts' checkouts: SPEC routing rule 9 (told once
  // per Rollout, in place of the per-call disk note).
  const plan = planBundleChange(roleState, version.id, config, { shared: rollout.store.kind !== 'file' });
  if (plan === 'behind' && roleState?.stable) {
    const what = roleState.rejected.includes(version.id) ? 'was rolled back' : 'the role had as stable before';
    rollout.warnOnce(
      `behind:${role}:${version.id}`,
      `this host's templates are behind the fleet: the bundle of role "${role}" on disk is version ${version.id}, which ${what}; serving the fleet's stable ${roleState.stable} (nothing was released or canaried; update this checkout)`,
      options.onWarning,
    );
    return state;
  }
  const note = describeDiskState(role, classifyDisk(roleState, state.disk?.[role], version.id), version.id, roleState);
  if (note !== null) options.onWarning?.(note);
  // Routing acts on a bundle once: unchanged since last time means nothing to do.
  if (state.disk?.[role] === version.id && roleState?.stable) return state;
  const requests: TransitionRequest[] = [];
  const transition = (t: Transition, reason: string) => requests.push(rollout.request(t, 'auto', reason));
  // A canary of another version is running: leave the new bundle for when it ends.
  const deferred = plan === 'none' && roleState?.canary != null && roleState.canary.versionId !== version.id && roleState.stable !== version.id;
  switch (plan) {
    case 'init':
      transition({ type: 'init', role, versionId: version.id }, 'its bundle on disk');
      break;
    case 'release':
      transition(
        { type: 'release', role, versionId: version.id },
        `the bundle on disk changed and canary.canary_percentage is 0 (the previous stable is kept for instant rollback)`,
      );
      break;
    case 'start-canary': {
      const steps = config.canary.steps;
      transition(
        { type: 'start', role, versionId: version.id, ...(steps.length > 0 ? { steps } : { percentage: config.canary.canaryPercentage }) },
        `the bundle on disk changed (${steps.length > 0 ? `canary.steps ${steps.join(' → ')} %` : `canary.canary_percentage ${config.canary.canaryPercentage}`})`,
      );
      break;
    }
    default:
      break;
  }
  if (deferred && requests.length === 0) return state;
  const result = await tx.applyTransitions(requests, deferred ? {} : { observedDisk: { role, versionId: version.id } });
  applied.push(...result.events);
  return result.state;
}
