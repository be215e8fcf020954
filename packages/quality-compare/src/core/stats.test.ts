import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addOutcome, emptyArmStats, mergeArmStats, metricMean, metricVariance } from './stats.js';
import { ArmStatsSchema, type ArmStats, type OutcomeSample } from './types.js';

const outcome: fc.Arbitrary<OutcomeSample> = fc.record(
  {
    passed: fc.boolean(),
    gates: fc.dictionary(fc.constantFrom('lint', 'tests', 'types'), fc.boolean(), { maxKeys: 3 }),
    // integer-valued metrics keep floating-point sums exact, so equality is exact
    costUsd: fc.integer({ min: 0, max: 1000 }),
    durationMs: fc.integer({ min: 0, max: 100000 }),
  },
  { requiredKeys: ['passed'] },
);
const armArb: fc.Arbitrary<ArmStats> = fc.array(outcome, { maxLength: 20 }).map((os) => os.reduce(addOutcome, emptyArmStats()));

describe('arm statistics', () => {
  it('addOutcome counts passes, gates and metrics, and does not modify its input', () => {
    const a0 = emptyArmStats();
    const a1 = addOutcome(a0, { passed: true, gates: { lint: true, tests: false }, costUsd: 0.5, durationMs: 1000 });
    const a2 = addOutcome(a1, { passed: false, gates: { tests: true } });
    expect(a0).toEqual(emptyArmStats());
    expect(a1.gates).toEqual({ lint: { tasks: 1, passed: 1 }, tests: { tasks: 1, passed: 0 } });
    expect(a2).toEqual({
      tasks: 2,
      passed: 1,
      gates: { lint: { tasks: 1, passed: 1 }, tests: { tasks: 2, passed: 1 } },
      costUsd: { n: 1, sum: 0.5, sumSq: 0.25, min: 0.5, max: 0.5 },
      durationMs: { n: 1, sum: 1000, sumSq: 1e6, min: 1000, max: 1000 },
    });
    expect(ArmStatsSchema.parse(a2)).toEqual(a2);
  });

  it('rejects non-finite metric values', () => {
    expect(() => addOutcome(emptyArmStats(), { passed: true, costUsd: Number.NaN })).toThrow(RangeError);
  });

  it('computes mean and unbiased variance', () => {
    const a = [1, 2, 3, 4].reduce((acc, v) => addOutcome(acc, { passed: true, costUsd: v }), emptyArmStats());
    expect(metricMean(a.costUsd!)).toBe(2.5);
    expect(metricVariance(a.costUsd!)).toBeCloseTo(5 / 3, 12);
  });

  it('mergeArmStats is associative and commutative, with emptyArmStats as identity', () => {
    fc.assert(
      fc.property(armArb, armArb, armArb, (a, b, c) => {
        expect(mergeArmStats(mergeArmStats(a, b), c)).toEqual(mergeArmStats(a, mergeArmStats(b, c)));
        expect(mergeArmStats(a, b)).toEqual(mergeArmStats(b, a));
        expect(mergeArmStats(a, emptyArmStats())).toEqual(a);
      }),
    );
  });

  it('folding outcomes one by one equals merging the folds of any split', () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 30 }), fc.nat(), (os, cut) => {
        const k = os.length === 0 ? 0 : cut % (os.length + 1);
        const all = os.reduce(addOutcome, emptyArmStats());
        const left = os.slice(0, k).reduce(addOutcome, emptyArmStats());
        const right = os.slice(k).reduce(addOutcome, emptyArmStats());
        expect(mergeArmStats(left, right)).toEqual(all);
        expect(ArmStatsSchema.safeParse(all).success).toBe(true);
      }),
    );
  });
});
