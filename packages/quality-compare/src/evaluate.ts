import { applyAutomaticDecision, type Canary, type FileProject, type ProjectConfig, type AuditEvent } from '@bernstein/canary-router';
import { currentAggregates, type Aggregates } from './aggregates.js';
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
} from './core.js';

/** The decision settings for a canary: the project config, with the canary's own policy if it has one. */
export function decisionSettings(config: ProjectConfig, canary: Pick<Canary, 'policy'>): DecisionSettings {
  const { guardrails } = config.canary;
  return {
    policy: canary.policy ?? config.canary.policy,
    minCanaryTasks: config.canary.minCanaryTasks,
    rollbackMargin: config.canary.rollbackMargin,
    guardrails: {
      costUsd: guardrails.costUsd ? { maxIncrease: guardrails.costUsd.maxIncrease } : null,
      durationMs: guardrails.durationMs ? { maxIncrease: guardrails.durationMs.maxIncrease } : null,
    },
  };
}

/** The comparison window: epochs since evidence last restarted, with each epoch's configured share. */
export function canaryWindow(aggregates: Aggregates, canary: Canary): EpochStats[] {
  const recorded = aggregates.canaries[canary.id]?.epochs ?? {};
  return canary.epochs
    .filter((e) => e.epoch >= canary.evidenceFromEpoch)
    .map((e) => {
      const arms = recorded[String(e.epoch)];
      return { percentage: e.percentage, stable: arms?.stable ?? emptyArmStats(), canary: arms?.canary ?? emptyArmStats() };
    });
}

export function evaluateCanary(config: ProjectConfig, canary: Canary, aggregates: Aggregates): Decision {
  return decide(canaryWindow(aggregates, canary), decisionSettings(config, canary));
}

const compiledCache = new Map<string, CompiledSettings>();
/** Settings compiled per config object and canary policy: recording asks once per outcome. */
const compiledByConfig = new WeakMap<ProjectConfig, Map<string | null | undefined, { settings: DecisionSettings; compiled: CompiledSettings }>>();

function compiledFor(config: ProjectConfig, canary: Canary): { settings: DecisionSettings; compiled: CompiledSettings } {
  let byPolicy = compiledByConfig.get(config);
  if (!byPolicy) compiledByConfig.set(config, (byPolicy = new Map()));
  let found = byPolicy.get(canary.policy);
  if (!found) {
    const settings = decisionSettings(config, canary);
    const key = JSON.stringify(settings);
    let compiled = compiledCache.get(key);
    if (!compiled) compiledCache.set(key, (compiled = compileSettings(settings)));
    byPolicy.set(canary.policy, (found = { settings, compiled }));
  }
  return found;
}

/**
 * A cheap test that `evaluateCanary` could return something other than `continue`: the
 * pass-rate verdict on pooled counts, which `decide` itself uses. A full decision (intervals,
 * evidence, SRM, guardrails) costs about a millisecond; recording a large batch evaluates after
 * every outcome, so it only pays that when the verdict is not `continue` or a guardrail is breached.
 */
export function mightDecide(config: ProjectConfig, canary: Canary, aggregates: Aggregates): boolean {
  const { settings, compiled } = compiledFor(config, canary);
  const window = canaryWindow(aggregates, canary);
  const guarded = GUARDRAIL_METRICS.filter((metric) => settings.guardrails[metric]);
  if (guarded.length === 0) {
    // Without guardrails only the pooled counts matter: sum them instead of pooling whole arms.
    let stablePassed = 0;
    let stableTasks = 0;
    let canaryPassed = 0;
    let canaryTasks = 0;
    for (const epoch of window) {
      stablePassed += epoch.stable.passed;
      stableTasks += epoch.stable.tasks;
      canaryPassed += epoch.canary.passed;
      canaryTasks += epoch.canary.tasks;
    }
    return countsVerdict(compiled, stablePassed, stableTasks, canaryPassed, canaryTasks).action !== 'continue';
  }
  const { stable, canary: arm } = windowStats(window);
  // The same guardrail check `decide` runs first (a normal approximation: cheap).
  for (const metric of guarded) {
    if (checkGuardrail(metric, stable[metric], arm[metric], settings.guardrails[metric]!, settings.minCanaryTasks)?.breached) return true;
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

/**
 * `canary evaluate`: decide now for every role with a canary (or one role), without recording.
 * With `apply`, promote / step / roll back exactly once.
 */
export async function evaluateCanaries(
  project: FileProject,
  options: { role?: string; apply?: boolean } = {},
): Promise<{ evaluations: RoleEvaluation[]; warnings: string[] }> {
  const run = async () => {
    const config = await project.config();
    const state = await project.load();
    const { aggregates, warnings } = await currentAggregates(project);
    const evaluations: RoleEvaluation[] = [];
    for (const [role, roleState] of Object.entries(state.roles).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (options.role !== undefined && role !== options.role) continue;
      const canary = roleState.canary;
      if (!canary) continue;
      const decision = evaluateCanary(config, canary, aggregates);
      let applied: AuditEvent[] = [];
      if (options.apply && decision.action !== 'continue') {
        applied = (
          await applyAutomaticDecision(project, {
            role,
            canaryId: canary.id,
            epoch: canary.epoch,
            action: decision.action,
            reason: decision.reason,
            evidence: { ...decision.evidence, rule: decision.rule },
          })
        ).events;
      }
      evaluations.push({ role, canaryId: canary.id, versionId: canary.versionId, decision, applied });
    }
    return { evaluations, warnings };
  };
  return options.apply ? project.transaction(run) : run();
}
