import { maxLogLik, profileLogLik, type PassCounts } from './likelihood.js';

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
  /** the standardized estimate sum_s w_s theta_s (each stratum's MLE of its difference); computed on first use */
  readonly estimate: number;
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

const mleCache = new WeakMap<readonly PassCounts[], number>();

/** The unconstrained maximiser of a stratum's likelihood (its information-pooled difference). */
function stratumMle(cells: readonly PassCounts[]): number {
  if (cells.length === 1) {
    const k = cells[0]!;
    return k.canaryPassed / k.canaryTasks - k.stablePassed / k.stableTasks;
  }
  let m = mleCache.get(cells);
  if (m === undefined) mleCache.set(cells, (m = solveScore(cells, 0)));
  return m;
}

export function comparison(strata: Stratum[]): Comparison {
  let estimate: number | undefined;
  return {
    strata,
    get estimate(): number {
      if (estimate === undefined) {
        estimate = 0;
        for (const s of strata) estimate += s.weight * stratumMle(s.cells);
      }
      return estimate;
    },
  };
}

/** L_s'' by a central difference of the score (negative: L_s is concave); null where not finite. */
function stratumCurvature(cells: readonly PassCounts[], theta: number): number | null {
  const h = 1e-5;
  const d = (stratumScore(cells, theta + h) - stratumScore(cells, theta - h)) / (2 * h);
  return Number.isFinite(d) && d < 0 ? d : null;
}

/**
 * The strata's differences maximising the likelihood subject to sum_s w_s theta_s = c: Newton's
 * method on the Lagrange conditions, started from the quadratic approximation; bisection (exact,
 * slower) when Newton leaves the feasible region or does not converge.
 */
function constrainedThetas(strata: readonly Stratum[], c: number): number[] {
  const fast = newtonThetas(strata, c);
  return fast ?? bisectThetas(strata, c);
}

function newtonThetas(strata: readonly Stratum[], c: number): number[] | null {
  const n = strata.length;
  const mle = strata.map((s) => stratumMle(s.cells));
  const curv = mle.map((m, i) => stratumCurvature(strata[i]!.cells, m));
  if (curv.some((x) => x === null)) return null;
  // quadratic start: theta_s = mle_s - lambda w_s v_s with v_s = -1 / L_s''
  let sumW2V = 0;
  let est = 0;
  for (let i = 0; i < n; i++) {
    sumW2V += (strata[i]!.weight * strata[i]!.weight) / -curv[i]!;
    est += strata[i]!.weight * mle[i]!;
  }
  let lambda = (est - c) / sumW2V;
  const thetas = mle.map((m, i) => m - (lambda * strata[i]!.weight) / -curv[i]!);
  for (let outer = 0; outer < 30; outer++) {
    // inner: each theta_s solves L_s'(theta) = lambda w_s
    let slope = 0;
    for (let i = 0; i < n; i++) {
      const cells = strata[i]!.cells;
      const target = lambda * strata[i]!.weight;
      let th = thetas[i]!;
      let converged = false;
      for (let k = 0; k < 30; k++) {
        const g = stratumScore(cells, th) - target;
        const h2 = stratumCurvature(cells, th);
        if (!Number.isFinite(g) || h2 === null) return null;
        const next = th - g / h2;
        if (!(next > -1 && next < 1)) return null;
        const done = Math.abs(next - th) < 1e-9; // the numeric score is accurate to ~1e-9 in theta
        th = next;
        if (done) {
          converged = true;
          break;
        }
      }
      if (!converged) return null;
      thetas[i] = th;
      const h2 = stratumCurvature(cells, th);
      if (h2 === null) return null;
      slope += (strata[i]!.weight * strata[i]!.weight) / h2; // d(sum w theta)/d lambda
    }
    let avg = 0;
    for (let i = 0; i < n; i++) avg += strata[i]!.weight * thetas[i]!;
    const resid = avg - c;
    if (Math.abs(resid) < 1e-9) return thetas;
    if (!(slope < 0)) return null;
    lambda -= resid / slope;
  }
  return null;
}

function bisectThetas(strata: readonly Stratum[], c: number): number[] {
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
  // put the rounding residual on the heaviest stratum so the constraint holds exactly
  const resid = c - avg(thetas);
  if (resid !== 0) {
    let best = 0;
    for (let i = 1; i < strata.length; i++) if (strata[i]!.weight > strata[best]!.weight) best = i;
    thetas[best] = Math.max(-1, Math.min(1, thetas[best]! + resid / strata[best]!.weight));
  }
  return thetas;
}

const curvCache = new WeakMap<readonly PassCounts[], number | null>();

/**
 * A lower bound of L(c), cheap: the likelihood at one feasible point (the quadratic
 * approximation's optimum, each stratum moved from its MLE in proportion to w_s / information).
 * Exact with one stratum. The verdict uses it to skip the exact solve when even this bound shows
 * the evidence is far from a threshold.
 */
export function feasibleLogLik(cmp: Comparison, c: number): number {
  const strata = cmp.strata;
  if (strata.length === 1) return standardizedLogLik(cmp, c);
  let sumW2V = 0;
  let est = 0;
  const v: number[] = [];
  for (const st of strata) {
    let h = curvCache.get(st.cells);
    if (h === undefined) curvCache.set(st.cells, (h = stratumCurvature(st.cells, stratumMle(st.cells))));
    if (h === null) return standardizedLogLik(cmp, c);
    v.push(-1 / h);
    sumW2V += st.weight * st.weight * v[v.length - 1]!;
    est += st.weight * stratumMle(st.cells);
  }
  const lambda = (est - c) / sumW2V;
  let total = 0;
  for (let i = 0; i < strata.length; i++) {
    const st = strata[i]!;
    const theta = Math.max(-1, Math.min(1, stratumMle(st.cells) - lambda * st.weight * v[i]!));
    total += stratumLogLik(st.cells, theta);
  }
  return total;
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

/**
 * An upper bound of max_c L(c): every cell at its own unconstrained maximum (closed form). The
 * verdict's shortcuts only need a bound: no e-value term exceeds exp(bound - L(null)).
 */
export function maxLogLikBound(cmp: Comparison): number {
  let s = 0;
  for (const st of cmp.strata) for (const k of st.cells) s += maxLogLik(k);
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
