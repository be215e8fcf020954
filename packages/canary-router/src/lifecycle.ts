import { join } from 'node:path';
import { BernsteinError } from '@bernstein/store';
import { loadRoleBundle, withModel, type VersionSummary } from '@bernstein/prompt-versions';
import { isAtFinalStep, type Actor, type AuditEvent, type CanaryPolicy, type CanaryState, type RoleState } from './core.js';
import type { FileProject } from './project.js';
import { syncRoleWithDisk } from './router.js';

export interface StartOptions {
  percentage?: number;
  steps?: readonly number[];
  policy?: CanaryPolicy;
  actor?: Actor;
  reason?: string;
}

export interface LifecycleResult {
  /** The transitions applied (empty for a no-op). */
  events: AuditEvent[];
  state: CanaryState;
}

/** Make sure a role has a stable version (first sight of its bundle on disk) before a canary. */
async function ensureRole(project: FileProject, role: string): Promise<RoleState> {
  const state = await project.load();
  const existing = state.roles[role];
  if (existing?.stable) return existing;
  const synced = await syncRoleWithDisk(project, role);
  const roleState = synced.roles[role];
  if (!roleState?.stable) throw new BernsteinError('ROLE_NOT_FOUND', `role "${role}" has no stable version yet`, { role });
  return roleState;
}

/** `config canary --prompt-version <id> --percentage <n>`: canary a registered version. */
export async function startCanaryOfVersion(project: FileProject, versionRef: string, options: StartOptions): Promise<LifecycleResult> {
  return project.transaction(async () => {
    const version = await project.registry.resolve(versionRef);
    await ensureRole(project, version.role);
    return start(project, version, options);
  });
}

/**
 * `config canary --role R --percentage <n>`: canary the role's bundle on disk, or change the
 * percentage of its running canary. With `model`, canary the stable bundle with that model.
 */
export async function canaryRole(project: FileProject, role: string, options: StartOptions & { model?: string }): Promise<LifecycleResult> {
  return project.transaction(async () => {
    const roleState = await ensureRole(project, role);
    if (roleState.canary && options.model === undefined) {
      if (options.percentage === undefined) throw new BernsteinError('INVALID_ARGUMENT', 'give --percentage to change the running canary');
      if (options.steps !== undefined || options.policy !== undefined) {
        throw new BernsteinError('CANARY_EXISTS', `role "${role}" already has canary ${roleState.canary.id}; --steps and --policy apply only when a canary starts`);
      }
      return project.apply([
        {
          transition: { type: 'set-percentage', role, canaryId: roleState.canary.id, percentage: options.percentage },
          actor: options.actor ?? 'cli',
          reason: options.reason ?? `percentage changed from ${roleState.canary.percentage} % to ${options.percentage} %`,
        },
      ]);
    }
    let version: VersionSummary;
    if (options.model !== undefined) {
      const stable = await project.registry.get(roleState.stable!);
      const changed = withModel({ role, files: stable.files, model: stable.model }, options.model);
      version = (await project.registry.register(changed, { kind: 'model-override', baseVersionId: stable.id, model: options.model })).version;
      if (version.id === roleState.stable) {
        throw new BernsteinError('INVALID_ARGUMENT', `role "${role}" already runs model "${options.model}" on its stable version ${roleState.stable}`);
      }
    } else {
      const config = await project.config();
      const bundle = await loadRoleBundle(join(project.paths.root, config.templates), role);
      version = (await project.registry.register(bundle)).version;
      if (version.id === roleState.stable) {
        throw new BernsteinError(
          'INVALID_ARGUMENT',
          `role "${role}": the bundle on disk is the stable version ${version.id}; edit its templates, or use --model or --prompt-version`,
        );
      }
    }
    return start(project, version, options);
  });
}

async function start(project: FileProject, version: VersionSummary, options: StartOptions): Promise<LifecycleResult> {
  const config = await project.config();
  const steps = options.steps ?? [];
  const where = steps.length > 0 ? `steps ${steps.join(', ')}` : `${options.percentage} %`;
  return project.apply([
    {
      transition: {
        type: 'start',
        role: version.role,
        versionId: version.id,
        ...(options.percentage !== undefined ? { percentage: options.percentage } : {}),
        ...(steps.length > 0 ? { steps } : {}),
        policy: options.policy ?? null,
      },
      actor: options.actor ?? 'cli',
      reason: options.reason ?? `canary of ${version.id} started at ${where} (policy ${options.policy ?? config.canary.policy})`,
    },
  ]);
}

/** The role of the only active canary, or of `role` when given. */
export function pickCanaryRole(state: CanaryState, role: string | undefined, verb: string): string {
  if (role !== undefined) return role;
  const active = Object.entries(state.roles).filter(([, r]) => r.canary !== null);
  if (active.length === 1) return active[0]![0];
  if (active.length === 0) {
    throw new BernsteinError('NO_CANARY', `no canary is active; nothing to ${verb}${verb === 'roll back' ? ' (give --role R to revert R to its previous stable version)' : ''}`);
  }
  throw new BernsteinError(
    'INVALID_ARGUMENT',
    `${active.length} canaries are active (${active.map(([name, r]) => `${name}: ${r.canary!.id}`).join(', ')}); give --role`,
  );
}

/** `config canary --promote`: the canary becomes stable now, whatever its step. */
export async function promoteCanary(project: FileProject, options: { role?: string; reason?: string; actor?: Actor } = {}): Promise<LifecycleResult> {
  return project.transaction(async () => {
    const state = await project.load();
    const role = pickCanaryRole(state, options.role, 'promote');
    const canary = state.roles[role]?.canary;
    if (!canary) throw new BernsteinError('NO_CANARY', `role "${role}" has no active canary to promote`, { role });
    return project.apply([
      {
        transition: { type: 'promote', role, canaryId: canary.id },
        actor: options.actor ?? 'cli',
        reason: options.reason ?? `promoted by hand at ${canary.percentage} %`,
      },
    ]);
  });
}

/**
 * `config canary --rollback`: roll back the running canary (its version becomes rejected), or,
 * with no canary on the role, revert stable to the previous stable (instant rollback).
 */
export async function rollbackCanary(project: FileProject, options: { role?: string; reason?: string; actor?: Actor } = {}): Promise<LifecycleResult> {
  return project.transaction(async () => {
    const state = await project.load();
    const role = pickCanaryRole(state, options.role, 'roll back');
    const roleState = state.roles[role];
    if (!roleState) throw new BernsteinError('ROLE_NOT_FOUND', `role "${role}" has no routing state yet`, { role });
    const actor = options.actor ?? 'cli';
    if (roleState.canary) {
      return project.apply([
        {
          transition: { type: 'rollback', role, canaryId: roleState.canary.id },
          actor,
          reason: options.reason ?? `rolled back by hand at ${roleState.canary.percentage} %`,
        },
      ]);
    }
    return project.apply([
      {
        transition: { type: 'instant-rollback', role, expectedStable: roleState.stable },
        actor,
        reason: options.reason ?? `instant rollback of ${roleState.stable} to the previous stable`,
      },
    ]);
  });
}

/** A decision computed outside the router (e.g. by @bernstein/quality-compare). */
export interface AutomaticDecision {
  role: string;
  canaryId: string;
  /** The canary epoch the evidence belongs to. */
  epoch: number;
  action: 'promote' | 'rollback';
  reason: string;
  evidence: unknown;
}

/**
 * Apply an automatic decision exactly once. A promote at a non-final step advances the ramp. If
 * the canary moved on meanwhile (another process applied a decision, or someone changed it by
 * hand), nothing happens and `events` is empty.
 */
export async function applyAutomaticDecision(project: FileProject, decision: AutomaticDecision): Promise<LifecycleResult> {
  return project.transaction(async () => {
    const state = await project.load();
    const canary = state.roles[decision.role]?.canary;
    if (!canary || canary.id !== decision.canaryId || canary.epoch !== decision.epoch) return { events: [], state };
    const base = { role: decision.role, canaryId: canary.id, expectedEpoch: canary.epoch };
    const transition =
      decision.action === 'rollback'
        ? ({ type: 'rollback', ...base } as const)
        : isAtFinalStep(canary)
          ? ({ type: 'promote', ...base } as const)
          : ({ type: 'step', ...base } as const);
    try {
      return await project.apply([{ transition, actor: 'auto', reason: decision.reason, evidence: decision.evidence }]);
    } catch (error) {
      if (error instanceof BernsteinError && error.code === 'CONFLICT') return { events: [], state: await project.load() };
      throw error;
    }
  });
}
