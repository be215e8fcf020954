import { describe, expect, it } from 'vitest';
import { decide } from './decide.js';
import { Xoshiro128 } from './rng.js';
import { decisionQualityTable, simulate, simulateBoth } from './simulate.js';
import { simulateRun, simulateScenario, type Scenario } from './simulate-engine.js';
import { intervalWidth, scenarioTable } from './simulate-table.js';
import { settings } from './test-helpers.js';

const base = { stablePassRate: 0.8, share: 0.2, canaries: 300, maxCanaryTasks: 1000, seed: 42 };

describe('PRNG', () => {
  it('is reproducible per (seed, stream) and roughly uniform', () => {
    const a = new Xoshiro128(1, 5);
    const b = new Xoshiro128(1, 5);
    const c = new Xoshiro128(1, 6);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('simulator', () => {
  it('drives the production fold and verdict: every evaluation replays through decide', () => {
    const scenarios: Scenario[] = [
      { stable: 0.8, canaryDelta: 0, maxCanaryTasks: 150 },
      { stable: 0.8, canaryDelta: -0.2, maxCanaryTasks: 150 },
      { stable: 0.8, canaryDelta: 0, steps: [5, 25, 50, 100], maxCanaryTasks: 120 },
      { stable: { from: 0.85, to: 0.65, overTicks: 600 }, canaryDelta: -0.1, shares: [{ fromTick: 0, percentage: 10 }, { fromTick: 200, percentage: 40 }], maxCanaryTasks: 100 },
      { stable: 0.8, canaryDelta: -0.2, arms: { canary: { fail: { mean: 60 }, missing: 0.05 } }, timeoutTicks: 80, maxCanaryTasks: 100 },
      { stable: 0, canaryDelta: 0, strata: [{ label: 'easy', weight: 0.4, stable: 0.95, canary: 0.85 }, { label: 'hard', weight: 0.6, stable: 0.6, canary: 0.5 }], maxCanaryTasks: 100 },
      { stable: 0.8, canaryDelta: 0.1, maxCanaryTasks: 100, settings: { policy: 'threshold' } },
    ];
    let steps = 0;
    for (const s of scenarios) {
      for (let i = 0; i < 3; i++) {
        simulateRun(s, 'now', 7, i, undefined, (step) => {
          steps++;
          const d = decide(step.evidence, step.epochs, settings(s.settings ?? {}), { currentEpoch: step.currentEpoch });
          expect([d.action, d.rule]).toEqual([step.action, step.rule]);
        });
      }
    }
    expect(steps).toBeGreaterThan(500);
  });

  it('is deterministic for a seed and counts every canary once', () => {
    const p = { ...base, canaryPassRate: 0.7, canaries: 100 };
    const { elapsedMs: _a, ...r1 } = simulate(p);
    const { elapsedMs: _b, ...r2 } = simulate(p);
    expect(r1).toEqual(r2);
    expect(r1.promoted.count + r1.rolledBack.count + r1.undecided.count).toBe(100);
  });

  it('shows the threshold rule weakness and the sequential policy beating it', () => {
    const equal = simulateBoth({ ...base, canaryPassRate: 0.8 });
    const worse = simulateBoth({ ...base, canaryPassRate: 0.6 });
    expect(equal.threshold.rolledBack.rate).toBeGreaterThan(0.2);
    expect(worse.threshold.promoted.rate).toBeGreaterThan(0.08);
    expect(equal.sequential.rolledBack.rate).toBeLessThan(0.08);
    expect(worse.sequential.promoted.rate).toBeLessThan(0.03);
    expect(worse.sequential.canaryTasksToDecision.rollback.median).toBeLessThan(40);
  });

  it('routes, delays, times out and stratifies as asked', () => {
    // a canary whose failures never report: only the timeout can roll it back
    const silent: Scenario = { stable: 0.8, canaryDelta: -0.5, arms: { canary: { fail: 1e9 } }, timeoutTicks: 100, maxCanaryTasks: 300 };
    expect(simulateScenario(silent, 'now', 20, 1).rolledBack).toBe(1);
    expect(simulateScenario(silent, 'today', 20, 1).rolledBack).toBe(0);
    // at 100 % without steps nothing reaches stable
    expect(simulateScenario({ stable: 0.8, canaryDelta: 0, shares: [{ fromTick: 0, percentage: 100 }], maxCanaryTasks: 50 }, 'today', 5, 1).undecided).toBe(1);
    // a ramp advances only after min_canary_tasks canary outcomes in the step
    const ramp = simulateScenario({ stable: 0.8, canaryDelta: 0.1, steps: [5, 25, 50, 100], maxCanaryTasks: 1000 }, 'now', 30, 1);
    expect(ramp.minStepCanaryOutcomes).toBeGreaterThanOrEqual(10);
    expect(ramp.stalledAtFull).toBe(0);
  });

  it('validates its parameters', () => {
    expect(() => simulate({ ...base, canaryPassRate: 1.2 })).toThrow(RangeError);
    expect(() => simulate({ ...base, canaryPassRate: 0.8, share: 0 })).toThrow(RangeError);
    expect(() => simulate({ ...base, canaryPassRate: 0.8, canaries: 0 })).toThrow(RangeError);
  });

  it('builds the SPEC table in a structured form, with the previous rule beside it', () => {
    const t = decisionQualityTable({ quick: true, seed: 1, canaries: 60 });
    expect(t.canaries).toBe(60);
    expect(t.rows.map((r) => r.canaryPassRate)).toEqual([0.8, 0.6, 0.7, 0.9]);
    const seqTargets = t.rows.flatMap((r) => r.checks.filter((c) => c.policy === 'sequential'));
    expect(seqTargets).toHaveLength(6);
    expect(seqTargets.every((c) => c.today !== undefined)).toBe(true);
    expect(t.rows.flatMap((r) => r.checks.filter((c) => c.kind === 'baseline'))).toHaveLength(2);
  });

  it('builds the scenario table rows with both columns and a target', () => {
    const t = scenarioTable({ quick: true, only: ['clearly-bad-early', 'full-without-steps', 'interval-width'] });
    expect(t.rows.map((r) => r.id)).toEqual(['clearly-bad-early', 'full-without-steps', 'interval-width']);
    const bad = t.rows[0]!;
    expect(bad.today.value).toBe(10); // the previous rule waited for min_canary_tasks
    expect(bad.now.value).toBeLessThan(10);
    expect(t.rows[1]!.now.shown).toMatch(/refused/);
    expect(intervalWidth('now', 10_000)).toBeLessThan(0.05);
    expect(intervalWidth('now', 1e6)).toBeLessThan(intervalWidth('now', 10_000));
    expect(intervalWidth('today', 10_000)).toBeGreaterThan(0.1);
  });
});
