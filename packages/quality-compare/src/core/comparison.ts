import { profileLogLik, type PassCounts } from './likelihood.js';

/**
 * The profile log-likelihood of the STANDARDIZED difference of pass rates over cells.
 *
 * The data are cells (one per (percentage, stratum), each with counts of both arms). Within a
 * stratum the cells share one difference theta_s (epochs at different shares are separate cells
 * with their own nuisance stable rate, so pooling never mixes splits: no Simpson's paradox), and
 * the stratum's log-likelihood is the sum of the cells' profile log-likelihoods. Across strata the
 * estimand is the standardized difference  Delta = sum_s w_s theta_s  (w_s the strata's shares of
 * tasks), and
 *
 *     L(c) = max { sum_s L_s(theta_s) : sum_s w_s theta_s = c }
 *
 * is its profile log-likelihood: the differences of the strata are free, only their weighted
 * average is pinned, so a regression confined to one stratum counts fully (a common-difference
 * likelihood would dilute it). With one stratum L(c) = L_1(c), exactly the unstratified test.
 *
 * The constrained maximum is found from the Lagrange conditions L_s'(theta_s) = lambda w_s
 * (each L_s is concave, so theta_s(lambda) is monotone and both searches are bisections).
 * Scaling every count by s scales L by s (the restricted MLEs are scale-invariant), which the
 * tasks-needed projection relies on.
 */

export interface Stratum {
  /** share of the comparison's tasks in this stratum, > 0; the weights sum to 1 */
  weight: number;
  /** cells with outcomes on both arms */
  cells: PassCounts[];
}

export interface Comparison {
  strata: Stratum[];
  /** the standardized estimate sum_s w_s (canary rate_s - stable rate_s), each stratum's rate difference pooled over its cells by information */
  estimate: number;
}

/** A stratum's log-likelihood at a common difference theta. */
function stratumLogLik(cells: readonly PassCounts[], theta: number): number {
  let s = 0;
  for (const k of cells) s += profileLogLik(k, theta);
  return s;
}

/**
 * d/dtheta of a cell's profile log-likelihood, by a central difference (the profile is concave, so
 * difference quotients are monotone; an analytic envelope formula breaks at the corners where the
 * restricted MLE sits on a bound). Where the likelihood is impossible the sign points back toward
 * the cell's own estimate.
 */
function cellScore(k: PassCounts, theta: number): number {
  const h = 1e-7;
  const a = profileLogLik(k, theta - h);
  const b = profileLogLik(k, theta + h);
  if (a === -Infinity || b === -Infinity) {
    if (a === -Infinity && b === -Infinity) return theta < k.canaryPassed / k.canaryTasks - k.stablePassed / k.stableTasks ? Infinity : -Infinity;
    return a === -Infinity ? Infinity : -Infinity;
  }
  return (b - a) / (2 * h);
}

function stratumScore(cells: readonly PassCounts[], theta: number): number {
  let s = 0;
  for (const k of cells) s += cellScore(k, theta);
  return s;
}

const ITER = 52;

/** theta in [-1, 1] with L_s'(theta) = target (L_s' is nonincreasing); an end when out of range. */
function solveScore(cells: readonly PassCounts[], target: number): number {
  let lo = -1;
  let hi = 1;
  for (let i = 0; i < ITER; i++) {
    const mid = (lo + hi) / 2;
    const s = stratumScore(cells, mid);
    if (Number.isNaN(s) || s > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The unconstrained maximiser of a stratum's likelihood (its information-pooled difference). */
function stratumMle(cells: readonly PassCounts[]): number {
  if (cells.length === 1) {
    const k = cells[0]!;
    return k.canaryPassed / k.canaryTasks - k.stablePassed / k.stableTasks;
  }
  return solveScore(cells, 0);
}

export function comparison(strata: Stratum[]): Comparison {
  let estimate = 0;
  for (const s of strata) estimate += s.weight * stratumMle(s.cells);
  return { strata, estimate };
}

/** The strata's differences maximising the likelihood subject to sum_s w_s theta_s = c. */
function constrainedThetas(strata: readonly Stratum[], c: number): number[] {
  const thetaAt = (lambda: number) => strata.map((s) => solveScore(s.cells, lambda * s.weight));
  const avg = (t: readonly number[]) => t.reduce((acc, x, i) => acc + strata[i]!.weight * x, 0);
  // avg(thetaAt(lambda)) is nonincreasing in lambda: bracket c, then bisect
  let lo = -1;
  let hi = 1;
  while (avg(thetaAt(lo)) < c && lo > -1e12) lo *= 4;
  while (avg(thetaAt(hi)) > c && hi < 1e12) hi *= 4;
  for (let i = 0; i < ITER; i++) {
    const mid = (lo + hi) / 2;
    if (avg(thetaAt(mid)) > c) lo = mid;
    else hi = mid;
  }
  const thetas = thetaAt((lo + hi) / 2);
  // put the rounding residual on the stratum with the most room so the constraint holds exactly
  const resid = c - avg(thetas);
  if (resid !== 0) {
    let best = 0;
    for (let i = 1; i < strata.length; i++) if (strata[i]!.weight > strata[best]!.weight) best = i;
    thetas[best] = Math.max(-1, Math.min(1, thetas[best]! + resid / strata[best]!.weight));
  }
  return thetas;
}

/** L(c): the profile log-likelihood of the standardized difference (-Infinity where impossible). */
export function standardizedLogLik(cmp: Comparison, c: number): number {
  const strata = cmp.strata;
  if (c < -1 || c > 1) return -Infinity;
  if (strata.length === 1) return stratumLogLik(strata[0]!.cells, c);
  const thetas = constrainedThetas(strata, c);
  let s = 0;
  for (let i = 0; i < strata.length; i++) s += stratumLogLik(strata[i]!.cells, thetas[i]!);
  return s;
}

/** The unconstrained maximum of the log-likelihood (every stratum at its own MLE). */
export function maxStandardizedLogLik(cmp: Comparison): number {
  let s = 0;
  for (const st of cmp.strata) s += stratumLogLik(st.cells, stratumMle(st.cells));
  return s;
}

/**
 * The estimate's variance by the delta method (sum_s w_s^2 / I_s, I_s a stratum's Fisher
 * information for its difference at the MLE, from the cells' binomial variances).
 */
export function standardizedVariance(cmp: Comparison): number {
  let v = 0;
  for (const s of cmp.strata) {
    let info = 0;
    for (const k of s.cells) {
      const pc = k.canaryPassed / k.canaryTasks;
      const ps = k.stablePassed / k.stableTasks;
      // floor the rates' variances (a cell with 0 or 100 % would claim infinite information)
      const vc = Math.max(pc * (1 - pc), 0.25 / (k.canaryTasks + 1)) / k.canaryTasks;
      const vs = Math.max(ps * (1 - ps), 0.25 / (k.stableTasks + 1)) / k.stableTasks;
      info += 1 / (vc + vs);
    }
    v += (s.weight * s.weight) / info;
  }
  return v;
}
