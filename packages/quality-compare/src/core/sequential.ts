import { maxLogLik, profileLogLik, type PassCounts } from './likelihood.js';

/**
 * The sequential policy: two one-sided mixture generalized sequential probability ratio tests
 * on the difference of pass rates, theta = canary rate - stable rate.
 *
 *  - rollback test, H0: theta >= 0.  e-value  E_R = sum_k w_k * exp(lp(-delta_k) - lp(0))
 *  - promote test,  H0: theta <= -m. e-value  E_P = sum_k v_k * exp(lp(-m + s_k) - lp(-m))
 *
 * where lp is the profile log-likelihood of theta (exact binomial likelihoods, the stable rate
 * profiled out by its restricted MLE) and the weights form a discrete mixing distribution over
 * alternatives. A test fires when its e-value reaches 1/alpha (Wald's / Ville's bound). See the
 * README for the references and for how the constants were calibrated.
 */

export interface MixtureComponent {
  /** Distance of the alternative from the null, in pass-rate points (0..1). */
  shift: number;
  weight: number;
}

/** Calibrated constants (README, "Calibration"). */
export const SEQUENTIAL_CONSTANTS = Object.freeze({
  /** Nominal bound on P(roll back | canary not worse), the SPEC's 5 %. */
  alphaRollback: 0.05,
  /** Nominal bound on P(promote | canary worse by the margin or more). */
  alphaPromote: 0.05,
  /** Regressions the rollback test is built to catch: mostly large ones, fast; smaller ones later. */
  rollbackMixture: Object.freeze([
    Object.freeze({ shift: 0.3, weight: 0.9 }),
    Object.freeze({ shift: 0.15, weight: 0.1 }),
  ]) as readonly MixtureComponent[],
  /**
   * Alternatives of the promote test, in multiples of the margin scale above the null -m:
   * "as good as stable" (theta = 0) and "better by the margin" (theta = +m).
   */
  promoteMixture: Object.freeze([
    Object.freeze({ shift: 1, weight: 0.5 }),
    Object.freeze({ shift: 2, weight: 0.5 }),
  ]) as readonly MixtureComponent[],
  /** Floor of the margin scale used for the promote alternatives (so margin 0 still works). */
  minPromoteScale: 0.02,
});

/** Settings-dependent constants, computed once per settings object. */
export interface SequentialParams {
  margin: number;
  logThresholdRollback: number;
  logThresholdPromote: number;
  rollback: readonly MixtureComponent[];
  /** Shifts already multiplied by the margin scale. */
  promote: readonly MixtureComponent[];
}

export function sequentialParams(rollbackMargin: number): SequentialParams {
  const c = SEQUENTIAL_CONSTANTS;
  const scale = Math.max(rollbackMargin, c.minPromoteScale);
  return {
    margin: rollbackMargin,
    logThresholdRollback: Math.log(1 / c.alphaRollback),
    logThresholdPromote: Math.log(1 / c.alphaPromote),
    rollback: c.rollbackMixture,
    promote: c.promoteMixture.map((m) => ({ shift: m.shift * scale, weight: m.weight })),
  };
}

/** log(sum_k w_k exp(x_k)) with -Infinity terms ignored. */
function logMix(weights: readonly MixtureComponent[], logs: readonly number[]): number {
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

/** log e-value that theta < theta0 (rollback family; theta0 = 0 is the rollback test). */
export function logEvidenceWorse(k: PassCounts, theta0: number, p: SequentialParams): number {
  const l0 = profileLogLik(k, theta0);
  const lalts = p.rollback.map((m) => profileLogLik(k, theta0 - m.shift));
  if (l0 === -Infinity) return lalts.some((x) => x > -Infinity) ? Infinity : -Infinity;
  return logMix(
    p.rollback,
    lalts.map((x) => x - l0),
  );
}

/** log e-value that theta > theta0 (promote family; theta0 = -margin is the promote test). */
export function logEvidenceBetter(k: PassCounts, theta0: number, p: SequentialParams): number {
  const l0 = profileLogLik(k, theta0);
  const lalts = p.promote.map((m) => profileLogLik(k, theta0 + m.shift));
  if (l0 === -Infinity) return lalts.some((x) => x > -Infinity) ? Infinity : -Infinity;
  return logMix(
    p.promote,
    lalts.map((x) => x - l0),
  );
}

/**
 * The sequential verdict on pooled counts: -1 roll back, +1 promote, 0 continue. Requires
 * canaryTasks >= 1 and stableTasks >= 1 (min-tasks and no-stable rules are applied by the caller).
 *
 * Shortcuts are exact: by concavity of the profile likelihood, E_R <= 1 when the canary's observed
 * rate is not below stable's, and every term of E_R is <= exp(maxLogLik - lp(0)); likewise for E_P.
 */
export function sequentialVerdict(k: PassCounts, p: SequentialParams): -1 | 0 | 1 {
  const diff = k.canaryPassed / k.canaryTasks - k.stablePassed / k.stableTasks;
  let lmax: number | undefined;
  if (diff < 0) {
    lmax = maxLogLik(k);
    const l0 = profileLogLik(k, 0);
    if (lmax - l0 >= p.logThresholdRollback && logEvidenceWorse(k, 0, p) >= p.logThresholdRollback) return -1;
  }
  if (diff > -p.margin) {
    lmax ??= maxLogLik(k);
    const l0 = profileLogLik(k, -p.margin);
    if (lmax - l0 >= p.logThresholdPromote && logEvidenceBetter(k, -p.margin, p) >= p.logThresholdPromote) return 1;
  }
  return 0;
}

/**
 * The time-uniform confidence sequence for theta implied by the two test families: the upper end
 * is the smallest theta0 at which the rollback family rejects "theta >= theta0" (so it is below 0
 * exactly when the rollback test fires), the lower end the largest theta0 at which the promote
 * family rejects "theta <= theta0" (above -margin exactly when the promote test fires). Coverage,
 * uniformly over time: >= 1 - alphaRollback - alphaPromote (90 %).
 */
export function differenceConfidenceSequence(k: PassCounts, p: SequentialParams): [number, number] {
  const est = k.canaryPassed / k.canaryTasks - k.stablePassed / k.stableTasks;
  const iterations = 48;
  // upper: E_worse(theta0) is nondecreasing in theta0 and <= 1 at the estimate.
  let upper = 1;
  if (logEvidenceWorse(k, 1, p) >= p.logThresholdRollback) {
    let lo = est;
    let hi = 1;
    for (let i = 0; i < iterations; i++) {
      const mid = (lo + hi) / 2;
      if (logEvidenceWorse(k, mid, p) >= p.logThresholdRollback) hi = mid;
      else lo = mid;
    }
    upper = hi;
  }
  let lower = -1;
  if (logEvidenceBetter(k, -1, p) >= p.logThresholdPromote) {
    let lo = -1;
    let hi = est;
    for (let i = 0; i < iterations; i++) {
      const mid = (lo + hi) / 2;
      if (logEvidenceBetter(k, mid, p) >= p.logThresholdPromote) lo = mid;
      else hi = mid;
    }
    lower = lo;
  }
  return [Math.min(lower, est), Math.max(upper, est)];
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
 * Plug-in projection of the canary sample size at which one of the tests would fire if both arms
 * kept their current pass rates and their current ratio of outcomes: scaling all counts by s keeps
 * the restricted MLEs and multiplies every log-likelihood by s, so each test's log e-value at n
 * canary outcomes is log(sum_k w_k exp(n * a_k)) with a_k taken from the current counts.
 * Returns the projected total canary outcome count, or null when no test would ever fire
 * (e.g. the estimate sits exactly where neither test gains evidence) or not within 10^7.
 */
export function projectedDecisionSize(k: PassCounts, p: SequentialParams): number | null {
  const nc = k.canaryTasks;
  if (nc <= 0 || k.stableTasks <= 0) return null;
  const cap = 1e7;
  const diff = k.canaryPassed / nc - k.stablePassed / k.stableTasks;
  let best: number | null = null;
  if (diff < 0) {
    const l0 = profileLogLik(k, 0);
    const slopes = p.rollback.map((m) => (profileLogLik(k, -m.shift) - l0) / nc);
    const n = l0 === -Infinity ? null : firstCrossing(p.rollback, slopes, p.logThresholdRollback, nc, cap);
    if (n !== null) best = n;
  }
  if (diff > -p.margin) {
    const l0 = profileLogLik(k, -p.margin);
    const slopes = p.promote.map((m) => (profileLogLik(k, -p.margin + m.shift) - l0) / nc);
    const n = l0 === -Infinity ? null : firstCrossing(p.promote, slopes, p.logThresholdPromote, nc, cap);
    if (n !== null && (best === null || n < best)) best = n;
  }
  return best;
}
