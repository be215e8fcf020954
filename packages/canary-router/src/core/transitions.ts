import { randomBytes } from 'node:crypto';
import { BernsteinError, formatZodIssues, type ErrorCode } from '@bernstein/store';
import { ActorSchema, AUDIT_EVENT_VERSION, type Actor, type AuditEvent } from './audit-event.js';
import { CANARY_POLICIES, StepsSchema, type CanaryPolicy } from './config.js';
import {
  MAX_PREVIOUS_STABLES,
  isCanaryId,
  isVersionId,
  isAtFinalStep,
  nextStepPercentage,
  type Canary,
  type CanaryState,
  type RoleState,
} from './state.js';

/**
 * The canary lifecycle as pure functions over the routing state document. `applyTransition`
 * never mutates its input; it returns the next document (revision + 1) and the audit event to
 * append. Callers read-modify-write under the project lock.
 *
 * Exactly-once: transitions that act on a canary name it (`canaryId`) and may name the epoch the
 * decision was made at (`expectedEpoch`); transitions that move stable may name the stable they
 * expect (`expectedStable`). When the document no longer matches, the transition throws
 * BernsteinError('CONFLICT') and changes nothing: the racing process that got there first won,
 * and automatic callers treat CONFLICT as a no-op.
 *
 * Rejected versions (SPEC, Routing rule 4): with actor 'auto', starting or releasing a rejected
 * version is refused with CONFLICT. An explicit actor ('cli' / 'api') may do it, and that removes
 * the version from the rejected list.
 */

export type Transition =
  /** First time a role is seen: its bundle on disk becomes stable. */
  | { type: 'init'; role: string; versionId: string }
  /**
   * Start a canary. With `steps`, the canary starts at steps[0] (below 100); `percentage` may then
   * be omitted or must equal steps[0]. Without steps, `percentage` is required, in [0, 100)
   * (0: staged, no tasks until the percentage is raised). A canary at 100 % could never be
   * compared with stable: it is refused (promote instead).
   */
  | {
      type: 'start';
      role: string;
      versionId: string;
      percentage?: number;
      steps?: readonly number[];
      policy?: CanaryPolicy | null;
      expectedStable?: string | null;
    }
  /** Manual percentage change, 0 to below 100 (a new epoch; the evidence carries over). 100 is refused: promote instead. */
  | { type: 'set-percentage'; role: string; canaryId: string; percentage: number; expectedEpoch?: number }
  /** Advance the ramp to the next step (a new epoch; the evidence carries over). Invalid at the last step and before a step to 100 % (promote instead). */
  | { type: 'step'; role: string; canaryId: string; expectedEpoch: number }
  | { type: 'promote'; role: string; canaryId: string; expectedEpoch?: number }
  | { type: 'rollback'; role: string; canaryId: string; expectedEpoch?: number }
  /** Direct release (canary_percentage 0 and the bundle changed): becomes stable, no canary. */
  | { type: 'release'; role: string; versionId: string; expectedStable?: string | null }
  /** No canary running: stable reverts to the previous stable; the reverted-from version is rejected. */
  | { type: 'instant-rollback'; role: string; expectedStable?: string | null };

export type TransitionType = Transition['type'];

export interface TransitionContext {
  /** ISO timestamp of the transition. */
  now: string;
  actor: Actor;
  reason: string;
  /** The decision's evidence (counts, rates, intervals, rule), stored in the audit event. */
  evidence?: unknown;
  /** The id of a started canary (12 hex). Omitted: a random one (the only impure default). */
  newCanaryId?: string;
}

export interface TransitionResult {
  doc: CanaryState;
  event: AuditEvent;
}

/** A fresh random canary id: 12 lowercase hex chars. */
export function newCanaryId(): string {
  return randomBytes(6).toString('hex');
}

function fail(code: ErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new BernsteinError(code, message, details);
}

function getRole(doc: CanaryState, role: string): RoleState | undefined {
  return Object.hasOwn(doc.roles, role) ? doc.roles[role] : undefined;
}

function formatPct(value: number): string {
  return `${value} %`;
}

function checkVersionId(versionId: unknown, what = 'version id'): string {
  if (typeof versionId !== 'string' || !isVersionId(versionId)) {
    fail('INVALID_ARGUMENT', `invalid ${what} ${JSON.stringify(versionId)}: expected 12 lowercase hex chars`, { versionId });
  }
  return versionId;
}

/** 0-100. 0 is allowed at a start too: a staged canary that receives no tasks until raised. */
function checkPercentage(value: unknown): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && value <= 100 && value >= 0;
  if (!ok) fail('INVALID_ARGUMENT', `invalid percentage ${JSON.stringify(value)}: expected a number from 0 to 100`, { percentage: value });
  return value as number;
}

/**
 * A canary at 100 % sends no task to stable, so nothing could ever be compared: the judge would
 * never decide and no guardrail could fire. Refused, naming what to do instead.
 */
function refuseFullShare(percentage: number, role: string, doing: 'start' | 'set'): void {
  if (percentage < 100) return;
  const instead =
    doing === 'start'
      ? `start it below 100 (e.g. --percentage 20) or with a ramp (--steps 5,25,50,100), where reaching 100 % is the promotion; or release it directly with canary_percentage 0`
      : `promote it instead (\`bernstein config canary --promote --role ${role}\`)`;
  fail('INVALID_ARGUMENT', `a canary at 100 % leaves no stable tasks to compare it with, so it could never be judged: ${instead}`, { role, percentage });
}

/** A canary without the restart marker of earlier versions (evidence never restarts now). */
function withoutRestart(canary: Canary): Canary {
  const { evidenceFromEpoch: _ignored, ...rest } = canary;
  return rest;
}

function requireStableRole(doc: CanaryState, role: string, doing: string): RoleState & { stable: string } {
  const state = getRole(doc, role);
  if (!state || state.stable === null) {
    fail('ROLE_NOT_FOUND', `role "${role}" has no stable version yet, so it cannot ${doing}; route a task of the role first`, { role });
  }
  return state as RoleState & { stable: string };
}

function checkExpectedStable(state: RoleState, role: string, expectedStable: string | null | undefined): void {
  if (expectedStable !== undefined && state.stable !== expectedStable) {
    fail('CONFLICT', `role "${role}" changed meanwhile: stable is now ${state.stable ?? 'none'}, not ${expectedStable ?? 'none'}; nothing was done`, {
      role,
      expectedStable,
      stable: state.stable,
    });
  }
}

function describeCanary(role: string, canary: Canary): string {
  return `role "${role}" already has canary ${canary.id} of version ${canary.versionId} at ${formatPct(canary.percentage)}`;
}

function requireCanary(
  doc: CanaryState,
  role: string,
  canaryId: string,
  expectedEpoch: number | undefined,
): { state: RoleState; canary: Canary } {
  const state = getRole(doc, role);
  if (!state) fail('ROLE_NOT_FOUND', `role "${role}" is unknown: it has no routing state`, { role });
  const canary = state.canary;
  if (!canary) {
    fail('CONFLICT', `canary ${canaryId} of role "${role}" is no longer active (it was promoted or rolled back); nothing was done`, {
      role,
      canaryId,
      currentCanaryId: null,
    });
  }
  if (canary.id !== canaryId) {
    fail('CONFLICT', `canary ${canaryId} of role "${role}" is no longer active: the role's canary is now ${canary.id} (version ${canary.versionId}); nothing was done`, {
      role,
      canaryId,
      currentCanaryId: canary.id,
    });
  }
  if (expectedEpoch !== undefined && expectedEpoch !== canary.epoch) {
    fail(
      'CONFLICT',
      `canary ${canaryId} of role "${role}" changed since the decision: it is at epoch ${canary.epoch} (${formatPct(canary.percentage)}), not ${expectedEpoch}; nothing was done`,
      { role, canaryId, expectedEpoch, currentEpoch: canary.epoch },
    );
  }
  return { state, canary };
}

function pushPrevious(previous: readonly string[], versionId: string | null): string[] {
  const next = versionId === null ? [...previous] : [...previous, versionId];
  return next.length > MAX_PREVIOUS_STABLES ? next.slice(next.length - MAX_PREVIOUS_STABLES) : next;
}

function withoutVersion(list: readonly string[], versionId: string): string[] {
  return list.filter((v) => v !== versionId);
}

function withVersion(list: readonly string[], versionId: string): string[] {
  return list.includes(versionId) ? [...list] : [...list, versionId];
}

function stepIndexFor(steps: readonly number[], percentage: number): number {
  if (steps.length === 0) return -1;
  let index = 0;
  for (let i = 0; i < steps.length; i++) if (steps[i]! <= percentage) index = i;
  return index;
}

function checkContext(ctx: TransitionContext): void {
  if (typeof ctx.now !== 'string' || ctx.now === '') fail('INVALID_ARGUMENT', 'transition context: "now" must be a timestamp string');
  if (!ActorSchema.safeParse(ctx.actor).success) fail('INVALID_ARGUMENT', `transition context: invalid actor ${JSON.stringify(ctx.actor)} (auto, cli or api)`);
  if (typeof ctx.reason !== 'string') fail('INVALID_ARGUMENT', 'transition context: "reason" must be a string');
}

/**
 * Apply one transition. Throws BernsteinError (the document is then unchanged):
 * CONFLICT (stale canaryId / expectedEpoch / expectedStable, init of a known role, automatic use of
 * a rejected version), CANARY_EXISTS, NO_CANARY (instant rollback with nothing to revert to),
 * ROLE_NOT_FOUND, INVALID_ARGUMENT.
 */
export function applyTransition(doc: CanaryState, transition: Transition, ctx: TransitionContext): TransitionResult {
  checkContext(ctx);
  const role = transition.role;
  if (typeof role !== 'string' || role === '') fail('INVALID_ARGUMENT', `invalid role ${JSON.stringify(role)}`);
  const { now, actor } = ctx;
  const revision = doc.revision + 1;
  const base = { v: AUDIT_EVENT_VERSION, at: now, role, actor, reason: ctx.reason, evidence: ctx.evidence ?? null, revision } as const;

  // `lastEvents` belongs to the previous revision: the next document starts without it (a state
  // store that keeps it sets it to the events it applies).
  const { lastEvents: _previousEvents, ...rest } = doc;
  const commit = (state: RoleState, event: Omit<AuditEvent, keyof typeof base>): TransitionResult => ({
    doc: { ...rest, revision, roles: { ...doc.roles, [role]: { ...state, updatedAt: now } } },
    event: { ...base, ...event },
  });

  switch (transition.type) {
    case 'init': {
      const versionId = checkVersionId(transition.versionId);
      const existing = getRole(doc, role);
      if (existing && existing.stable !== null) {
        fail('CONFLICT', `role "${role}" is already initialised (stable ${existing.stable}); nothing was done`, { role, stable: existing.stable });
      }
      const state: RoleState = {
        stable: versionId,
        previousStables: existing ? [...existing.previousStables] : [],
        rejected: existing ? withoutVersion(existing.rejected, versionId) : [],
        canary: null,
        updatedAt: now,
      };
      return commit(state, { action: 'init', from: null, to: versionId, canaryId: null });
    }

    case 'start': {
      const state = requireStableRole(doc, role, 'start a canary');
      checkExpectedStable(state, role, transition.expectedStable);
      if (state.canary) {
        fail('CANARY_EXISTS', `${describeCanary(role, state.canary)}; promote or roll it back first`, {
          role,
          canaryId: state.canary.id,
          versionId: state.canary.versionId,
        });
      }
      const versionId = checkVersionId(transition.versionId);
      if (versionId === state.stable) {
        fail('INVALID_ARGUMENT', `version ${versionId} is already the stable version of role "${role}"; there is nothing to canary`, { role, versionId });
      }
      if (actor === 'auto' && state.rejected.includes(versionId)) {
        fail('CONFLICT', `version ${versionId} was rolled back on role "${role}" and is rejected; only an explicit command can canary it again`, {
          role,
          versionId,
        });
      }
      const stepsResult = StepsSchema.safeParse(transition.steps ?? []);
      if (!stepsResult.success) fail('INVALID_ARGUMENT', `invalid steps: ${formatZodIssues(stepsResult.error.issues, ['steps'])}`, { steps: transition.steps });
      const steps = stepsResult.data;
      let percentage: number;
      if (steps.length > 0) {
        const first = steps[0]!;
        if (transition.percentage !== undefined && transition.percentage !== first) {
          fail('INVALID_ARGUMENT', `percentage ${transition.percentage} does not match the first step ${first}; omit the percentage or pass ${first}`, {
            percentage: transition.percentage,
            steps,
          });
        }
        percentage = first;
      } else {
        if (transition.percentage === undefined) fail('INVALID_ARGUMENT', 'a canary needs a percentage (or steps)');
        percentage = checkPercentage(transition.percentage);
      }
      refuseFullShare(percentage, role, 'start');
      const policy = transition.policy ?? null;
      if (policy !== null && !(CANARY_POLICIES as readonly string[]).includes(policy)) {
        fail('INVALID_ARGUMENT', `invalid policy ${JSON.stringify(policy)}: expected ${CANARY_POLICIES.join(' or ')}`);
      }
      const id = ctx.newCanaryId ?? newCanaryId();
      if (!isCanaryId(id)) fail('INVALID_ARGUMENT', `invalid canary id ${JSON.stringify(id)}: expected 12 lowercase hex chars`);
      const canary: Canary = {
        id,
        versionId,
        baseVersionId: state.stable,
        percentage,
        steps: [...steps],
        stepIndex: steps.length > 0 ? 0 : -1,
        epoch: 0,
        epochs: [{ epoch: 0, percentage, startedAt: now }],
        policy,
        startedAt: now,
        startedBy: actor,
      };
      return commit(
        { ...state, rejected: withoutVersion(state.rejected, versionId), canary },
        { action: 'start', from: state.stable, to: versionId, canaryId: id, percentage },
      );
    }

    case 'set-percentage': {
      const { state, canary } = requireCanary(doc, role, transition.canaryId, transition.expectedEpoch);
      const percentage = checkPercentage(transition.percentage);
      refuseFullShare(percentage, role, 'set');
      const changed = percentage !== canary.percentage;
      const epoch = changed ? canary.epoch + 1 : canary.epoch;
      const next: Canary = changed
        ? {
            ...withoutRestart(canary),
            percentage,
            stepIndex: stepIndexFor(canary.steps, percentage),
            epoch,
            epochs: [...canary.epochs, { epoch, percentage, startedAt: now }],
          }
        : canary;
      return commit(
        { ...state, canary: next },
        {
          action: 'percentage',
          from: canary.versionId,
          to: canary.versionId,
          canaryId: canary.id,
          percentage,
          fromPercentage: canary.percentage,
          toPercentage: percentage,
        },
      );
    }

    case 'step': {
      if (typeof transition.expectedEpoch !== 'number') fail('INVALID_ARGUMENT', 'a step names the epoch its decision was made at (expectedEpoch)');
      const { state, canary } = requireCanary(doc, role, transition.canaryId, transition.expectedEpoch);
      if (canary.steps.length === 0) fail('INVALID_ARGUMENT', `canary ${canary.id} of role "${role}" has no steps to advance; promote it instead`, { role, canaryId: canary.id });
      const percentage = nextStepPercentage(canary);
      if (percentage === null || isAtFinalStep(canary)) {
        const why = percentage === null ? `is at its last step (${formatPct(canary.percentage)})` : `would step to ${formatPct(percentage)}, and reaching 100 % is the promotion`;
        fail('INVALID_ARGUMENT', `canary ${canary.id} of role "${role}" ${why}; promote it instead`, { role, canaryId: canary.id });
      }
      const epoch = canary.epoch + 1;
      // A new epoch; the evidence of the earlier ones carries over (compared within each epoch).
      const next: Canary = {
        ...withoutRestart(canary),
        percentage,
        stepIndex: canary.steps.indexOf(percentage),
        epoch,
        epochs: [...canary.epochs, { epoch, percentage, startedAt: now }],
      };
      return commit(
        { ...state, canary: next },
        { action: 'step', from: canary.versionId, to: canary.versionId, canaryId: canary.id, percentage, fromPercentage: canary.percentage, toPercentage: percentage },
      );
    }

    case 'promote': {
      const { state, canary } = requireCanary(doc, role, transition.canaryId, transition.expectedEpoch);
      return commit(
        {
          ...state,
          stable: canary.versionId,
          previousStables: pushPrevious(state.previousStables, state.stable),
          rejected: withoutVersion(state.rejected, canary.versionId),
          canary: null,
        },
        { action: 'promote', from: state.stable, to: canary.versionId, canaryId: canary.id, percentage: canary.percentage },
      );
    }

    case 'rollback': {
      const { state, canary } = requireCanary(doc, role, transition.canaryId, transition.expectedEpoch);
      return commit(
        { ...state, rejected: withVersion(state.rejected, canary.versionId), canary: null },
        { action: 'rollback', from: canary.versionId, to: state.stable, canaryId: canary.id, percentage: canary.percentage },
      );
    }

    case 'release': {
      const state = requireStableRole(doc, role, 'release a version (use init for a new role)');
      checkExpectedStable(state, role, transition.expectedStable);
      if (state.canary) {
        fail('CANARY_EXISTS', `${describeCanary(role, state.canary)}; promote or roll it back before releasing another version`, {
          role,
          canaryId: state.canary.id,
        });
      }
      const versionId = checkVersionId(transition.versionId);
      if (versionId === state.stable) fail('INVALID_ARGUMENT', `version ${versionId} is already the stable version of role "${role}"`, { role, versionId });
      if (actor === 'auto' && state.rejected.includes(versionId)) {
        fail('CONFLICT', `version ${versionId} was rolled back on role "${role}" and is rejected; it is not released automatically`, { role, versionId });
      }
      return commit(
        {
          ...state,
          stable: versionId,
          previousStables: pushPrevious(state.previousStables, state.stable),
          rejected: withoutVersion(state.rejected, versionId),
        },
        { action: 'release', from: state.stable, to: versionId, canaryId: null },
      );
    }

    case 'instant-rollback': {
      const state = requireStableRole(doc, role, 'be rolled back');
      checkExpectedStable(state, role, transition.expectedStable);
      if (state.canary) {
        fail('CANARY_EXISTS', `role "${role}" has an active canary ${state.canary.id} (version ${state.canary.versionId}); roll back the canary instead`, {
          role,
          canaryId: state.canary.id,
        });
      }
      const current = state.stable;
      const rejected = withVersion(state.rejected, current);
      // The most recent earlier stable that is neither the current one nor rejected; entries
      // skipped on the way are dropped from the history.
      let index = state.previousStables.length - 1;
      while (index >= 0 && rejected.includes(state.previousStables[index]!)) index--;
      if (index < 0) {
        fail('NO_CANARY', `role "${role}" has no active canary and no previous stable version to roll back to (stable is ${current})`, { role, stable: current });
      }
      const target = state.previousStables[index]!;
      return commit(
        { ...state, stable: target, previousStables: state.previousStables.slice(0, index), rejected },
        { action: 'instant-rollback', from: current, to: target, canaryId: null },
      );
    }

    default: {
      const unknown: never = transition;
      return fail('INVALID_ARGUMENT', `unknown transition ${JSON.stringify((unknown as { type?: unknown }).type)}`);
    }
  }
}

/** One human-readable line for an audit event (alerts' `text`, stderr). */
export function describeAuditEvent(event: AuditEvent): string {
  const reason = event.reason ? `: ${event.reason}` : '';
  const at = event.percentage !== undefined ? ` at ${formatPct(event.percentage)}` : '';
  switch (event.action) {
    case 'init':
      return `role ${event.role}: version ${event.to} is stable (first seen)${reason}`;
    case 'start':
      return `role ${event.role}: canary ${event.canaryId} of version ${event.to} started${at} against stable ${event.from}${reason}`;
    case 'percentage':
      return `role ${event.role}: canary ${event.canaryId} moved from ${formatPct(event.fromPercentage ?? 0)} to ${formatPct(event.toPercentage ?? 0)}${reason}`;
    case 'step':
      return `role ${event.role}: canary ${event.canaryId} stepped from ${formatPct(event.fromPercentage ?? 0)} to ${formatPct(event.toPercentage ?? 0)}${reason}`;
    case 'promote':
      return `role ${event.role}: canary ${event.canaryId} promoted; version ${event.to} replaces ${event.from} as stable${reason}`;
    case 'rollback':
      return `role ${event.role}: canary ${event.canaryId} of version ${event.from} rolled back${at}; stable ${event.to} serves all tasks${reason}`;
    case 'release':
      return `role ${event.role}: version ${event.to} released directly, replacing ${event.from}${reason}`;
    case 'instant-rollback':
      return `role ${event.role}: stable rolled back from ${event.from} to ${event.to}${reason}`;
    case 'alert-delivered':
      return `role ${event.role}: alert delivered${reason}`;
    case 'alert-failed':
      return `role ${event.role}: alert not delivered${reason}`;
  }
}
