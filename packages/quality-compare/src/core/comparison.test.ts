import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { comparison, standardizedLogLik } from './comparison.js';
import { decide } from './decide.js';
import { profileLogLik, type PassCounts } from './likelihood.js';
import { arm, evidenceOf, settings } from './test-helpers.js';

const cellArb = fc
  .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 900 }), fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.double({ min: 0.05, max: 0.95, noNaN: true }))
  .map(([nc, ns, a, b]): PassCounts => ({ canaryTasks: nc, stableTasks: ns, canaryPassed: Math.round(a * nc), stablePassed: Math.round(b * ns) }));

describe('standardized comparison', () => {
  it('with one stratum is the unstratified profile likelihood exactly', () => {
    fc.assert(
      fc.property(fc.array(cellArb, { minLength: 1, maxLength: 3 }), fc.double({ min: -0.9, max: 0.9, noNaN: true }), (cells, c) => {
        const cmp = comparison([{ weight: 1, cells }]);
        expect(standardizedLogLik(cmp, c)).toBe(cells.reduce((s, k) => s + profileLogLik(k, c), 0));
      }),
    );
  });

  it('maximises the likelihood over the strata differences with the weighted average pinned (brute force, two strata)', () => {
    fc.assert(
      fc.property(cellArb, cellArb, fc.double({ min: 0.2, max: 0.8, noNaN: true }), fc.double({ min: -0.3, max: 0.3, noNaN: true }), (a, b, w, c) => {
        const cmp = comparison([
          { weight: w, cells: [a] },
          { weight: 1 - w, cells: [b] },
        ]);
        const got = standardizedLogLik(cmp, c);
        let best = -Infinity;
        for (let i = 0; i <= 4000; i++) {
          const t1 = -1 + (2 * i) / 4000;
          const t2 = (c - w * t1) / (1 - w);
          if (t2 < -1 || t2 > 1) continue;
          best = Math.max(best, profileLogLik(a, t1) + profileLogLik(b, t2));
        }
        expect(got).toBeGreaterThanOrEqual(best - 1e-6 * Math.max(1, Math.abs(best)));
        expect(got).toBeLessThanOrEqual(best + 0.05); // the grid is coarse; the optimum is never far above it
      }),
      { numRuns: 60 },
    );
  });

  it('decide with every task in one stratum equals decide without strata', () => {
    fc.assert(
      fc.property(cellArb, cellArb, fc.constantFrom(5, 20, 50), (k1, k2, pctg) => {
        const list = (stratum: string | null) => [
          { percentage: pctg, stratum, canary: arm(k1.canaryPassed, k1.canaryTasks), stable: arm(k1.stablePassed, k1.stableTasks) },
          { percentage: 50, stratum, canary: arm(k2.canaryPassed, k2.canaryTasks), stable: arm(k2.stablePassed, k2.stableTasks) },
        ];
        const a = decide(...evidenceOf(list('all')), settings());
        const b = decide(...evidenceOf(list(null)), settings());
        const { strata, ...rest } = a.evidence;
        expect(strata).toHaveLength(1);
        expect({ ...a, evidence: rest }).toEqual(b);
      }),
      { numRuns: 100 },
    );
  });

  it('counts a regression confined to one stratum fully (a common difference would dilute it)', () => {
    // easy tasks equal, hard tasks 25 points worse; 60 % of tasks are hard
    const d = decide(
      ...evidenceOf([
        { percentage: 20, stratum: 'easy', canary: arm(76, 80), stable: arm(304, 320) },
        { percentage: 20, stratum: 'hard', canary: arm(42, 120), stable: arm(288, 480) },
      ]),
      settings(),
    );
    expect(d.action).toBe('rollback');
    expect(d.evidence.strata!.map((s) => s.stratum)).toEqual(['easy', 'hard']);
    expect(d.evidence.difference!.estimate).toBeCloseTo(0.4 * 0 + 0.6 * (42 / 120 - 0.6), 6);
  });
});
