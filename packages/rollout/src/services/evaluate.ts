import type { AuditEvent, Canary, ProjectConfig } from '@bernstein/canary-router';
import { compileSettings, decide, evidenceVerdict, prepareEvidence, type CompiledSettings, type Decision, type DecisionSettings, type EpochConfig } from '@bernstein/quality-compare';
import { canaryAggregateKey, evidenceOf, type AggregateState } from '../core/aggregate.js';
import type { AuditEvidence } from '../core/evidence.js';
import type { Rollout } from '../rollout.js';
import { applyAutomaticDecision } from './lifecycle.js';
import { sweepTimeouts } from './timeouts.js';

/** Aggregates by key, as the store returns them. */
export type Aggregates = ReadonlyMap<string, AggregateState>;

/** The decision settings for a canary: the project config, with the canary's own policy if it has one. */
export function decisionSettings(config: ProjectConfig, canary: Pick<Canary, 'policy'>): DecisionSettings {
  return {
    policy: canary.policy ?? config.canary.policy,
    minCanaryTasks: config.canary.minCanaryTasks,
    rollbackMargin: config.canary.rollbackMargin,
    // The config's guardrails are the judge's Guardrail settings (one definition).
    guardrails: config.canary.guardrails,
  };
}

/**
 * Every epoch of the canary with its configured share: evidence never restarts, each epoch is
 * compared within itself and the epochs combined (the judge's `decide`). The one place the epochs
 * a decision sees are derived (status, decisions and the report use it).
 */
export function canaryEpochs(canary: Pick<Canary, 'epochs'>): EpochConfig[] {
  return canary.epochs.map((e) => ({ epoch: e.epoch, percentage: e.percentage }));
}

export function evaluateCanary(config: ProjectConfig, canary: Canary, aggregates: Aggregates): Decision {
  return decide(evidenceOf(aggregates.get(canaryAggregateKey(canary.id))), canaryEpochs(canary), decisionSettings(config, canary), { currentEpoch: canary.epoch });
}

const compiledCache = new Map<string, CompiledSettings>();

/**
 * A cheap test that `evaluateCanary` could return something other than `continue`: the judge's
 * verdict alone (`evidenceVerdict`, which `decide` itself uses), without the evidence and the
 * sentence `decide` builds around it. Recording a large batch evaluates after every outcome, so
 * the full decision is only made when the verdict is not `continue`.
 */
export function mightDecide(config: ProjectConfig, canary: Canary, aggregates: Aggregates): boolean {
  const settings = decisionSettings(config, canary);
  const key = JSON.stringify(settings);
  let compiled = compiledCache.get(key);
  if (!compiled) compiledCache.set(key, (compiled = compileSettings(settings)));
  const prepared = prepareEvidence(evidenceOf(aggregates.get(canaryAggregateKey(canary.id))), canaryEpochs(canary), { currentEpoch: canary.epoch });
  return evidenceVerdict(compiled, prepared).action !== 'continue';
}

export interface RoleEvaluation {
  role: string;
  canaryId: string;
  versionId: string;
  decision: Decision;
  /** Transitions applied because of this decision (empty unless applied and not a no-op). */
  applied: AuditEvent[];
}

/** What an automatic decision stores as evidence: the judge's evidence plus the rule that fired. */
export function decisionEvidence(decision: Decision): AuditEvidence {
  return { ...decision.evidence, rule: decision.rule };
}

/**
 * `canary evaluate`: decide now for every role with a canary (or one role), without recording.
 * With `apply`, promote / step / roll back exactly once (one unit of work per role).
 */
export async function evaluateCanaries(
  rollout: Rollout,
  options: { role?: string; apply?: boolean; sweep?: boolean } = {},
): Promise<{ evaluations: RoleEvaluation[]; warnings: string[]; timedOut: number; sweepTransitions: AuditEvent[] }> {
  // Tasks past outcome_timeout count as failed before anything is judged (decisions after them
  // are applied only with --apply, like every decision here). `sweep: false`: a read only (the report).
  const sweep =
    options.sweep === false
      ? { timedOut: 0, transitions: [] }
      : await sweepTimeouts(rollout, { ...(options.role !== undefined ? { roles: [options.role] } : {}), apply: Boolean(options.apply) });
  const config = await rollout.config();
  const state = await rollout.store.loadState();
  const { aggregates, warnings } = await rollout.store.aggregates();
  const evaluations: RoleEvaluation[] = [];
  for (const [role, roleState] of Object.entries(state.roles).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (options.role !== undefined && role !== options.role) continue;
    const canary = roleState.canary;
    if (!canary) continue;
    let decision = evaluateCanary(config, canary, aggregates);
    let applied: AuditEvent[] = [];
    if (options.apply && decision.action !== 'continue') {
      // Decide again on what the unit of work sees (an outcome may have landed meanwhile), and apply that.
      const result = await rollout.store.transaction({ roles: [role] }, async (tx) => {
        const current = (await tx.loadState()).roles[role]?.canary;
        if (!current || current.id !== canary.id || current.epoch !== canary.epoch) return { decision, events: [] as AuditEvent[] };
        const fresh = evaluateCanary(config, current, (await tx.aggregates([canaryAggregateKey(current.id)])).aggregates);
        if (fresh.action === 'continue') return { decision: fresh, events: [] as AuditEvent[] };
        const done = await applyAutomaticDecision(rollout, tx, { role, canaryId: current.id, epoch: current.epoch, action: fresh.action, reason: fresh.reason, evidence: decisionEvidence(fresh) });
        return { decision: fresh, events: done.events };
      });
      decision = result.decision;
      applied = result.events;
    }
    evaluations.push({ role, canaryId: canary.id, versionId: canary.versionId, decision, applied });
  }
  if (evaluations.some((e) => e.applied.length > 0)) rollout.alerts.kick();
  return { evaluations, warnings, timedOut: sweep.timedOut, sweepTransitions: sweep.transitions };
}
