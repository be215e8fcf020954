import { checkGuardrail, GUARDRAIL_CONSTANTS, type GuardrailResult } from './guardrails.js';
import { jeffreysInterval, moverDifferenceInterval } from './intervals.js';
import type { PassCounts } from './likelihood.js';
import {
  differenceConfidenceSequence,
  logEvidenceBetter,
  logEvidenceWorse,
  projectedDecisionSize,
  SEQUENTIAL_CONSTANTS,
  sequentialParams,
  sequentialVerdict,
  type SequentialParams,
} from './sequential.js';
import { SRM_ALPHA, srmCheck } from './srm.js';
import { windowStats } from './stats.js';
import { scaledMargin, thresholdVerdict } from './threshold.js';
import {
  GUARDRAIL_METRICS,
  type ArmEvidence,
  type ArmStats,
  type Decision,
  type DecisionAction,
  type DecisionEvidence,
  type DecisionSettings,
  type EpochStats,
  type RuleId,
} from './types.js';

/** Settings with everything derived from them precomputed (shared by `decide` and the simulator). */
export interface CompiledSettings {
  settings: DecisionSettings;
  sequential: SequentialParams;
  marginMillionths: bigint;
}

export function compileSettings(settings: DecisionSettings): CompiledSettings {
  if (settings.policy !== 'sequential' && settings.policy !== 'threshold') throw new RangeError(`unknown policy ${String(settings.policy)}`);
  if (!Number.isInteger(settings.minCanaryTasks) || settings.minCanaryTasks < 1) {
    throw new RangeError(`minCanaryTasks must be an integer >= 1, got ${settings.minCanaryTasks}`);
  }
  if (!(settings.rollbackMargin >= 0 && settings.rollbackMargin <= 1)) {
    throw new RangeError(`rollbackMargin must be in [0, 1], got ${settings.rollbackMargin}`);
  }
  return { settings, sequential: sequentialParams(settings.rollbackMargin), marginMillionths: scaledMargin(settings.rollbackMargin) };
}

export interface CountsVerdict {
  action: DecisionAction;
  rule: RuleId;
}

/**
 * The pass-rate part of `decide` on pooled counts: min-tasks, no-stable-outcomes, then the policy
 * (no guardrails, no SRM hold). `decide` and the simulator both call this, so the simulator's
 * fast path makes exactly the decisions `decide` makes.
 */
export function countsVerdict(
  c: CompiledSettings,
  stablePassed: number,
  stableTasks: number,
  canaryPassed: number,
  canaryTasks: number,
): CountsVerdict {
  if (canaryTasks < c.settings.minCanaryTasks) return { action: 'continue', rule: 'min-tasks' };
  if (stableTasks < 1) return { action: 'continue', rule: 'no-stable-outcomes' };
  if (c.settings.policy === 'threshold') {
    const v = thresholdVerdict(stablePassed, stableTasks, canaryPassed, canaryTasks, c.marginMillionths);
    return v === 1 ? { action: 'promote', rule: 'threshold.promote' } : v === -1 ? { action: 'rollback', rule: 'threshold.rollback' } : { action: 'continue', rule: 'threshold.continue' };
  }
  const v = sequentialVerdict({ stablePassed, stableTasks, canaryPassed, canaryTasks }, c.sequential);
  return v === 1 ? { action: 'promote', rule: 'sequential.promote' } : v === -1 ? { action: 'rollback', rule: 'sequential.rollback' } : { action: 'continue', rule: 'sequential.continue' };
}

// ---------------------------------------------------------------------------------------------
// formatting

const pct = (x: number) => `${Math.round(x * 100)} %`;
const pctRange = (i: readonly [number, number]) => `${Math.round(i[0] * 100)}-${Math.round(i[1] * 100)} %`;
const points = (x: number) => `${(Math.round(x * 1000) / 10).toFixed(1)} points`;

function fmtNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(1);
  if (a >= 100) return String(Math.round(x));
  return String(Number(x.toPrecision(3)));
}

function fmtEValue(logE: number): string {
  if (logE === Infinity || logE > Math.log(1e12)) return '> 10^12';
  if (logE === -Infinity || logE < Math.log(1e-3)) return '< 0.001';
  return fmtNumber(Math.exp(logE));
}

function armPhrase(name: string, a: ArmEvidence): string {
  if (a.passRate === null || a.interval === null) return `${name} 0/0`;
  return `${name} ${a.passed}/${a.tasks} passed (${pct(a.passRate)}, 95 % CI ${pctRange(a.interval)})`;
}

function armEvidence(arm: ArmStats): ArmEvidence {
  return {
    tasks: arm.tasks,
    passed: arm.passed,
    passRate: arm.tasks > 0 ? arm.passed / arm.tasks : null,
    interval: jeffreysInterval(arm.passed, arm.tasks),
  };
}

/** Keep statistics JSON-safe (no Infinity / NaN in persisted evidence). */
const finiteLog = (x: number) => (Number.isNaN(x) ? 0 : Math.max(-1000, Math.min(1000, x)));

// ---------------------------------------------------------------------------------------------

/**
 * Decide what to do with a canary, from the outcomes of both arms in the comparison window.
 * Pure; evaluation after every outcome is intended.
 *
 * Order: guardrails (roll back) -> min-tasks -> no-stable-outcomes -> policy; a sample-ratio
 * mismatch turns a would-be promotion into `continue` ('srm-hold'); rollbacks are never held.
 */
export function decide(epochs: readonly EpochStats[], settings: DecisionSettings): Decision {
  const compiled = compileSettings(settings);
  const { stable, canary } = windowStats(epochs);
  const policy = settings.policy;
  const stableEv = armEvidence(stable);
  const canaryEv = armEvidence(canary);
  const counts: PassCounts = { stablePassed: stable.passed, stableTasks: stable.tasks, canaryPassed: canary.passed, canaryTasks: canary.tasks };
  const comparable = canary.tasks > 0 && stable.tasks > 0;
  const after = `${policy} policy, after ${canary.tasks} canary task${canary.tasks === 1 ? '' : 's'}`;
  const arms = `${armPhrase('canary', canaryEv)} vs ${armPhrase('stable', stableEv)}`;

  const evidence: DecisionEvidence = { policy, stable: stableEv, canary: canaryEv };

  // difference and test statistics
  let logWorse = 0;
  let logBetter = 0;
  if (comparable) {
    const estimate = canaryEv.passRate! - stableEv.passRate!;
    if (policy === 'sequential') {
      evidence.difference = { estimate, interval: differenceConfidenceSequence(counts, compiled.sequential) };
      logWorse = logEvidenceWorse(counts, 0, compiled.sequential);
      logBetter = logEvidenceBetter(counts, -settings.rollbackMargin, compiled.sequential);
      evidence.statistic = {
        logEvidenceWorse: finiteLog(logWorse),
        logEvidenceNotWorseByMargin: finiteLog(logBetter),
        logThresholdRollback: compiled.sequential.logThresholdRollback,
        logThresholdPromote: compiled.sequential.logThresholdPromote,
        alphaRollback: SEQUENTIAL_CONSTANTS.alphaRollback,
        alphaPromote: SEQUENTIAL_CONSTANTS.alphaPromote,
      };
    } else {
      evidence.difference = { estimate, interval: moverDifferenceInterval(canaryEv.passRate!, canaryEv.interval!, stableEv.passRate!, stableEv.interval!) };
      evidence.statistic = { stableMinusCanary: 0 - estimate, margin: settings.rollbackMargin };
    }
  }

  // sample-ratio mismatch (always reported)
  const srm = srmCheck(epochs).evidence;
  if (srm !== null) evidence.srm = srm;

  // guardrails
  const results: GuardrailResult[] = [];
  for (const metric of GUARDRAIL_METRICS) {
    const g = settings.guardrails[metric];
    if (g === null) continue;
    const r = checkGuardrail(metric, stable[metric], canary[metric], g, settings.minCanaryTasks);
    if (r !== null) results.push(r);
  }
  if (results.length > 0) {
    evidence.guardrails = results.map((r) => ({ metric: r.metric, stableMean: r.stableMean, canaryMean: r.canaryMean, limit: r.limit, breached: r.breached }));
  }
  const breached = results.find((r) => r.breached);
  if (breached !== undefined) {
    evidence.tasksNeeded = 0;
    const rel = breached.stableMean > 0 ? ` (${breached.canaryMean >= breached.stableMean ? '+' : ''}${Math.round((breached.canaryMean / breached.stableMean - 1) * 100)} %)` : '';
    return {
      action: 'rollback',
      rule: `guardrail.${breached.metric}`,
      reason:
        `${breached.metric} guardrail breached: canary mean ${fmtNumber(breached.canaryMean)} vs stable ${fmtNumber(breached.stableMean)}${rel}, ` +
        `above the +${Math.round(breached.maxIncrease * 100)} % limit (${fmtNumber(breached.limit)}) with e-value ${fmtEValue(breached.logEvidence)} >= ${fmtNumber(1 / GUARDRAIL_CONSTANTS.alpha)} ` +
        `(${breached.canarySamples} canary and ${breached.stableSamples} stable samples; ${arms})`,
      evidence,
    };
  }

  const verdict = countsVerdict(compiled, stable.passed, stable.tasks, canary.passed, canary.tasks);
  evidence.tasksNeeded = tasksNeeded(verdict, compiled, counts);

  let reason: string;
  switch (verdict.rule) {
    case 'min-tasks':
      reason = `only ${canary.tasks} of ${settings.minCanaryTasks} canary outcomes so far (${arms}); no automatic decision before min_canary_tasks`;
      break;
    case 'no-stable-outcomes':
      reason = `canary has ${canary.tasks} outcomes (${canary.passed} passed) but stable has none in this window, so there is nothing to compare against`;
      break;
    case 'threshold.promote':
      reason = `${arms}: canary pass rate >= stable's (${after})`;
      break;
    case 'threshold.rollback':
      reason = `${arms}: canary is ${points(stableEv.passRate! - canaryEv.passRate!)} below stable, more than the margin of ${points(settings.rollbackMargin)} (${after})`;
      break;
    case 'threshold.continue':
      reason = `${arms}: canary is ${points(stableEv.passRate! - canaryEv.passRate!)} below stable, not more than the margin of ${points(settings.rollbackMargin)} (${after})`;
      break;
    case 'sequential.rollback':
      reason = `${arms}; evidence that the canary is worse: e-value ${fmtEValue(logWorse)} >= ${fmtNumber(1 / SEQUENTIAL_CONSTANTS.alphaRollback)} (${after})`;
      break;
    case 'sequential.promote':
      reason = `${arms}; evidence that the canary is not worse by more than ${points(settings.rollbackMargin)}: e-value ${fmtEValue(logBetter)} >= ${fmtNumber(1 / SEQUENTIAL_CONSTANTS.alphaPromote)} (${after})`;
      break;
    default: {
      const needed = evidence.tasksNeeded;
      const eta = needed === null || needed === undefined ? 'no estimate of the tasks still needed' : `roughly ${needed} more canary task${needed === 1 ? '' : 's'} needed at the current rates`;
      reason =
        `${arms}; no conclusion yet: e-value ${fmtEValue(logWorse)} that the canary is worse and ${fmtEValue(logBetter)} that it is not worse by more than ${points(settings.rollbackMargin)} ` +
        `(either needs ${fmtNumber(1 / SEQUENTIAL_CONSTANTS.alphaRollback)}), ${eta} (${after})`;
    }
  }

  if (verdict.action === 'promote' && srm !== null && srm.holding) {
    evidence.tasksNeeded = null;
    return {
      action: 'continue',
      rule: 'srm-hold',
      reason:
        `promotion held by a sample ratio mismatch: the canary got ${pct(srm.observedShare)} of the outcomes at a configured ${pct(srm.expectedShare)} ` +
        `(p = ${fmtNumber(srm.pValue)} < ${SRM_ALPHA}), a sign of broken routing or lost outcomes; otherwise: ${reason}`,
      evidence,
    };
  }
  return { action: verdict.action, rule: verdict.rule, reason, evidence };
}

/** Rough further canary outcomes before a decision (README, "tasksNeeded"). */
function tasksNeeded(verdict: CountsVerdict, c: CompiledSettings, k: PassCounts): number | null {
  if (verdict.action !== 'continue') return 0;
  if (k.canaryTasks < 1 || k.stableTasks < 1) return null;
  const missing = Math.max(0, c.settings.minCanaryTasks - k.canaryTasks);
  if (c.settings.policy === 'threshold') {
    // the rule only looks at rates: at the current rates it fires at min_canary_tasks or never
    if (missing === 0) return null;
    return thresholdVerdict(k.stablePassed, k.stableTasks, k.canaryPassed, k.canaryTasks, c.marginMillionths) === 0 ? null : missing;
  }
  const n = projectedDecisionSize(k, c.sequential);
  if (n === null) return null;
  return Math.max(missing, n - k.canaryTasks);
}
