import { join } from 'node:path';
import { BernsteinError } from '@bernstein/store';
import {
  assertRoleName,
  loadRoleBundle,
  TaskIdSchema,
  type AssignmentRecord,
  type ModelConfig,
  type Version,
} from '@bernstein/prompt-versions';
import { decideRoute, describeTemplatesFolder, planBundleChange, type CanaryState, type RoleState, type Transition } from './core.js';
import type { FileProject, TransitionRequest } from './project.js';

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
  /** Who caused any automatic transition (auto-start, direct release): 'auto' by default. */
  actor?: 'auto';
}

/**
 * Route tasks of one role. Under the project lock: register the bundle on disk, apply SPEC
 * routing rule 2 (first sight, direct release, automatic canary start; rejected versions are
 * ignored), decide each task's arm (sticky for retries), and write each new assignment to the
 * ledger before returning.
 */
export async function routeTasks(project: FileProject, role: string, taskIds: readonly string[]): Promise<RouteResult[]> {
  assertRoleName(role);
  for (const taskId of taskIds) {
    const check = TaskIdSchema.safeParse(taskId);
    if (!check.success) throw new BernsteinError('INVALID_ARGUMENT', `invalid task id ${JSON.stringify(taskId)}: ${check.error.issues[0]?.message}`);
  }
  const config = await project.config();

  return project.transaction(async () => {
    const state = await syncRoleWithDisk(project, role);
    const roleState = state.roles[role];
    if (!roleState || roleState.stable === null) {
      throw new BernsteinError('ROLE_NOT_FOUND', `role "${role}" has no stable version and no bundle folder "${role}" in the templates folder ${describeTemplatesFolder(config, project.paths)}`, { role });
    }
    const index = await project.index();
    const now = project.now().toISOString();
    const fresh: AssignmentRecord[] = [];
    const routed: Array<Omit<RouteResult, 'model' | 'files'>> = [];
    const seenInCall = new Map<string, Omit<RouteResult, 'model' | 'files'>>();
    for (const taskId of taskIds) {
      const repeat = seenInCall.get(taskId);
      if (repeat) {
        routed.push({ ...repeat, sticky: true });
        continue;
      }
      const previous = (await index.get(taskId))?.assignment;
      const sticky = previous !== undefined && isSameWindow(previous, role, roleState);
      let result: Omit<RouteResult, 'model' | 'files'>;
      if (sticky) {
        result = { taskId, role, arm: previous.arm, versionId: previous.versionId, canaryId: previous.canaryId, sticky: true };
      } else {
        const decision = decideRoute(roleState, taskId);
        fresh.push({ v: 1, type: 'assign', taskId, role, arm: decision.arm, versionId: decision.versionId, canaryId: decision.canaryId, epoch: decision.epoch, at: now });
        result = { taskId, role, arm: decision.arm, versionId: decision.versionId, canaryId: decision.canaryId, sticky: false };
      }
      seenInCall.set(taskId, result);
      routed.push(result);
    }
    // Load (and verify) every version's content before writing: a route that cannot return what
    // the agent needs must not leave assignments behind.
    // Both arms' versions are read and verified, whichever arms this call's tasks landed on.
    const contents = new Map<string, Version>();
    const serving = [roleState.stable, roleState.canary?.versionId, ...routed.map((r) => r.versionId)];
    for (const versionId of serving) if (versionId && !contents.has(versionId)) contents.set(versionId, await project.registry.get(versionId));
    await index.append(fresh);
    return routed.map((r) => {
      const version = contents.get(r.versionId)!;
      return { ...r, model: version.model, files: version.files };
    });
  });
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
 * Register the role's bundle on disk and apply SPEC routing rule 2. Returns the state after any
 * automatic transition. Call under the project lock.
 */
export async function syncRoleWithDisk(project: FileProject, role: string): Promise<CanaryState> {
  const config = await project.config();
  const state = await project.load();
  const roleState = state.roles[role];
  let bundle;
  try {
    bundle = await loadRoleBundle(join(project.paths.root, config.templates), role);
  } catch (error) {
    // A role whose folder is gone keeps serving its stable version from the registry.
    if (error instanceof BernsteinError && error.code === 'ROLE_NOT_FOUND' && roleState?.stable) return state;
    // A role never seen: name the setting the folder came from, not only the path.
    if (error instanceof BernsteinError && error.code === 'ROLE_NOT_FOUND') {
      throw new BernsteinError('ROLE_NOT_FOUND', `no role "${role}": no folder "${role}" in the templates folder ${describeTemplatesFolder(config, project.paths)}`, { role }, { cause: error });
    }
    throw error;
  }
  const { version } = await project.registry.register(bundle);
  // Routing acts on a bundle once: unchanged since last time means nothing to do.
  if (state.disk?.[role] === version.id && roleState?.stable) return state;
  const plan = planBundleChange(roleState, version.id, config);
  const requests: TransitionRequest[] = [];
  const transition = (t: Transition, reason: string) => requests.push({ transition: t, actor: 'auto', reason });
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
  if (deferred) return requests.length > 0 ? (await project.apply(requests)).state : state;
  return (await project.apply(requests, { observedDisk: { role, versionId: version.id } })).state;
}
