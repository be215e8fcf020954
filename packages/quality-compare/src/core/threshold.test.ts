import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import { arm, settings, window } from './test-helpers.js';
import { thresholdVerdict, scaledMargin } from './threshold.js';

const threshold = (overrides = {}) => settings({ policy: 'threshold', ...overrides });

/** [canary passed, canary tasks, stable passed, stable tasks, margin, minCanaryTasks, expected rule] */
const CASES: Array<[number, number, number, number, number, number, string]> = [
  // below min_canary_tasks: nothing, whatever the rates
  [0, 9, 100, 100, 0.1, 10, 'min-tasks'],
  [9, 9, 0, 100, 0.1, 10, 'min-tasks'],
  // enough canary outcomes but no stable outcome
  [10, 10, 0, 0, 0.1, 10, 'no-stable-outcomes'],
  // exactly min_canary_tasks: decides
  [10, 10, 1, 1, 0.1, 10, 'threshold.promote'],
  // promote: canary >= stable (equality included)
  [8, 10, 40, 50, 0.1, 10, 'threshold.promote'],
  [9, 10, 80, 100, 0.1, 10, 'threshold.promote'],
  [0, 10, 0, 50, 0.1, 10, 'threshold.promote'],
  // the SPEC's boundary: 0.9 vs 1.0 with margin 0.10 is not > 0.10 -> continue
  [9, 10, 10, 10, 0.1, 10, 'threshold.continue'],
  [8, 10, 10, 10, 0.1, 10, 'threshold.rollback'],
  // exact differences of 0.1 that binary floating point gets wrong (0.8 - 0.7 > 0.1 in doubles)
  [7, 10, 8, 10, 0.1, 10, 'threshold.continue'],
  [17, 20, 19, 20, 0.1, 10, 'threshold.continue'],
  [69, 100, 79, 100, 0.1, 10, 'threshold.continue'],
  [68, 100, 79, 100, 0.1, 10, 'threshold.rollback'],
  [6, 10, 7, 10, 0.1, 10, 'threshold.continue'],
  // just below stable, inside the margin
  [799, 1000, 80, 100, 0.1, 10, 'threshold.continue'],
  // margin 0: any shortfall rolls back, equality promotes
  [799, 1000, 8, 10, 0, 10, 'threshold.rollback'],
  [8, 10, 80, 100, 0, 10, 'threshold.promote'],
  // other margins, boundaries included
  [7, 10, 17, 20, 0.15, 10, 'threshold.continue'],
  [13, 20, 17, 20, 0.15, 10, 'threshold.rollback'],
  [0, 10, 10, 10, 1, 10, 'threshold.continue'],
  [1, 3, 2, 3, 1 / 3, 1, 'threshold.rollback'], // margin rounds to 0.333333 and 1/3 > 0.333333
  [1, 3, 2, 3, 0.333334, 1, 'threshold.continue'],
  // min_canary_tasks 1
  [1, 1, 1, 2, 0.1, 1, 'threshold.promote'],
  [0, 1, 1, 2, 0.1, 1, 'threshold.rollback'],
];

describe('threshold policy (the seed rule, literally)', () => {
  it.each(CASES)('canary %i/%i vs stable %i/%i, margin %d, min %i -> %s', (cp, ct, sp, st, margin, min, rule) => {
    const d = decide(...window(arm(cp, ct), arm(sp, st), (100 * ct) / Math.max(1, ct + st)), threshold({ rollbackMargin: margin, minCanaryTasks: min }));
    expect(d.rule).toBe(rule);
    const expected = rule.endsWith('promote') ? 'promote' : rule.endsWith('rollback') ? 'rollback' : 'continue';
    expect(d.action).toBe(expected);
    expect(d.evidence.policy).toBe('threshold');
    expect(d.evidence.canary).toMatchObject({ tasks: ct, passed: cp });
    expect(d.evidence.stable).toMatchObject({ tasks: st, passed: sp });
  });

  it('takes the margin to 6 decimals', () => {
    // difference exactly 1/3; margin 1/3 -> 0.333333, and 1/3 > 0.333333: rollback
    expect(thresholdVerdict(2, 3, 1, 3, scaledMargin(1 / 3))).toBe(-1);
    expect(thresholdVerdict(2, 3, 1, 3, scaledMargin(0.333334))).toBe(0);
  });

  it('does not overflow with very large counts', () => {
    expect(thresholdVerdict(8e9, 1e10, 7e9, 1e10, scaledMargin(0.1))).toBe(0);
    expect(thresholdVerdict(8e9, 1e10, 7e9 - 1, 1e10, scaledMargin(0.1))).toBe(-1);
    expect(thresholdVerdict(8e9, 1e10, 8e9, 1e10, scaledMargin(0.1))).toBe(1);
  });

  it('says why in one sentence with the numbers', () => {
    const d = decide(...window(arm(9, 10), arm(40, 40), 20), threshold());
    expect(d.reason).toMatch(/canary 9\/10 passed \(90 %, 95 % CI \d+-\d+ %\) vs stable 40\/40 passed \(100 %/);
    expect(d.reason).toContain('not more than the margin of 10.0 points');
    expect(d.evidence.tasksNeeded).toBeNull();
    const early = decide(...window(arm(5, 5), arm(20, 25), 20), threshold());
    expect(early.rule).toBe('min-tasks');
    expect(early.evidence.tasksNeeded).toBe(5);
  });
});
