import binomialCdf from '@stdlib/stats-base-dists-binomial-cdf';
import type { SrmEvidence } from './types.js';

/** Automatic promotion is held when any epoch's sample-ratio test has p below this. */
export const SRM_ALPHA = 0.001;

/**
 * Exact two-sided binomial test of `canary` canary outcomes out of `total` against the configured
 * share (p-value by doubling the smaller tail, capped at 1).
 */
export function srmPValue(canary: number, total: number, expectedShare: number): number {
  if (total <= 0) return 1;
  if (expectedShare <= 0) return canary === 0 ? 1 : 0;
  if (expectedShare >= 1) return canary === total ? 1 : 0;
  const lower = binomialCdf(canary, total, expectedShare);
  const upper = canary <= 0 ? 1 : 1 - binomialCdf(canary - 1, total, expectedShare);
  return Math.min(1, 2 * Math.min(lower, upper));
}

export interface SrmGroup {
  percentage: number;
  /** the epochs at this percentage (pooled: splitting an epoch never changes the test) */
  epochs: number[];
  /** tasks routed to each arm (assignments, not outcomes: lagging outcomes never look like a mismatch) */
  canary: number;
  total: number;
  pValue: number;
}

/**
 * Per configured percentage, test the canary's share of ASSIGNMENTS against the percentage.
 * Returns every group and the evidence of the worst one (smallest p), or null with no assignments.
 */
export function srmCheck(assigned: ReadonlyArray<{ epoch: number; percentage: number; stable: number; canary: number }>): { groups: SrmGroup[]; evidence: SrmEvidence | null } {
  const byPct = new Map<number, { epochs: number[]; canary: number; total: number }>();
  for (const e of assigned) {
    const g = byPct.get(e.percentage) ?? { epochs: [], canary: 0, total: 0 };
    g.epochs.push(e.epoch);
    g.canary += e.canary;
    g.total += e.canary + e.stable;
    byPct.set(e.percentage, g);
  }
  const groups: SrmGroup[] = [];
  for (const [percentage, g] of [...byPct.entries()].sort((a, b) => a[0] - b[0])) {
    if (g.total === 0) continue;
    groups.push({ percentage, epochs: g.epochs.sort((a, b) => a - b), canary: g.canary, total: g.total, pValue: srmPValue(g.canary, g.total, percentage / 100) });
  }
  let worst: SrmGroup | null = null;
  for (const g of groups) if (worst === null || g.pValue < worst.pValue) worst = g;
  if (worst === null) return { groups, evidence: null };
  return {
    groups,
    evidence: {
      pValue: worst.pValue,
      expectedShare: worst.percentage / 100,
      observedShare: worst.canary / worst.total,
      holding: worst.pValue < SRM_ALPHA,
      epochs: worst.epochs,
      groups: groups.map((g) => ({ percentage: g.percentage, epochs: g.epochs, canary: g.canary, total: g.total, pValue: g.pValue, holding: g.pValue < SRM_ALPHA })),
    },
  };
}
