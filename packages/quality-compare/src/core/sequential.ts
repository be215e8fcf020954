import { feasibleLogLik, maxLogLikBound, standardizedLogLik, standardizedVariance, type Comparison } from './comparison.js';

/**
 * The sequential policy: two one-sided mixture generalized sequential probability ratio tests on
 * the standardized difference of pass rates Delta (canary - stable; see comparison.ts):
 *
 *  - rollback test, H0: Delta >= 0.  e-value  E_R = sum_k w_k exp(L(-delta_k) - L(0))
 *  - promote test,  H0: Delta <= -m. e-value  E_P = sum_k v_k exp(L(-m + s_k) - L(-m))
 *
 * where L is the profile log-likelihood of Delta over every cell of the canary's life (all epochs,
 * all strata) and the weights form a discrete mixing distribution over alternatives. A test fires
 * when its e-value reaches 1/alpha (Wald's / Ville's bound). See the README for the references
 * and for how the constants were calibrated.
 */

export interface MixtureComponent {
  /** Distance of the alternative from the null, in pass-rate points (0..1). */
  shift: number;
  weight: number;
}

const freeze = (xs: Array<[number, number]>): readonly MixtureComponent[] => Object.freeze(xs.map(([shift, weight]) => Object.freeze({ shift, weight })));

/** Calibrated constants (README, "Calibration"). */
export const SEQUENTIAL_CONSTANTS = Object.freeze({
  /** Family-wise bound on P(roll back | canary not worse), the SPEC's 5 %; split as in `alphaSplit`. */
  alphaFamily: 0.05,
  /** Nominal bound on P(promote | canary worse by the margin or more). */
  alphaPromote: 0.05,
  /** Of the family's alpha: each configured guardrail, and all per-gate tests together. */
  alphaGuardrail: 0.01,
  alphaGates: 0.01,
  /** Regressions the rollback test is built to catch: large ones fast, small ones eventually (no dead zone). */
  rollbackMixture: freeze([
    [0.3, 0.62],
    [0.14, 0.34],
    [0.05, 0.04],
  ]),
  /**
   * Alternatives of the promote test, in multiples of the margin scale above the null -m:
   * "as good as stable" (Delta = 0) and "better by the margin" (Delta = +m).
   */
  promoteMixture: freeze([
    [1, 0.7],
    [2, 0.3],
  ]),
  /** Floor of the margin scale used for the promote alternatives (so margin 0 still works). */
  minPromoteScale: 0.02,
  /** The reported difference interval: a two-sided normal-mixture confidence sequence at this level... */
  intervalAlpha: 0.05,
  /** ...whose boundary is tightest around this many canary tasks. */
  intervalTuningTasks: 20,
});

/** Settings-dependent constants, computed once per settings object. */
export interface SequentialParams {
  margin: number;
  alphaRollback: number;
  logThresholdRollback: number;
  logThresholdPromote: number;
  rollback: readonly MixtureComponent[];
  /** Shifts already multiplied by the margin scale. */
  promote: readonly MixtureComponent[];
}

export function sequentialParams(
  rollbackMargin: number,
  alphaRollback: number = SEQUENTIAL_CONSTANTS.alphaFamily,
  rollback: readonly MixtureComponent[] = SEQUENTIAL_CONSTANTS.rollbackMixture,
): SequentialParams {
  const c = SEQUENTIAL_CONSTANTS;
  const scale = Math.max(rollbackMargin, c.minPromoteScale);
  return {
    margin: rollbackMargin,
    alphaRollback,
    logThresholdRollback: Math.log(1 / alphaRollback),
    logThresholdPromote: Math.log(1 / c.alphaPromote),
    rollback,
    promote: c.promoteMixture.map((m) => ({ shift: m.shift * scale, weight: m.weight })),
  };
}

/** log(sum_k w_k exp(x_k)) with -Infinity terms ignored. */
export function logMix(weights: readonly MixtureComponent[], logs: readonly number[]): number {
  let max = -Infinity;
  for (const x of logs) if (x > max) max = x;
  if (max === -Infinity) return -Infinity;
  if (max === Infinity) return Infinity;
  let s = 0;
  for (let i = 0; i < logs.length; i++) {
    const x = logs[i]!;
    if (x !== -Infinity) s += weights[i]!.weight * Math.exp(x - max);
  }
  return max + Math.log(s);
}

function mixtureEvidence(cmp: Comparison, theta0: number, alts: readonly MixtureComponent[], sign: -1 | 1): number {
  const l0 = standardizedLogLik(cmp, theta0);
  const lalts = alts.map((m) => standardizedLogLik(cmp, theta0 + sign * m.shift));
  if (l0 === -Infinity) return lalts.some((x) => x > -Infinity) ? Infinity : -Infinity;
  return logMix(
    alts,
    lalts.map((x) => x - l0),
  );
}

/** log e-value that Delta < theta0 (rollback family; theta0 = 0 is the rollback test). */
export function logEvidenceWorse(cmp: Comparison, theta0: number, p: SequentialParams): number {
  return mixtureEvidence(cmp, theta0, p.rollback, -1);
}

/** log e-value that Delta > theta0 (promote family; theta0 = -margin is the promote test). */
export function logEvidenceBetter(cmp: Comparison, theta0: number, p: SequentialParams): number {
  return mixtureEvidence(cmp, theta0, p.promote, 1);
}

/**
 * The sequential verdict: -1 roll back, +1 promote, 0 continue (min-tasks and the other gates
 * are the caller's). Requires at least one cell with outcomes on both arms.
 *
 * The shortcut is exact: every term of E_R is <= exp(bound - L(0)) with `bound` >= max L, so
 * the mixture is only computed when that bound reaches the threshold; likewise for E_P.
 */
export function sequentialVerdict(cmp: Comparison, p: SequentialParams, allowPromote = true): -1 | 0 | 1 {
  // feasibleLogLik <= L, so bound - feasibleLogLik >= bound - L: skipping on it is exact
  const lmax = maxLogLikBound(cmp);
  if (lmax - feasibleLogLik(cmp, 0) >= p.logThresholdRollback && lmax - standardizedLogLik(cmp, 0) >= p.logThresholdRollback && logEvidenceWorse(cmp, 0, p) >= p.logThresholdRollback) return -1;
  if (allowPromote) {
    if (lmax - feasibleLogLik(cmp, -p.margin) >= p.logThresholdPromote && lmax - standardizedLogLik(cmp, -p.margin) >= p.logThresholdPromote && logEvidenceBetter(cmp, -p.margin, p) >= p.logThresholdPromote) return 1;
  }
  return 0;
}

/**
 * The reported difference interval: a time-uniform (asymptotic) confidence sequence for Delta,
 * the two-sided normal-mixture boundary of Robbins (1970) / Howard et al. (2021, eq. 14) applied
 * to the standardized estimate with its delta-method variance V (Waudby-Smith et al. 2024):
 *     estimate +- sqrt( V (1 + n0/n) log((1 + n/n0) / alpha^2) ),   n = canary tasks.
 * It shrinks like sqrt(log n / n) and covers Delta at every n at once with probability ~1 - alpha.
 */
export function differenceConfidenceSequence(cmp: Comparison, canaryTasks: number): [number, number] {
  const c = SEQUENTIAL_CONSTANTS;
  const v = standardizedVariance(cmp);
  const n = Math.max(1, canaryTasks);
  const ratio = n / c.intervalTuningTasks;
  const half = Math.sqrt(v * (1 + 1 / ratio) * Math.log((1 + ratio) / (c.intervalAlpha * c.intervalAlpha)));
  const est = cmp.estimate;
  const lo = Number.isFinite(half) ? Math.max(-1, est - half) : -1;
  const hi = Number.isFinite(half) ? Math.min(1, est + half) : 1;
  return [Math.min(lo, est), Math.max(hi, est)];
}

/**
 * Smallest n >= from with log(sum_k w_k exp(n * a_k)) >= threshold, or null (not within `cap`).
 * The function is convex in n, so once above the threshold it stays there.
 */
function firstCrossing(weights: readonly MixtureComponent[], slopes: readonly number[], threshold: number, from: number, cap: number): number | null {
  const f = (n: number) => logMix(weights, slopes.map((a) => n * a));
  if (f(from) >= threshold) return from;
  if (!slopes.some((a) => a > 0)) return null;
  let lo = from;
  let hi = Math.max(from * 2, from + 1);
  while (f(hi) < threshold) {
    lo = hi;
    hi *= 2;
    if (hi > cap) return null;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (f(mid) >= threshold) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Plug-in projection of the canary sample size at which one of the tests would fire if every cell
 * kept its current pass rates and all cells grew in proportion: scaling all counts by s keeps the
 * restricted MLEs (and the constrained optimum) and multiplies L by s, so each test's log e-value
 * at n canary outcomes is log(sum_k w_k exp(n * a_k)) with a_k taken from the current counts.
 * Returns the projected total canary outcome count, or null when no test would ever fire or not
 * within 10^7.
 */
export function projectedDecisionSize(cmp: Comparison, canaryTasks: number, p: SequentialParams, allowPromote = true): number | null {
  const nc = canaryTasks;
  if (nc <= 0 || cmp.strata.length === 0) return null;
  const cap = 1e7;
  const diff = cmp.estimate;
  let best: number | null = null;
  if (diff < 0) {
    const l0 = standardizedLogLik(cmp, 0);
    const slopes = p.rollback.map((m) => (standardizedLogLik(cmp, -m.shift) - l0) / nc);
    const n = l0 === -Infinity ? null : firstCrossing(p.rollback, slopes, p.logThresholdRollback, nc, cap);
    if (n !== null) best = n;
  }
  if (allowPromote && diff > -p.margin) {
    const l0 = standardizedLogLik(cmp, -p.margin);
    const slopes = p.promote.map((m) => (standardizedLogLik(cmp, -p.margin + m.shift) - l0) / nc);
    const n = l0 === -Infinity ? null : firstCrossing(p.promote, slopes, p.logThresholdPromote, nc, cap);
    if (n !== null && (best === null || n < best)) best = n;
  }
  return best;
}
