import { BernsteinError } from '@bernstein/store';
import { assertRoleName, hashBundle, loadRoleBundle, withModel, type RoleBundle, type VersionOrigin } from '@bernstein/prompt-versions';
import { applyTransition, isAtFinalStep, type Actor, type AuditEvent, type CanaryPolicy, type CanaryState, type ProjectConfig, type Transition } from '@bernstein/canary-router';
import type { AppliedTransitions, StoreTransaction } from '../port.js';
import type { Rollout } from '../rollout.js';

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

/** Run a transition-writing unit of work scoped to `role`, then start delivering its alerts. */
async function withRole<T extends LifecycleResult | AppliedTransitions>(rollout: Rollout, role: string, fn: (tx: StoreTransaction) => Promise<T>): Promise<LifecycleResult> {
  const result = await rollout.store.transaction({ roles: [role] }, fn);
  if (result.events.length > 0) rollout.alerts.kick();
  return { events: result.events, state: result.state };
}

/**
 * Run transitions on a copy of the state, without writing: throws exactly what `apply` would,
 * so a command can refuse bad input before it registers anything (a failed command changes nothing).
 */
function dryRun(state: CanaryState, transitions: readonly Transition[]): void {
  let doc = state;
  for (const transition of transitions) {
    doc = applyTransition(doc, transition, { now: new Date(0).toISOString(), actor: 'cli', reason: 'dry run', newCanaryId: '000000000000' }).doc;
  }
}

function startTransition(role: string, versionId: string, options: StartOptions): Transition {
  const steps = options.steps ?? [];
  return {
    type: 'start',
    role,
    versionId,
    ...(options.percentage !== undefined ? { percentage: options.percentage } : {}),
    ...(steps.length > 0 ? { steps } : {}),
    policy: options.policy ?? null,
  };
}

function startReason(versionId: string, options: StartOptions, config: ProjectConfig): string {
  const steps = options.steps ?? [];
  const where = steps.length > 0 ? `steps ${steps.join(', ')}` : `${options.percentage} %`;
  return options.reason ?? `canary of ${versionId} started at ${where} (policy ${options.policy ?? config.canary.policy})`;
}

/**
 * Start a canary of `candidate` on `role`. A role never routed before is first initialised from
 * its bundle on disk. Everything is validated before the first write.
 */
async function startCanary(
  rollout: Rollout,
  tx: StoreTransaction,
  role: string,
  candidate: { bundle: RoleBundle; origin?: VersionOrigin } | { versionId: string },
  options: StartOptions,
): Promise<AppliedTransitions> {
  const config = await rollout.config();
  // Validate (and repair) the audit log before the first write, not after registering.
  const state = await tx.loadState();
  const roleState = state.roles[role];
  const disk = roleState?.stable ? null : await loadRoleBundle(await rollout.templatesDir(), role);
  const stableId = roleState?.stable ?? hashBundle(disk!).id;
  const candidateId = 'versionId' in candidate ? candidate.versionId : hashBundle(candidate.bundle).id;
  if (candidateId === stableId) {
    throw new BernsteinError('INVALID_ARGUMENT', `version ${candidateId} is already the stable version of role "${role}"; nothing to canary`, { role });
  }
  const transitions: Transition[] = [];
  if (!roleState?.stable) transitions.push({ type: 'init', role, versionId: stableId });
  transitions.push(startTransition(role, candidateId, options));
  dryRun(state, transitions);

  if (disk) await tx.registerVersion(disk);
  if (!('versionId' in candidate)) await tx.registerVersion(candidate.bundle, candidate.origin);
  const actor = options.actor ?? 'cli';
  return tx.applyTransitions(
    transitions.map((transition) =>
      rollout.request(
        transition,
        transition.type === 'init' ? 'auto' : actor,
        transition.type === 'init' ? `first time role "${role}" was seen: its bundle on disk becomes stable` : startReason(candidateId, options, config),
      ),
    ),
    disk ? { observedDisk: { role, versionId: stableId } } : {},
  );
}

/** `config canary --prompt-version <id> --percentage <n>`: canary a registered version. */
export async function startCanaryOfVersion(rollout: Rollout, versionRef: string, options: StartOptions): Promise<LifecycleResult> {
  const version = await rollout.store.resolveVersion(versionRef);
  return withRole(rollout, version.role, (tx) => startCanary(rollout, tx, version.role, { versionId: version.id }, options));
}

/**
 * `config canary --role R --percentage <n>`: canary the role's bundle on disk, or change the
 * percentage of its running canary. With `model`, canary the stable bundle with that model.
 */
export async function canaryRole(rollout: Rollout, role: string, options: StartOptions & { model?: string }): Promise<LifecycleResult> {
  assertRoleName(role);
  return withRole(rollout, role, async (tx) => {
    const state = await tx.loadState();
    const roleState = state.roles[role];
    if (roleState?.canary) {
      if (options.model !== undefined || options.steps !== undefined || options.policy !== undefined) {
        throw new BernsteinError(
          'CANARY_EXISTS',
          `role "${role}" already has canary ${roleState.canary.id} of version ${roleState.canary.versionId} at ${roleState.canary.percentage} %; promote or roll it back first (only --percentage can change a running canary)`,
          { role },
        );
      }
      if (options.percentage === undefined) throw new BernsteinError('INVALID_ARGUMENT', 'give --percentage to change the running canary');
      return tx.applyTransitions([
        rollout.request(
          { type: 'set-percentage', role, canaryId: roleState.canary.id, percentage: options.percentage },
          options.actor ?? 'cli',
          options.reason ?? `percentage changed from ${roleState.canary.percentage} % to ${options.percentage} %`,
        ),
      ]);
    }
    const templates = await rollout.templatesDir();
    if (options.model !== undefined) {
      const base = roleState?.stable ? await tx.getVersion(roleState.stable) : await loadRoleBundle(templates, role);
      const baseId = roleState?.stable ?? hashBundle(base).id;
      const bundle = withModel({ role, files: base.files, model: base.model }, options.model);
      if (hashBundle(bundle).id === baseId) {
        throw new BernsteinError('INVALID_ARGUMENT', `role "${role}" already runs model "${options.model}" on its stable version ${baseId}`, { role });
      }
      return startCanary(rollout, tx, role, { bundle, origin: { kind: 'model-override', baseVersionId: baseId, model: options.model } }, options);
    }
    const bundle = await loadRoleBundle(templates, role);
    if (!roleState?.stable) {
      throw new BernsteinError(
        'INVALID_ARGUMENT',
        `role "${role}" has never been routed, so its bundle on disk (${hashBundle(bundle).id}) would become stable: nothing to canary yet; route a task first, or use --model or --prompt-version`,
        { role },
      );
    }
    if (hashBundle(bundle).id === roleState.stable) {
      throw new BernsteinError(
        'INVALID_ARGUMENT',
        `role "${role}": the bundle on disk is the stable version ${roleState.stable}; edit its templates, or use --model or --prompt-version`,
        { role },
      );
    }
    return startCanary(rollout, tx, role, { bundle }, options);
  });
}

/**
 * A manual command acts on the state its user saw. If another process changed the role while
 * this one waited for the lock (two operators, or an automatic decision), acting anyway could
 * apply a second transition nobody meant (a rollback turning into an instant rollback): refuse
 * with CONFLICT instead, so racing commands yield exactly one transition.
 */
function assertUnchanged(seen: CanaryState, now: CanaryState, role: string, issuedAt: Date | undefined): void {
  const before = seen.roles[role];
  const after = now.roles[role];
  const changedSinceIssued = issuedAt !== undefined && after !== undefined && Date.parse(after.updatedAt) >= issuedAt.getTime();
  if (!changedSinceIssued && JSON.stringify(before ?? null) === JSON.stringify(after ?? null)) return;
  const what = after?.canary ? `canary ${after.canary.id} at ${after.canary.percentage} %` : 'no canary';
  throw new BernsteinError(
    'CONFLICT',
    `role "${role}" changed while this command waited (now stable ${after?.stable ?? 'none'}, ${what}); nothing was done: check \`bernstein canary status\` and retry`,
    { role },
  );
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

export interface ManualOptions {
  role?: string;
  reason?: string;
  actor?: Actor;
  /**
   * When the user issued the command (the CLI passes its process start). A role changed after
   * that by someone else makes the command a CONFLICT rather than act on a state nobody saw.
   */
  issuedAt?: Date;
}

/** `config canary --promote`: the canary becomes stable now, whatever its step. */
export async function promoteCanary(rollout: Rollout, options: ManualOptions = {}): Promise<LifecycleResult> {
  const seen = await rollout.store.loadState();
  const role = pickCanaryRole(seen, options.role, 'promote');
  return withRole(rollout, role, async (tx) => {
    const state = await tx.loadState();
    assertUnchanged(seen, state, role, options.issuedAt);
    const canary = state.roles[role]?.canary;
    if (!canary) throw new BernsteinError('NO_CANARY', `role "${role}" has no active canary to promote`, { role });
    return tx.applyTransitions([rollout.request({ type: 'promote', role, canaryId: canary.id }, options.actor ?? 'cli', options.reason ?? `promoted by hand at ${canary.percentage} %`)]);
  });
}

/**
 * `config canary --rollback`: roll back the running canary (its version becomes rejected), or,
 * with no canary on the role, revert stable to the previous stable (instant rollback).
 */
export async function rollbackCanary(rollout: Rollout, options: ManualOptions = {}): Promise<LifecycleResult> {
  const seen = await rollout.store.loadState();
  const role = pickCanaryRole(seen, options.role, 'roll back');
  return withRole(rollout, role, async (tx) => {
    const state = await tx.loadState();
    assertUnchanged(seen, state, role, options.issuedAt);
    const roleState = state.roles[role];
    if (!roleState) throw new BernsteinError('ROLE_NOT_FOUND', `role "${role}" has no routing state yet`, { role });
    const actor = options.actor ?? 'cli';
    if (roleState.canary) {
      return tx.applyTransitions([
        rollout.request({ type: 'rollback', role, canaryId: roleState.canary.id }, actor, options.reason ?? `rolled back by hand at ${roleState.canary.percentage} %`),
      ]);
    }
    return tx.applyTransitions([
      rollout.request({ type: 'instant-rollback', role, expectedStable: roleState.stable }, actor, options.reason ?? `instant rollback of ${roleState.stable} to the previous stable`),
    ]);
  });
}

/** A decision of the judge (@bernstein/quality-compare), to apply. */
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
 * Apply an automatic decision exactly once, inside `tx` (scoped to the decision's role). A promote at a non-final step advances the ramp. If
 * the canary moved on meanwhile (another process applied a decision, or someone changed it by
 * hand), nothing happens and `events` is empty.
 */
export async function applyAutomaticDecision(rollout: Rollout, tx: StoreTransaction, decision: AutomaticDecision): Promise<LifecycleResult> {
  const state = await tx.loadState();
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
    const applied = await tx.applyTransitions([rollout.request(transition, 'auto', decision.reason, decision.evidence)]);
    return { events: applied.events, state: applied.state };
  } catch (error) {
    if (error instanceof BernsteinError && error.code === 'CONFLICT') return { events: [], state: await tx.loadState() };
    throw error;
  }
}
