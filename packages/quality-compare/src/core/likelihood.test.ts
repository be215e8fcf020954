import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binomialLogLik, maxLogLik, profileLogLik, restrictedMle, type PassCounts } from './likelihood.js';

const countsArb: fc.Arbitrary<PassCounts> = fc
  .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([nc, ns, a, b]) => ({ canaryTasks: nc, canaryPassed: Math.round(a * nc), stableTasks: ns, stablePassed: Math.round(b * ns) }));

/** Brute force: maximise over the stable rate on a grid, then refine by ternary search (concave). */
function bruteProfile(k: PassCounts, d: number): number {
  const lo = Math.max(0, -d);
  const hi = Math.min(1, 1 - d);
  const f = (ps: number) => binomialLogLik(k.canaryPassed, k.canaryTasks, ps + d) + binomialLogLik(k.stablePassed, k.stableTasks, ps);
  const steps = 2000;
  let bestI = 0;
  let best = -Infinity;
  for (let i = 0; i <= steps; i++) {
    const v = f(lo + ((hi - lo) * i) / steps);
    if (v > best) [best, bestI] = [v, i];
  }
  let a = lo + ((hi - lo) * Math.max(0, bestI - 1)) / steps;
  let b = lo + ((hi - lo) * Math.min(steps, bestI + 1)) / steps;
  for (let i = 0; i < 200; i++) {
    const m1 = a + (b - a) / 3;
    const m2 = b - (b - a) / 3;
    if (f(m1) < f(m2)) a = m1;
    else b = m2;
  }
  return Math.max(best, f((a + b) / 2));
}

describe('profile likelihood of the difference', () => {
  it('the Farrington-Manning restricted MLE matches a brute-force maximisation', () => {
    fc.assert(
      fc.property(countsArb, fc.double({ min: -0.95, max: 0.95, noNaN: true }), (k, d) => {
        const fm = profileLogLik(k, d);
        const brute = bruteProfile(k, d);
        if (brute === -Infinity) return; // impossible data under this d
        expect(fm).toBeGreaterThanOrEqual(brute - 1e-6);
        expect(fm).toBeLessThanOrEqual(brute + 1e-6);
        const [pc, ps] = restrictedMle(k.canaryPassed, k.canaryTasks, k.stablePassed, k.stableTasks, d);
        expect(pc - ps).toBeCloseTo(d, 12);
        expect(pc).toBeGreaterThanOrEqual(0);
        expect(pc).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });

  it('is maximal at the observed difference and concave', () => {
    fc.assert(
      fc.property(countsArb, (k) => {
        const est = k.canaryPassed / k.canaryTasks - k.stablePassed / k.stableTasks;
        expect(profileLogLik(k, est)).toBeCloseTo(maxLogLik(k), 8);
        const grid = Array.from({ length: 41 }, (_, i) => -0.98 + (1.96 * i) / 40).map((d) => profileLogLik(k, d));
        for (let i = 1; i + 1 < grid.length; i++) {
          const [a, b, c] = [grid[i - 1]!, grid[i]!, grid[i + 1]!];
          if ([a, b, c].some((x) => !Number.isFinite(x))) continue;
          expect(a + c - 2 * b).toBeLessThanOrEqual(1e-7 * (1 + Math.abs(b)));
        }
      }),
      { numRuns: 100 },
    );
  });
});
