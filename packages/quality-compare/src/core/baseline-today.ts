import { comparison, type Comparison } from './comparison.js';
import type { PassCounts } from './likelihood.js';
import { logEvidenceBetter, logEvidenceWorse, sequentialParams, sequentialVerdict, type MixtureComponent, type SequentialParams } from './sequential.js';
import { SRM_ALPHA, srmPValue } from './srm.js';

/**
 * THE PREVIOUS SEQUENTIAL RULE, kept only as the simulator's "today" baseline (like the threshold
 * rule is the seed's baseline). Production never calls it. What it did:
 *
 *  - pooled counts of both arms over the window since the evidence last restarted (every step
 *    restarted it, except the step to 100 %; a manual percentage change pooled epochs with
 *    different splits);
 *  - outcomes counted in ARRIVAL order, missing outcomes never counted (no timeout);
 *  - sample-ratio mismatch tested on OUTCOMES per percentage;
 *  - no decision at all, rollback included, before min_canary_tasks canary outcomes;
 *  - the rollback mixture {0.30 (w 0.9), 0.15 (w 0.1)} at alpha 5 %, the promote mixture as now;
 *  - the reported interval inverted the two fixed-alternative families (it never shrank).
 */
export const TODAY_ROLLBACK_MIXTURE: readonly MixtureComponent[] = Object.freeze([
  Object.freeze({ shift: 0.3, weight: 0.9 }),
  Object.freeze({ shift: 0.15, weight: 0.1 }),
]);

export function todayParams(rollbackMargin: number): SequentialParams {
  return sequentialParams(rollbackMargin, 0.05, TODAY_ROLLBACK_MIXTURE);
}

const single = (k: PassCounts): Comparison => comparison([{ weight: 1, cells: [k] }]);

export interface TodayEpoch {
  percentage: number;
  stablePassed: number;
  stableTasks: number;
  canaryPassed: number;
  canaryTasks: number;
}

/** The previous rule's verdict on the epochs of its window. */
export function todayVerdict(window: readonly TodayEpoch[], p: SequentialParams, minCanaryTasks: number): { action: 'promote' | 'rollback' | 'continue'; rule: string } {
  const k: PassCounts = { stablePassed: 0, stableTasks: 0, canaryPassed: 0, canaryTasks: 0 };
  for (const e of window) {
    k.stablePassed += e.stablePassed;
    k.stableTasks += e.stableTasks;
    k.canaryPassed += e.canaryPassed;
    k.canaryTasks += e.canaryTasks;
  }
  if (k.canaryTasks < minCanaryTasks) return { action: 'continue', rule: 'min-tasks' };
  if (k.stableTasks < 1) return { action: 'continue', rule: 'no-stable-outcomes' };
  const v = sequentialVerdict(single(k), p);
  if (v === -1) return { action: 'rollback', rule: 'sequential.rollback' };
  if (v === 0) return { action: 'continue', rule: 'sequential.continue' };
  // SRM on outcomes, epochs pooled per percentage
  const byPct = new Map<number, { c: number; n: number }>();
  for (const e of window) {
    const g = byPct.get(e.percentage) ?? { c: 0, n: 0 };
    g.c += e.canaryTasks;
    g.n += e.canaryTasks + e.stableTasks;
    byPct.set(e.percentage, g);
  }
  for (const [pct, g] of byPct) if (g.n > 0 && srmPValue(g.c, g.n, pct / 100) < SRM_ALPHA) return { action: 'continue', rule: 'srm-hold' };
  return { action: 'promote', rule: 'sequential.promote' };
}

/** The previous reported interval: inversion of the fixed-alternative families on pooled counts. */
export function todayInterval(k: PassCounts, p: SequentialParams): [number, number] {
  const cmp = single(k);
  const est = cmp.estimate;
  const iterations = 48;
  let upper = 1;
  if (logEvidenceWorse(cmp, 1, p) >= p.logThresholdRollback) {
    let lo = est;
    let hi = 1;
    for (let i = 0; i < iterations; i++) {
      const mid = (lo + hi) / 2;
      if (logEvidenceWorse(cmp, mid, p) >= p.logThresholdRollback) hi = mid;
      else lo = mid;
    }
    upper = hi;
  }
  let lower = -1;
  if (logEvidenceBetter(cmp, -1, p) >= p.logThresholdPromote) {
    let lo = -1;
    let hi = est;
    for (let i = 0; i < iterations; i++) {
      const mid = (lo + hi) / 2;
      if (logEvidenceBetter(cmp, mid, p) >= p.logThresholdPromote) lo = mid;
      else hi = mid;
    }
    lower = lo;
  }
  return [Math.min(lower, est), Math.max(upper, est)];
}
