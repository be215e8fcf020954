import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSettings, decide, evidenceVerdict, prepareEvidence } from './decide.js';
import { StatsInputError } from './errors.js';
import { emptyCanaryEvidence, foldCanaryAssignment, foldCanaryOutcome } from './evidence.js';
import { addOutcome, emptyArmStats } from './stats.js';
import { arm, evidenceOf, fair, settings, window } from './test-helpers.js';
import { DecisionSchema, type ArmStats } from './types.js';

const countsArb = fc
  .tuple(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 1600 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([nc, ns, a, b]) => ({ nc, ns, xc: Math.round(a * nc), xs: Math.round(b * ns) }));

const seqSettingsArb = fc.record({
  minCanaryTasks: fc.integer({ min: 1, max: 50 }),
  rollbackMargin: fc.constantFrom(0, 0.02, 0.05, 0.1, 0.2),
});

describe('sequential policy', () => {
  it('never promotes below min_canary_tasks; a rollback before it needs strong evidence', () => {
    fc.assert(
      fc.property(countsArb, seqSettingsArb, ({ nc, ns, xc, xs }, s) => {
        fc.pre(nc < s.minCanaryTasks);
        const d = decide(...fair(arm(xc, nc), arm(xs, ns)), settings(s));
        expect(d.action).not.toBe('promote');
        if (d.action === 'rollback') expect(d.evidence.statistic!.logEvidenceWorse).toBeGreaterThanOrEqual(Math.log(20));
        else expect(d.rule).toBe('min-tasks');
      }),
    );
    // a disaster does not wait for min_canary_tasks
    expect(decide(...fair(arm(0, 9), arm(400, 400)), settings()).rule).toBe('sequential.rollback');
    expect(decide(...fair(arm(3, 4), arm(300, 400)), settings()).rule).toBe('min-tasks');
  });

  it('needs stable outcomes to compare against', () => {
    const d = decide(...window(arm(30, 30), arm(0, 0), 100), settings());
    expect(d).toMatchObject({ action: 'continue', rule: 'no-stable-outcomes' });
    expect(d.evidence.tasksNeeded).toBeNull();
  });

  it('rolls back clear regressions', () => {
    const d = decide(...fair(arm(11, 24), arm(82, 97)), settings());
    expect(d).toMatchObject({ action: 'rollback', rule: 'sequential.rollback' });
    expect(d.reason).toMatch(/^canary 11\/24 passed \(46 %, 95 % CI \d+-\d+ %\) vs stable 82\/97 passed \(85 %, 95 % CI \d+-\d+ %\); evidence that the canary is worse: e-value [\d.e+]+ >= 20 \(sequential policy, after 24 canary tasks\)$/);
    expect(d.evidence.difference!.interval[0]).toBeLessThan(d.evidence.difference!.estimate);
    expect(d.evidence.statistic!.logEvidenceWorse).toBeGreaterThanOrEqual(Math.log(20));
    expect(d.evidence.tasksNeeded).toBe(0);
    expect(decide(...fair(arm(5, 20), arm(160, 200)), settings()).action).toBe('rollback');
  });

  it('promotes clear improvements and, with enough evidence, equal quality', () => {
    const better = decide(...fair(arm(58, 60), arm(190, 240)), settings());
    expect(better).toMatchObject({ action: 'promote', rule: 'sequential.promote' });
    expect(better.reason).toContain('not worse by more than 10.0 points');
    expect(decide(...fair(arm(160, 200), arm(640, 800)), settings()).action).toBe('promote');
  });

  it('continues while the evidence is inconclusive, with an estimate of the tasks needed', () => {
    const d = decide(...fair(arm(16, 20), arm(64, 80)), settings());
    expect(d).toMatchObject({ action: 'continue', rule: 'sequential.continue' });
    expect(d.evidence.tasksNeeded).toBeGreaterThan(0);
    expect(d.evidence.tasksNeeded).toBeLessThan(1000);
    expect(d.reason).toMatch(/no conclusion yet: .* roughly \d+ more canary tasks needed at the current rates/);
    // following the projection at the same rates does reach a decision at about that size
    const n = 5 * Math.ceil((20 + d.evidence.tasksNeeded!) / 5); // keep the rates exactly 0.8
    const before = 5 * Math.floor((20 + d.evidence.tasksNeeded! - 10) / 5);
    expect(decide(...fair(arm(0.8 * before, before), arm(3.2 * before, 4 * before)), settings()).action).toBe('continue');
    const later = decide(...fair(arm(0.8 * n, n), arm(3.2 * n, 4 * n)), settings());
    expect(later.action).toBe('promote');
  });

  it('tasksNeeded is null when there is nothing to project from', () => {
    expect(decide(emptyCanaryEvidence(), [{ epoch: 0, percentage: 20 }], settings()).evidence.tasksNeeded).toBeNull();
    expect(decide(...fair(arm(0, 0), arm(5, 10)), settings()).evidence.tasksNeeded).toBeNull();
  });

  it('more canary passes never turn a promotion into a rollback (and keep a promotion)', () => {
    fc.assert(
      fc.property(countsArb, seqSettingsArb, ({ nc, ns, xc, xs }, s) => {
        fc.pre(xc < nc);
        const st = settings(s);
        const a = decide(...fair(arm(xc, nc), arm(xs, ns)), st).action;
        const b = decide(...fair(arm(xc + 1, nc), arm(xs, ns)), st).action;
        if (a === 'promote') expect(b).toBe('promote');
        if (b === 'rollback') expect(a).toBe('rollback');
      }),
      { numRuns: 300 },
    );
  });

  it('is invariant to how epochs at the same percentage are split', () => {
    fc.assert(
      fc.property(countsArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(5, 20, 50), fc.constantFrom('sequential', 'threshold' as const), ({ nc, ns, xc, xs }, f, pctg, policy) => {
        const cut = (x: number) => Math.floor(x * f);
        const nc1 = cut(nc);
        const ns1 = cut(ns);
        const xc1 = Math.min(xc, nc1, Math.max(0, xc - (nc - nc1)) + cut(xc - Math.max(0, xc - (nc - nc1))));
        const xs1 = Math.min(xs, ns1, Math.max(0, xs - (ns - ns1)) + cut(xs - Math.max(0, xs - (ns - ns1))));
        const whole = evidenceOf([{ percentage: pctg, canary: arm(xc, nc), stable: arm(xs, ns) }]);
        const split = evidenceOf([
          { percentage: pctg, canary: arm(xc1, nc1), stable: arm(xs1, ns1) },
          { percentage: pctg, canary: arm(xc - xc1, nc - nc1), stable: arm(xs - xs1, ns - ns1) },
        ]);
        const st = settings({ policy, minCanaryTasks: 1 });
        // the per-epoch listing differs by construction; everything the decision rests on does not
        const { evidence: a, ...da } = decide(...split, st, { currentEpoch: 1 });
        const { evidence: b, ...db } = decide(...whole, st);
        if (da.rule !== 'min-tasks' && db.rule !== 'min-tasks') expect(da).toEqual({ ...db, reason: da.reason });
        const strip = ({ epochs: _e, srm: _s, tasksNeeded: _t, ...rest }: typeof a) => rest; // tasksNeeded counts the current epoch
        expect(strip(a)).toEqual(strip(b));
        expect(a.srm?.pValue).toEqual(b.srm?.pValue);
      }),
      { numRuns: 200 },
    );
  });

  it('intervals contain the estimates and lie in range; the confidence sequence agrees with the tests', () => {
    fc.assert(
      fc.property(countsArb, seqSettingsArb, fc.constantFrom('sequential', 'threshold' as const), ({ nc, ns, xc, xs }, s, policy) => {
        const d = decide(...fair(arm(xc, nc), arm(xs, ns)), settings({ ...s, policy }));
        expect(DecisionSchema.safeParse(d).success).toBe(true);
        for (const a of [d.evidence.canary, d.evidence.stable]) {
          const [lo, hi] = a.interval!;
          expect(lo).toBeGreaterThanOrEqual(0);
          expect(hi).toBeLessThanOrEqual(1);
          expect(lo).toBeLessThanOrEqual(a.passRate!);
          expect(hi).toBeGreaterThanOrEqual(a.passRate!);
        }
        const { estimate, interval } = d.evidence.difference!;
        expect(interval[0]).toBeGreaterThanOrEqual(-1);
        expect(interval[1]).toBeLessThanOrEqual(1);
        expect(interval[0]).toBeLessThanOrEqual(estimate);
        expect(interval[1]).toBeGreaterThanOrEqual(estimate);
      }),
      { numRuns: 200 },
    );
  });

  it('evidenceVerdict is the verdict of decide', () => {
    const c = compileSettings(settings());
    expect(evidenceVerdict(c, prepareEvidence(...fair(arm(11, 24), arm(82, 97)))).rule).toBe('sequential.rollback');
    expect(evidenceVerdict(c, prepareEvidence(...fair(arm(8, 9), arm(82, 97)))).rule).toBe('min-tasks');
  });

  it('rejects invalid settings', () => {
    expect(() => decide(emptyCanaryEvidence(), [], settings({ minCanaryTasks: 0 }))).toThrow(StatsInputError);
    expect(() => decide(emptyCanaryEvidence(), [], settings({ rollbackMargin: -0.1 }))).toThrow(StatsInputError);
  });
});

describe('sample ratio mismatch', () => {
  it('holds a would-be promotion and says why', () => {
    // canary got 50 % of the outcomes at a configured 20 %
    const d = decide(...window(arm(196, 200), arm(150, 200), 20), settings());
    expect(d).toMatchObject({ action: 'continue', rule: 'srm-hold' });
    expect(d.reason).toMatch(/^promotion held by a sample ratio mismatch: the canary got 50 % of the routed tasks at a configured 20 % \(epoch 0; p = .+ < 0\.001\)/);
    expect(d.evidence.srm).toMatchObject({ expectedShare: 0.2, observedShare: 0.5, holding: true });
    expect(d.evidence.srm!.pValue).toBeLessThan(0.001);
    // same counts at the right percentage: promoted
    expect(decide(...window(arm(196, 200), arm(150, 200), 50), settings()).action).toBe('promote');
    // the threshold policy is held too
    expect(decide(...window(arm(196, 200), arm(150, 200), 20), settings({ policy: 'threshold' })).rule).toBe('srm-hold');
  });

  it('does not hold a rollback', () => {
    const d = decide(...window(arm(60, 200), arm(180, 200), 20), settings());
    expect(d).toMatchObject({ action: 'rollback', rule: 'sequential.rollback' });
    expect(d.evidence.srm!.holding).toBe(true);
  });

  it('is tested per percentage: any mismatched epoch holds', () => {
    const d = decide(
      ...evidenceOf([
        { percentage: 20, canary: arm(20, 20), stable: arm(65, 80) }, // fine
        { percentage: 50, canary: arm(190, 190), stable: arm(8, 10) }, // 95 % at 50 %
      ]),
      settings(),
    );
    expect(d.rule).toBe('srm-hold');
    expect(d.evidence.srm).toMatchObject({ expectedShare: 0.5, holding: true });
  });

  it('reports a p-value near 1 when the share matches', () => {
    const d = decide(...window(arm(16, 20), arm(64, 80), 20), settings());
    expect(d.evidence.srm!.pValue).toBeGreaterThan(0.9);
    expect(d.evidence.srm!.holding).toBe(false);
  });
});

describe('guardrails', () => {
  const withMetric = (a: ArmStats, metric: 'costUsd' | 'durationMs', values: number[]) =>
    values.reduce((acc, v) => addOutcome(acc, { passed: true, [metric]: v }), { ...a, tasks: a.tasks - values.length, passed: a.passed - values.length });
  const noisy = (n: number, mean: number, spread: number) => Array.from({ length: n }, (_, i) => mean + spread * (((i * 7919) % 13) / 6 - 1));

  it('rolls back when the canary is clearly above the limit, naming the metric', () => {
    const canary = withMetric(arm(30, 30), 'costUsd', noisy(30, 0.1, 0.02));
    const stable = withMetric(arm(120, 120), 'costUsd', noisy(120, 0.05, 0.01));
    const d = decide(...fair(canary, stable), settings({ guardrails: { costUsd: { maxIncrease: 0.5 }, durationMs: null } }));
    expect(d).toMatchObject({ action: 'rollback', rule: 'guardrail.costUsd' });
    expect(d.reason).toMatch(/^costUsd guardrail breached: canary mean 0\.0\d+ vs stable 0\.0\d+ \(\+\d+ %\), above the \+50 % limit/);
    expect(d.evidence.guardrails).toHaveLength(1);
    const g = d.evidence.guardrails![0]!;
    expect(g).toMatchObject({ metric: 'costUsd', breached: true });
    expect(g.stableMean).toBeCloseTo(0.05, 2);
    expect(g.canaryMean).toBeCloseTo(0.1, 1);
    expect(g.limit).toBeCloseTo(1.5 * g.stableMean, 12);

    const slow = withMetric(arm(30, 30), 'durationMs', noisy(30, 9000, 500));
    const fast = withMetric(arm(120, 120), 'durationMs', noisy(120, 3000, 500));
    const d2 = decide(...fair(slow, fast), settings({ guardrails: { costUsd: null, durationMs: { maxIncrease: 1 } } }));
    expect(d2.rule).toBe('guardrail.durationMs');
  });

  it('does not fire on noise, on too few samples, or when switched off', () => {
    const st = settings({ guardrails: { costUsd: { maxIncrease: 0.5 }, durationMs: null } });
    // canary mean above the limit but very noisy
    const noisyCanary = withMetric(arm(30, 30), 'costUsd', noisy(30, 0.08, 0.08));
    const stable = withMetric(arm(120, 120), 'costUsd', noisy(120, 0.05, 0.05));
    const d = decide(...fair(noisyCanary, stable), st);
    expect(d.rule).not.toMatch(/^guardrail/);
    expect(d.evidence.guardrails![0]!.breached).toBe(false);
    // clearly above, but only 15 canary samples
    const few = withMetric(arm(15, 15), 'costUsd', noisy(15, 0.2, 0.01));
    expect(decide(...fair(few, stable), st).rule).not.toMatch(/^guardrail/);
    // switched off
    const clear = withMetric(arm(30, 30), 'costUsd', noisy(30, 0.2, 0.01));
    expect(decide(...fair(clear, stable), settings()).rule).not.toMatch(/^guardrail/);
    expect(decide(...fair(clear, stable), st).rule).toBe('guardrail.costUsd');
    // waits for min_canary_tasks too
    expect(decide(...fair(clear, stable), settings({ ...st, minCanaryTasks: 40 })).rule).toBe('min-tasks');
  });

  it('is checked before the pass-rate policy', () => {
    const canary = withMetric(arm(40, 40), 'costUsd', noisy(40, 1, 0.1));
    const stable = withMetric(arm(100, 160), 'costUsd', noisy(160, 0.1, 0.01));
    const d = decide(...fair(canary, stable), settings({ guardrails: { costUsd: { maxIncrease: 0.2 }, durationMs: null } }));
    expect(d.rule).toBe('guardrail.costUsd'); // although the canary's pass rate is far better
  });
});

describe('decide output', () => {
  it('is JSON-safe and valid against DecisionSchema', () => {
    const outcomes = Array.from({ length: 50 }, (_, i) => ({ passed: i % 5 !== 0, gates: { tests: i % 3 !== 0 }, costUsd: 0.01 * (i % 7), durationMs: 1000 + i }));
    const a = outcomes.reduce(addOutcome, emptyArmStats());
    for (const policy of ['sequential', 'threshold'] as const) {
      const d = decide(...fair(a, mergeTimes(a, 4)), settings({ policy, guardrails: { costUsd: { maxIncrease: 0.1 }, durationMs: { maxIncrease: 0.1 } } }));
      expect(JSON.parse(JSON.stringify(d))).toEqual(d);
      expect(DecisionSchema.parse(d)).toEqual(d);
    }
  });
});

function mergeTimes(a: ArmStats, k: number): ArmStats {
  let out = emptyArmStats();
  for (let i = 0; i < k; i++) out = { ...out, tasks: out.tasks + a.tasks, passed: out.passed + a.passed };
  return { ...out, costUsd: a.costUsd && { ...a.costUsd, n: a.costUsd.n * k, sum: a.costUsd.sum * k, sumSq: a.costUsd.sumSq * k }, durationMs: null };
}

describe('settings schema', () => {
  it('fills the defaults and rejects bad values', async () => {
    const { DecisionSettingsSchema, DEFAULT_DECISION_SETTINGS } = await import('./types.js');
    expect(DecisionSettingsSchema.parse({})).toEqual(DEFAULT_DECISION_SETTINGS);
    expect(DecisionSettingsSchema.parse({ guardrails: { costUsd: { maxIncrease: 0.5 } } }).guardrails).toEqual({ costUsd: { maxIncrease: 0.5 }, durationMs: null });
    expect(DecisionSettingsSchema.safeParse({ policy: 'bayes' }).success).toBe(false);
    expect(DecisionSettingsSchema.safeParse({ minCanaryTasks: 0 }).success).toBe(false);
    expect(DecisionSettingsSchema.safeParse({ rollbackMargin: 1.5 }).success).toBe(false);
  });
});

describe('evidence over the canary life', () => {
  const fold = (spec: Array<{ epoch: number; arm: 'stable' | 'canary'; passed: boolean | 'timeout' | 'pending'; gates?: Record<string, boolean> }>) => {
    const ev = emptyCanaryEvidence();
    spec.forEach((t, i) => foldCanaryAssignment(ev, { taskId: `t${i}`, epoch: t.epoch, arm: t.arm }));
    spec.forEach((t, i) => {
      if (t.passed === 'pending') return;
      if (t.passed === 'timeout') foldCanaryOutcome(ev, { taskId: `t${i}`, epoch: t.epoch, arm: t.arm, kind: 'timeout', sample: { passed: false } });
      else foldCanaryOutcome(ev, { taskId: `t${i}`, epoch: t.epoch, arm: t.arm, kind: 'outcome', sample: { passed: t.passed, ...(t.gates ? { gates: t.gates } : {}) } });
    });
    return ev;
  };
  const tasks = (n: number, epoch: number, arm: 'stable' | 'canary', passRate: number, extra: Partial<{ gates: (i: number) => Record<string, boolean>; passed: 'timeout' | 'pending' }> = {}) =>
    Array.from({ length: n }, (_, i) => ({ epoch, arm, passed: extra.passed ?? i < Math.round(passRate * n), ...(extra.gates ? { gates: extra.gates(i) } : {}) }));

  it('tests SRM on assignments: canary outcomes that lag do not look like a mismatch', () => {
    // 20 % routed to the canary, but only 10 of its 50 outcomes have arrived
    const spec = [...tasks(10, 0, 'canary', 0.9), ...tasks(200, 0, 'stable', 0.8), ...tasks(40, 0, 'canary', 0, { passed: 'pending' })];
    const d = decide(fold(spec), [{ epoch: 0, percentage: 20 }], settings());
    expect(d.evidence.srm).toMatchObject({ expectedShare: 0.2, observedShare: 0.2, holding: false });
    expect(d.evidence.awaiting).toEqual({ stable: 0, canary: 40 });
  });

  it('reports per-epoch evidence, timeouts as failures and differential attrition', () => {
    const spec = [...tasks(300, 0, 'stable', 0.8), ...tasks(40, 0, 'canary', 0.8), ...tasks(35, 0, 'canary', 0, { passed: 'timeout' })];
    const d = decide(fold(spec), [{ epoch: 0, percentage: 20 }], settings());
    expect(d.evidence.canary).toMatchObject({ tasks: 75, passed: 32 });
    expect(d.evidence.epochs![0]!.canary).toMatchObject({ assigned: 75, timedOut: 35, awaiting: 0 });
    expect(d.evidence.attrition).toMatchObject({ differential: true, canary: { timedOut: 35 }, stable: { timedOut: 0 } });
    expect(d.action).toBe('rollback');
  });

  it('needs min_canary_tasks in the current epoch to promote or step, but not to roll back', () => {
    const good = [...tasks(400, 0, 'stable', 0.8), ...tasks(100, 0, 'canary', 0.9), ...tasks(40, 1, 'stable', 0.8), ...tasks(5, 1, 'canary', 1)];
    const epochs = [{ epoch: 0, percentage: 20 }, { epoch: 1, percentage: 11 }];
    const held = decide(fold(good), epochs, settings(), { currentEpoch: 1 });
    expect(held.rule).toBe('min-tasks');
    expect(held.reason).toMatch(/only 5 of 10 canary outcomes in the current epoch/);
    expect(decide(fold(good.slice(0, 500)), epochs.slice(0, 1), settings()).rule).toBe('sequential.promote');
    const bad = [...tasks(400, 0, 'stable', 0.8), ...tasks(100, 0, 'canary', 0.5), ...tasks(40, 1, 'stable', 0.8), ...tasks(5, 1, 'canary', 0.4)];
    expect(decide(fold(bad), epochs, settings(), { currentEpoch: 1 }).rule).toBe('sequential.rollback');
  });

  it('splits the family alpha over guardrails and gates, and rolls back on a gate', () => {
    const gate = (ok: number) => (i: number) => ({ lint: true, tests: i % 100 < ok });
    const spec = [...tasks(400, 0, 'stable', 0.8, { gates: gate(95) }), ...tasks(100, 0, 'canary', 0.8, { gates: gate(50) })];
    const d = decide(fold(spec), [{ epoch: 0, percentage: 20 }], settings({ guardrails: { costUsd: { maxIncrease: 0.5 }, durationMs: null } }));
    expect(d.evidence.statistic).toMatchObject({ alphaGuardrails: 0.01, alphaGates: 0.01 });
    expect(d.evidence.statistic!.alphaRollback).toBeCloseTo(0.03, 12);
    expect(d.rule).toBe('gate.tests');
    expect(d.reason).toMatch(/^gate tests: canary 50\/100 passed .* e-value .* >= 200 /);
    expect(d.evidence.gates!.map((g) => [g.gate, g.breached, g.alpha])).toEqual([
      ['lint', false, 0.005],
      ['tests', true, 0.005],
    ]);
    const plain = decide(fold(tasks(400, 0, 'stable', 0.8).concat(tasks(100, 0, 'canary', 0.8))), [{ epoch: 0, percentage: 20 }], settings());
    expect(plain.evidence.statistic).toMatchObject({ alphaRollback: 0.05, alphaGuardrails: 0, alphaGates: 0 });
  });

  it('reports a difference interval that shrinks with n (a confidence sequence)', () => {
    const width = (n: number) => {
      const d = decide(...fair(arm(0.8 * n, n), arm(3.2 * n, 4 * n)), settings());
      return d.evidence.difference!.interval[1] - d.evidence.difference!.interval[0];
    };
    expect(width(100)).toBeGreaterThan(width(1000));
    expect(width(1000)).toBeGreaterThan(width(10_000));
    expect(width(10_000)).toBeLessThan(0.05);
  });
});
