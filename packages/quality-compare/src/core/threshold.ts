/**
 * The seed's rule, literally (Bernstein issue 810, step 3): once the canary has min_canary_tasks
 * outcomes and stable at least one, promote if canary pass rate >= stable pass rate; roll back if
 * stable pass rate - canary pass rate > rollback_margin; otherwise continue.
 *
 * Boundaries are exact: rates are compared by cross-multiplying integer counts (BigInt, so no
 * overflow), and the margin is taken as a decimal with 6 places (margin * 10^6 rounded), so that
 * canary 9/10 vs stable 10/10 with margin 0.10 continues (0.1 is not > 0.1) even though
 * 1 - 0.9 > 0.1 in binary floating point.
 */

export const MARGIN_SCALE = 1_000_000;

/** The margin as an integer number of millionths. */
export function scaledMargin(margin: number): bigint {
  return BigInt(Math.round(margin * MARGIN_SCALE));
}

/**
 * The threshold rule on counts (caller checks min_canary_tasks and stable >= 1):
 * -1 roll back, +1 promote, 0 continue.
 */
export function thresholdVerdict(
  stablePassed: number,
  stableTasks: number,
  canaryPassed: number,
  canaryTasks: number,
  marginMillionths: bigint,
): -1 | 0 | 1 {
  const cross = BigInt(canaryPassed) * BigInt(stableTasks) - BigInt(stablePassed) * BigInt(canaryTasks); // (rc - rs) * nc * ns
  if (cross >= 0n) return 1;
  // rs - rc > margin  <=>  -cross * 10^6 > marginMillionths * nc * ns
  if (-cross * BigInt(MARGIN_SCALE) > marginMillionths * BigInt(canaryTasks) * BigInt(stableTasks)) return -1;
  return 0;
}
