import type { AuditEvent, Canary, ProjectConfig } from '@bernstein/canary-router';
import {
  checkGuardrail,
  compileSettings,
  countsVerdict,
  decide,
  emptyArmStats,
  GUARDRAIL_METRICS,
  windowStats,
  type CompiledSettings,
  type Decision,
  type DecisionSettings,
  type EpochStats,
} from '@bernstein/quality-compare';
import { canaryAggregateKey, type AggregateState } from '../core/aggregate.js';
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
 * The comparison window: every epoch of the canary (evidence never restarts), with each epoch's
 * configured share. The one place evidence windows are derived (status, decisions and the report use it).
 */
export function canaryWindow(aggregates: Aggregates, canary: Canary): EpochStats[] {
  const recorded = aggregates.get(canaryAggregateKey(canary.id))?.epochs ?? {};
  return canary.epochs
    .map((e) => {
      const arms = recorded[String(e.epoch)];
      return { percentage: e.percentage, stable: arms?.stable ?? emptyArmStats(), canary: arms?.canary ?? emptyArmStats() };
    });
}

export function evaluateCanary(config: ProjectConfig, canary: Canary, aggregates: Aggregates): Decision {
  return decide(canaryWindow(aggregates, canary), decisionSettings(config, canary));
}

const compiledCache = new Map<string, CompiledSettings>();

/**
 * A cheap test that `evaluateCanary` could return something other than `continue`: the
 * pass-rate verdict on pooled counts, which `decide` itself uses. A full decision (intervals,
 * evidence, SRM, guardrails) costs about a millisecond; recording a large batch evaluates after
 * every outcome, so it only pays that when the verdict is not `continue` or a guardrail is breached.
 */
export function mightDecide(config: ProjectConfig, canary: Canary, aggregates: Aggregates): boolean {
  const settings = decisionSettings(config, canary);
  const key = JSON.stringify(settings);
  let compiled = compiledCache.get(key);
  if (!compiled) compiledCache.set(key, (compiled = compileSettings(settings)));
  const { stable, canary: arm } = windowStats(canaryWindow(aggregates, canary));
  // The same guardrail check `decide` runs first (a normal approximation: cheap).
  for (const metric of GUARDRAIL_METRICS) {
    const guardrail = settings.guardrails[metric];
    if (guardrail && checkGuardrail(metric, stable[metric], arm[metric], guardrail, settings.minCanaryTasks)?.breached) return true;
  }
  return countsVerdict(compiled, stable.passed, stable.tasks, arm.passed, arm.tasks).action !== 'continue';
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
  options: { role?: string; apply?: boolean } = {},
): Promise<{ evaluations: RoleEvaluation[]; warnings: string[]; timedOut: number; sweepTransitions: AuditEvent[] }> {
  // Tasks past outcome_timeout count as failed before anything is judged (decisions after them
  // are applied only with --apply, like every decision here).
  const sweep = await sweepTimeouts(rollout, { ...(options.role !== undefined ? { roles: [options.role] } : {}), apply: Boolean(options.apply) });
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
