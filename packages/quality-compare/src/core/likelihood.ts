/**
 * Exact binomial likelihoods for two arms and the profile log-likelihood of their difference.
 *
 * Counts may be non-integer (the tasks-needed projection scales them); everything here is
 * plain arithmetic, no special functions.
 */

/** x * log(p), with 0 * log(0) = 0. */
function xlog(x: number, p: number): number {
  return x === 0 ? 0 : x * Math.log(p);
}

/** Binomial log-likelihood (without the binomial coefficient) of `passed` out of `tasks` at rate `p`. */
export function binomialLogLik(passed: number, tasks: number, p: number): number {
  return xlog(passed, p) + xlog(tasks - passed, 1 - p);
}

/** Counts of both arms; `*Passed <= *Tasks`, both task counts > 0. */
export interface PassCounts {
  stablePassed: number;
  stableTasks: number;
  canaryPassed: number;
  canaryTasks: number;
}

/**
 * Maximum-likelihood rates under the constraint canary - stable = `d` (Farrington & Manning 1990,
 * closed-form root of the score cubic; also Miettinen & Nurminen 1985). Returns [canary, stable].
 */
export function restrictedMle(
  canaryPassed: number,
  canaryTasks: number,
  stablePassed: number,
  stableTasks: number,
  d: number,
): [number, number] {
  if (d === 0) {
    const p = (canaryPassed + stablePassed) / (canaryTasks + stableTasks);
    return [p, p];
  }
  const lo = Math.max(0, d);
  const hi = Math.min(1, 1 + d);
  if (lo >= hi) return [lo, lo - d];
  const p1 = canaryPassed / canaryTasks;
  const p2 = stablePassed / stableTasks;
  const theta = stableTasks / canaryTasks;
  const a = 1 + theta;
  const b = -(1 + theta + p1 + theta * p2 + d * (theta + 2));
  const c = d * d + d * (2 * p1 + theta + 1) + p1 + theta * p2;
  const e = -p1 * d * (1 + d);
  const v = (b * b * b) / (27 * a * a * a) - (b * c) / (6 * a * a) + e / (2 * a);
  let u = Math.sqrt(Math.max(0, (b * b) / (9 * a * a) - c / (3 * a)));
  if (v < 0) u = -u;
  let q = u === 0 ? 0 : v / (u * u * u);
  q = q > 1 ? 1 : q < -1 ? -1 : q;
  const w = (Math.PI + Math.acos(q)) / 3;
  let pc = 2 * u * Math.cos(w) - b / (3 * a);
  if (!(pc >= lo)) pc = lo; // also catches NaN
  if (pc > hi) pc = hi;
  // The closed form loses accuracy in degenerate cases (rates of 0 or 1, |d| tiny); the log-likelihood
  // is concave along the constraint, so the maximum is the root or an end of the feasible segment.
  const at = (x: number) => binomialLogLik(canaryPassed, canaryTasks, x) + binomialLogLik(stablePassed, stableTasks, x - d);
  let best = at(pc);
  for (const x of [lo, hi]) {
    const v = at(x);
    if (v > best || Number.isNaN(best)) {
      best = v;
      pc = x;
    }
  }
  return [pc, pc - d];
}

/**
 * Profile log-likelihood of the difference `d` = canary rate - stable rate: the joint binomial
 * log-likelihood maximised over the stable rate with the canary rate tied to it. It is concave
 * in `d` (the joint log-likelihood is concave and the constraint is linear), -Infinity where the
 * data are impossible.
 */
export function profileLogLik(k: PassCounts, d: number): number {
  if (d < -1 || d > 1) return -Infinity;
  const [pc, ps] = restrictedMle(k.canaryPassed, k.canaryTasks, k.stablePassed, k.stableTasks, d);
  return binomialLogLik(k.canaryPassed, k.canaryTasks, pc) + binomialLogLik(k.stablePassed, k.stableTasks, ps);
}

/** The unconstrained maximum of the joint log-likelihood. */
export function maxLogLik(k: PassCounts): number {
  return (
    binomialLogLik(k.canaryPassed, k.canaryTasks, k.canaryPassed / k.canaryTasks) +
    binomialLogLik(k.stablePassed, k.stableTasks, k.stablePassed / k.stableTasks)
  );
}
