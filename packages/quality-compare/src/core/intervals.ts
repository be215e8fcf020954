import betaQuantile from '@stdlib/stats-base-dists-beta-quantile';

/**
 * Jeffreys interval for a binomial proportion: the equal-tailed interval of the
 * Beta(x + 1/2, n - x + 1/2) posterior, with the lower end set to 0 when x = 0 and the upper end to
 * 1 when x = n (Brown, Cai & DasGupta 2001, "Interval estimation for a binomial proportion",
 * Statistical Science 16(2)). Good coverage at small n and near 0 or 1, unlike the Wald interval.
 */
export function jeffreysInterval(passed: number, tasks: number, level = 0.95): [number, number] | null {
  if (tasks <= 0) return null;
  const tail = (1 - level) / 2;
  const a = passed + 0.5;
  const b = tasks - passed + 0.5;
  const lower = passed === 0 ? 0 : betaQuantile(tail, a, b);
  const upper = passed === tasks ? 1 : betaQuantile(1 - tail, a, b);
  const rate = passed / tasks;
  // guard against rounding in the quantile function: the interval always contains the estimate
  return [Math.max(0, Math.min(lower, rate)), Math.min(1, Math.max(upper, rate))];
}

/**
 * 95 % interval for a difference of two proportions (p1 - p2) by the MOVER method (Newcombe 1998,
 * "Interval estimation for the difference between independent proportions", Statistics in
 * Medicine 17; Zou & Donner 2008) from the arms' Jeffreys intervals.
 */
export function moverDifferenceInterval(
  p1: number,
  i1: readonly [number, number],
  p2: number,
  i2: readonly [number, number],
): [number, number] {
  const d = p1 - p2;
  const lower = d - Math.sqrt((p1 - i1[0]) ** 2 + (i2[1] - p2) ** 2);
  const upper = d + Math.sqrt((i1[1] - p1) ** 2 + (p2 - i2[0]) ** 2);
  return [Math.max(-1, lower), Math.min(1, upper)];
}
