import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, type EpochConfig } from './decide.js';
import { StatsInputError } from './errors.js';
import {
  canaryEvidenceSummary,
  CanaryEvidenceSchema,
  emptyCanaryEvidence,
  foldCanaryAssignment,
  foldCanaryOutcome,
  type CanaryAssignment,
  type CanaryEvidence,
  type CanaryResolution,
} from './evidence.js';
import { settings } from './test-helpers.js';
import { DecisionSchema } from './types.js';

type Rec = { type: 'assign'; a: CanaryAssignment } | { type: 'resolve'; o: CanaryResolution };

interface TaskSpec {
  arm: 'stable' | 'canary';
  epochStep: boolean;
  stratum: string | null;
  passed: boolean;
  /** 0: outcome, 1: timeout, 2: timeout then a late outcome, 3: never resolved */
  fate: number;
  delay: number;
  gates: boolean;
}

const taskArb: fc.Arbitrary<TaskSpec> = fc.record({
  arm: fc.constantFrom('stable' as const, 'stable' as const, 'stable' as const, 'canary' as const),
  epochStep: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
  stratum: fc.constantFrom(null, 'easy', 'hard'),
  passed: fc.boolean(),
  fate: fc.constantFrom(0, 0, 0, 0, 1, 2, 3),
  delay: fc.nat({ max: 12 }),
  gates: fc.boolean(),
});

/** Ledger records of a canary: assignments in routing order, resolutions after a random delay. */
function records(tasks: readonly TaskSpec[], stratified: boolean): Rec[] {
  const events: Array<{ t: number; r: Rec }> = [];
  let epoch = 0;
  tasks.forEach((s, i) => {
    if (s.epochStep && epoch < 2) epoch++;
    const taskId = `t${i}`;
    const stratum = stratified ? s.stratum : null;
    events.push({ t: i, r: { type: 'assign', a: { taskId, epoch, arm: s.arm, stratum } } });
    const sample = { passed: s.passed, ...(s.gates ? { gates: { lint: s.passed || i % 2 === 0, tests: s.passed } } : {}), costUsd: 0.01 * (i % 5), durationMs: 1000 + i };
    const at = i + s.delay + 0.5;
    if (s.fate === 0) events.push({ t: at, r: { type: 'resolve', o: { taskId, epoch, arm: s.arm, kind: 'outcome', sample } } });
    if (s.fate === 1 || s.fate === 2) events.push({ t: at, r: { type: 'resolve', o: { taskId, epoch, arm: s.arm, kind: 'timeout', sample: { passed: false } } } });
    if (s.fate === 2) events.push({ t: at + 0.25, r: { type: 'resolve', o: { taskId, epoch, arm: s.arm, kind: 'late', sample } } });
  });
  return events.sort((a, b) => a.t - b.t).map((e) => e.r);
}

function fold(ev: CanaryEvidence, recs: readonly Rec[]): CanaryEvidence {
  for (const r of recs) {
    if (r.type === 'assign') foldCanaryAssignment(ev, r.a);
    else foldCanaryOutcome(ev, r.o);
  }
  return ev;
}

const roundTrip = (ev: CanaryEvidence): CanaryEvidence => CanaryEvidenceSchema.parse(JSON.parse(JSON.stringify(ev)));

const tasksArb = fc.array(taskArb, { maxLength: 80 });
const EPOCHS: EpochConfig[] = [
  { epoch: 0, percentage: 20 },
  { epoch: 1, percentage: 50 },
  { epoch: 2, percentage: 50 },
];

describe('canary evidence fold', () => {
  it('folding in chunks (persisted and reloaded between them) gives the same evidence', () => {
    fc.assert(
      fc.property(tasksArb, fc.boolean(), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), (tasks, stratified, cuts) => {
        const recs = records(tasks, stratified);
        const whole = fold(emptyCanaryEvidence(), recs);
        const points = [...new Set(cuts.map((c) => Math.floor(c * recs.length)))].sort((a, b) => a - b);
        let ev = emptyCanaryEvidence();
        let from = 0;
        for (const p of [...points, recs.length]) {
          ev = roundTrip(fold(ev, recs.slice(from, p)));
          from = p;
        }
        expect(ev).toEqual(roundTrip(whole));
        expect(CanaryEvidenceSchema.safeParse(whole).success).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('counts exactly the resolved routing prefix, with timeouts failed and late outcomes ignored', () => {
    fc.assert(
      fc.property(tasksArb, fc.nat(), (tasks, cutSeed) => {
        const recs = records(tasks, false);
        const cut = recs.length === 0 ? 0 : cutSeed % (recs.length + 1);
        const ev = fold(emptyCanaryEvidence(), recs.slice(0, cut));
        // model: the longest prefix of routed tasks whose resolutions (outcome / timeout) are in the folded records
        const resolved = new Map<string, boolean>();
        const routed: string[] = [];
        for (const r of recs.slice(0, cut)) {
          if (r.type === 'assign') routed.push(r.a.taskId);
          else if (r.o.kind !== 'late' && !resolved.has(r.o.taskId)) resolved.set(r.o.taskId, r.o.kind === 'outcome' && r.o.sample.passed);
        }
        let n = 0;
        let passed = 0;
        while (n < routed.length && resolved.has(routed[n]!)) passed += resolved.get(routed[n++]!) ? 1 : 0;
        const s = canaryEvidenceSummary(ev);
        expect(s.combined.stable.tasks + s.combined.canary.tasks).toBe(n);
        expect(s.combined.stable.passed + s.combined.canary.passed).toBe(passed);
        const awaiting = routed.length - resolved.size;
        expect(s.awaiting.stable + s.awaiting.canary).toBe(awaiting);
        expect(ev.pending.length - ev.pendingHead).toBe(routed.length - n);
      }),
      { numRuns: 300 },
    );
  });

  it('reports assignments, awaiting, timeouts and late outcomes per epoch and arm', () => {
    const ev = emptyCanaryEvidence();
    foldCanaryAssignment(ev, { taskId: 'a', epoch: 0, arm: 'canary' });
    foldCanaryAssignment(ev, { taskId: 'b', epoch: 0, arm: 'stable' });
    foldCanaryAssignment(ev, { taskId: 'c', epoch: 0, arm: 'canary' });
    foldCanaryAssignment(ev, { taskId: 'a', epoch: 0, arm: 'canary' }); // a re-route of a pending task: ignored
    foldCanaryOutcome(ev, { taskId: 'b', epoch: 0, arm: 'stable', kind: 'outcome', sample: { passed: true, costUsd: 0.1 } });
    let s = canaryEvidenceSummary(ev);
    expect(s.combined.stable.tasks).toBe(0); // 'a' was routed first and is not resolved: nothing counted yet
    expect(s.epochs['0']!.stable).toMatchObject({ assigned: 1, awaiting: 0, resolvedWaiting: 1 });
    expect(s.epochs['0']!.stable.outcomes.costUsd?.n).toBe(1);
    foldCanaryOutcome(ev, { taskId: 'a', epoch: 0, arm: 'canary', kind: 'timeout', sample: { passed: false } });
    s = canaryEvidenceSummary(ev);
    expect(s.combined).toEqual({ stable: { tasks: 1, passed: 1 }, canary: { tasks: 1, passed: 0 } });
    expect(s.epochs['0']!.canary).toMatchObject({ assigned: 2, awaiting: 1, timedOut: 1, late: 0 });
    const before = JSON.stringify(ev.cells);
    foldCanaryOutcome(ev, { taskId: 'a', epoch: 0, arm: 'canary', kind: 'late', sample: { passed: true } });
    expect(JSON.stringify(ev.cells)).toBe(before);
    expect(canaryEvidenceSummary(ev).epochs['0']!.canary.late).toBe(1);
    expect(s.awaiting).toEqual({ stable: 0, canary: 1 });
  });

  it('counts an outcome of a task it never saw assigned directly in its (epoch, stratum) cell', () => {
    const ev = emptyCanaryEvidence();
    foldCanaryAssignment(ev, { taskId: 'x', epoch: 1, arm: 'stable' }); // pending, never resolved
    foldCanaryOutcome(ev, { taskId: 'imported', epoch: 0, arm: 'canary', kind: 'outcome', sample: { passed: true }, stratum: 'hard' });
    expect(ev.cells).toEqual([{ epoch: 0, stratum: 'hard', stable: { tasks: 0, passed: 0 }, canary: { tasks: 1, passed: 1 }, gates: {} }]);
    expect(ev.epochs['0']!.canary.unassigned).toBe(1);
  });

  it('keeps the pending array compact (amortised O(1) folding)', () => {
    const ev = emptyCanaryEvidence();
    foldCanaryAssignment(ev, { taskId: 'slow', epoch: 0, arm: 'canary' });
    for (let i = 0; i < 1000; i++) {
      foldCanaryAssignment(ev, { taskId: `t${i}`, epoch: 0, arm: 'stable' });
      foldCanaryOutcome(ev, { taskId: `t${i}`, epoch: 0, arm: 'stable', kind: 'outcome', sample: { passed: true } });
    }
    expect(ev.pending.length).toBe(1001); // all wait for 'slow'
    foldCanaryOutcome(ev, { taskId: 'slow', epoch: 0, arm: 'canary', kind: 'outcome', sample: { passed: false } });
    expect(ev.pending.length).toBe(0);
    expect(ev.cells[0]).toMatchObject({ stable: { tasks: 1000, passed: 1000 }, canary: { tasks: 1, passed: 0 } });
    // a long stream with a small lag never lets consumed entries pile up
    for (let i = 0; i < 5000; i++) {
      foldCanaryAssignment(ev, { taskId: `u${i}`, epoch: 0, arm: 'stable' });
      if (i >= 3) foldCanaryOutcome(ev, { taskId: `u${i - 3}`, epoch: 0, arm: 'stable', kind: 'outcome', sample: { passed: true } });
      expect(ev.pending.length).toBeLessThanOrEqual(2 * 64 + 8);
    }
  });

  it('refuses impossible records with StatsInputError', () => {
    const ev = emptyCanaryEvidence();
    expect(() => foldCanaryAssignment(ev, { taskId: 'a', epoch: -1, arm: 'canary' })).toThrow(StatsInputError);
    expect(() => foldCanaryAssignment(ev, { taskId: 'a', epoch: 0, arm: 'other' as never })).toThrow(StatsInputError);
    expect(() => foldCanaryOutcome(ev, { taskId: 'a', epoch: 0, arm: 'canary', kind: 'outcome', sample: { passed: true, costUsd: Number.NaN } })).toThrow(StatsInputError);
    try {
      foldCanaryAssignment(ev, { taskId: 'a', epoch: 1.5, arm: 'canary' });
    } catch (e) {
      expect((e as StatsInputError).code).toBe('INVALID_STATS_INPUT');
    }
  });
});

describe('decide on the evidence', () => {
  it('splitting an epoch into two at the same percentage changes nothing the decision rests on', () => {
    fc.assert(
      fc.property(tasksArb, fc.boolean(), fc.nat(), fc.constantFrom('sequential' as const, 'threshold' as const), (tasks, stratified, cutSeed, policy) => {
        const recs = records(tasks, stratified);
        // epochs 1 and 2 are both at 50 %: merge them into epoch 1 for the unsplit version
        const merged = recs.map((r): Rec => (r.type === 'assign' ? { type: 'assign', a: { ...r.a, epoch: Math.min(1, r.a.epoch) } } : { type: 'resolve', o: { ...r.o, epoch: Math.min(1, r.o.epoch) } }));
        const cut = cutSeed % (recs.length + 1);
        const a = decide(fold(emptyCanaryEvidence(), recs.slice(0, cut)), EPOCHS, settings({ policy, minCanaryTasks: 1 }), { currentEpoch: 2 });
        const b = decide(fold(emptyCanaryEvidence(), merged.slice(0, cut)), EPOCHS.slice(0, 2), settings({ policy, minCanaryTasks: 1 }), { currentEpoch: 1 });
        // min-tasks counts the current epoch only, which the split changes by design
        if (a.rule !== 'min-tasks' && b.rule !== 'min-tasks') {
          expect(a.action).toBe(b.action);
          expect(a.rule).toBe(b.rule);
        }
        expect(a.evidence.stable).toEqual(b.evidence.stable);
        expect(a.evidence.canary).toEqual(b.evidence.canary);
        expect(a.evidence.difference).toEqual(b.evidence.difference);
        expect(a.evidence.statistic).toEqual(b.evidence.statistic);
        expect(a.evidence.strata).toEqual(b.evidence.strata);
        expect(a.evidence.srm?.pValue).toEqual(b.evidence.srm?.pValue);
        expect(a.evidence.attrition).toEqual(b.evidence.attrition);
      }),
      { numRuns: 200 },
    );
  });

  it('no valid input gives NaN or a schema-invalid decision', () => {
    fc.assert(
      fc.property(
        tasksArb,
        fc.boolean(),
        fc.nat(),
        fc.constantFrom('sequential' as const, 'threshold' as const),
        fc.constantFrom(0, 5, 20, 50, 100),
        fc.record({ minCanaryTasks: fc.integer({ min: 1, max: 20 }), rollbackMargin: fc.constantFrom(0, 0.05, 0.1, 0.3, 1) }),
        fc.boolean(),
        (tasks, stratified, cutSeed, policy, pct0, s, guard) => {
          const recs = records(tasks, stratified);
          const ev = fold(emptyCanaryEvidence(), recs.slice(0, cutSeed % (recs.length + 1)));
          expect(CanaryEvidenceSchema.safeParse(ev).success).toBe(true);
          const epochs = [{ epoch: 0, percentage: pct0 }, ...EPOCHS.slice(1)];
          const guardrails = guard ? { costUsd: { maxIncrease: 0.1 }, durationMs: { maxIncrease: 0 } } : { costUsd: null, durationMs: null };
          const d = decide(ev, epochs, settings({ policy, ...s, guardrails }));
          const json = JSON.stringify(d);
          expect(json).not.toMatch(/NaN|Infinity|null,null/);
          expect(DecisionSchema.parse(JSON.parse(json))).toEqual(d);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses impossible input with StatsInputError', () => {
    const ev = emptyCanaryEvidence();
    foldCanaryAssignment(ev, { taskId: 'a', epoch: 0, arm: 'canary' });
    foldCanaryOutcome(ev, { taskId: 'a', epoch: 0, arm: 'canary', kind: 'outcome', sample: { passed: true } });
    const s = settings();
    expect(() => decide(ev, [{ epoch: 0, percentage: Number.NaN }], s)).toThrow(StatsInputError);
    expect(() => decide(ev, [{ epoch: 0, percentage: 101 }], s)).toThrow(StatsInputError);
    expect(() => decide(ev, [{ epoch: 1, percentage: 20 }], s)).toThrow(/epoch 0/);
    expect(() => decide(ev, [{ epoch: 0, percentage: 20 }, { epoch: 0, percentage: 30 }], s)).toThrow(StatsInputError);
    const bad = structuredClone(ev);
    bad.cells[0]!.canary.passed = 2;
    expect(() => decide(bad, [{ epoch: 0, percentage: 20 }], s)).toThrow(/passed \(2\) must be <= tasks \(1\)/);
    bad.cells[0]!.canary = { tasks: -1, passed: 0 };
    expect(() => decide(bad, [{ epoch: 0, percentage: 20 }], s)).toThrow(StatsInputError);
    bad.cells[0]!.canary = { tasks: Number.POSITIVE_INFINITY, passed: 0 };
    expect(() => decide(bad, [{ epoch: 0, percentage: 20 }], s)).toThrow(StatsInputError);
    expect(() => decide(ev, [{ epoch: 0, percentage: 20 }], s, { currentEpoch: 3 })).toThrow(StatsInputError);
  });
});
