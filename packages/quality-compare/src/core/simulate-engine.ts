import { todayParams, todayVerdict, type TodayEpoch } from './baseline-today.js';
import { compileSettings, evidenceVerdict, prepareWithMap, type CompiledSettings } from './decide.js';
import { emptyCanaryEvidence, foldCanaryAssignment, foldCanaryOutcome, type CanaryEvidence } from './evidence.js';
import { Xoshiro128 } from './rng.js';
import type { SequentialParams } from './sequential.js';
import { DEFAULT_DECISION_SETTINGS, type DecisionSettings } from './types.js';

/**
 * The scenario simulator: canaries as streams of routed tasks with the behaviour real agents
 * have (ramps, share changes, pass rates drifting over time, outcomes that report late, failures
 * that report later than passes, outcomes that never report, strata), judged after EVERY
 * resolution by either
 *   - 'now':   the production path: the evidence fold (evidence.ts) and the verdict `decide` uses
 *              (decide.ts `evidenceVerdict`), with timeouts and late outcomes as the sweep writes them;
 *   - 'today': the previous rule (baseline-today.ts), fed outcomes in arrival order, no timeouts.
 *
 * Time is counted in routed tasks: task t is routed at tick t; its outcome reports `delay` ticks
 * later (or never); with a timeout of T ticks, an outcome not reported by t + T becomes a timeout
 * record (counted as failed) and a later report a late record. The judge never sees clocks.
 */

/** Ticks until an outcome reports: fixed, or exponential with this mean (rounded down). */
export type Delay = number | { mean: number };

export interface ArmBehaviour {
  /** delay of passing and failing outcomes */
  pass?: Delay;
  fail?: Delay;
  /** probability that an outcome never reports */
  missing?: number;
}

export interface StratumSpec {
  label: string;
  weight: number;
  stable: number;
  canary: number;
}

export interface Scenario {
  /** stable pass rate: constant, or drifting linearly from `from` to `to` over `overTicks` routed tasks */
  stable: number | { from: number; to: number; overTicks: number };
  /** canary pass rate minus stable's (at every tick) */
  canaryDelta: number;
  /** tasks of several kinds (overrides stable / canaryDelta): each with its own rates */
  strata?: StratumSpec[];
  /** pass strata labels to the judge (default true when strata are given) */
  labelStrata?: boolean;
  /** ramp: the canary starts at steps[0] and advances on a promote decision */
  steps?: number[];
  /** without steps: the configured percentage from a tick on (the first entry at tick 0) */
  shares?: Array<{ fromTick: number; percentage: number }>;
  arms?: { stable?: ArmBehaviour; canary?: ArmBehaviour };
  /** the outcome timeout in ticks (production's outcome_timeout); null: none */
  timeoutTicks?: number | null;
  /** undecided after this many routed canary tasks */
  maxCanaryTasks: number;
  settings?: Partial<DecisionSettings>;
}

export type JudgeKind = 'now' | 'today';

export interface RunResult {
  action: 'promote' | 'rollback' | 'undecided';
  /** routed canary tasks at the end */
  canaryTasks: number;
  totalTasks: number;
  /** some evaluation held a promotion for a sample ratio mismatch */
  srmHeld: boolean;
  /** undecided while at a 100 % step */
  stalledAtFull: boolean;
  /** the index of the step (or share entry) at the end */
  stepIndex: number;
  /** promote decisions that advanced a step, with the canary outcomes counted in that epoch */
  stepCanaryOutcomes: number[];
}

// ---------------------------------------------------------------------------------------------

interface Judge {
  assign(taskId: string, epoch: number, arm: 'stable' | 'canary', stratum: string | null): void;
  resolve(taskId: string, epoch: number, arm: 'stable' | 'canary', kind: 'outcome' | 'timeout' | 'late', passed: boolean, stratum: string | null): void;
  /** a new epoch; `restart`: a step (the previous rule restarted its evidence there, except to 100 %) */
  newEpoch(epoch: number, percentage: number, restart: boolean): void;
  verdict(currentEpoch: number): { action: 'promote' | 'rollback' | 'continue'; rule: string };
  /** canary outcomes the judge counts in the current epoch */
  currentCanaryOutcomes(currentEpoch: number): number;
}

class NowJudge implements Judge {
  readonly ev: CanaryEvidence = emptyCanaryEvidence();
  readonly epochs = new Map<number, number>();
  constructor(private readonly compiled: CompiledSettings) {}
  assign(taskId: string, epoch: number, arm: 'stable' | 'canary', stratum: string | null): void {
    foldCanaryAssignment(this.ev, { taskId, epoch, arm, stratum });
  }
  resolve(taskId: string, epoch: number, arm: 'stable' | 'canary', kind: 'outcome' | 'timeout' | 'late', passed: boolean): void {
    foldCanaryOutcome(this.ev, { taskId, epoch, arm, kind, sample: { passed } });
  }
  newEpoch(epoch: number, percentage: number): void {
    this.epochs.set(epoch, percentage);
  }
  verdict(currentEpoch: number) {
    const v = evidenceVerdict(this.compiled, prepareWithMap(this.ev, this.epochs, { currentEpoch }));
    return { action: v.action, rule: v.rule };
  }
  currentCanaryOutcomes(currentEpoch: number): number {
    let n = 0;
    for (const c of this.ev.cells) if (c.epoch === currentEpoch) n += c.canary.tasks;
    return n;
  }
}

class TodayJudge implements Judge {
  private readonly epochs = new Map<number, TodayEpoch>();
  private windowFrom = 0;
  private readonly params: SequentialParams;
  constructor(private readonly settings: DecisionSettings) {
    this.params = todayParams(settings.rollbackMargin);
  }
  assign(): void {}
  resolve(_taskId: string, epoch: number, arm: 'stable' | 'canary', kind: 'outcome' | 'timeout' | 'late', passed: boolean): void {
    if (kind === 'timeout') return; // there were no timeouts: the outcome counted whenever it arrived
    const e = this.epochs.get(epoch)!;
    if (arm === 'canary') {
      e.canaryTasks++;
      if (passed) e.canaryPassed++;
    } else {
      e.stableTasks++;
      if (passed) e.stablePassed++;
    }
  }
  newEpoch(epoch: number, percentage: number, restart: boolean): void {
    this.epochs.set(epoch, { percentage, stablePassed: 0, stableTasks: 0, canaryPassed: 0, canaryTasks: 0 });
    if (restart && percentage < 100) this.windowFrom = epoch;
  }
  verdict() {
    const window: TodayEpoch[] = [];
    for (const [epoch, e] of this.epochs) if (epoch >= this.windowFrom) window.push(e);
    return todayVerdict(window, this.params, this.settings.minCanaryTasks);
  }
  currentCanaryOutcomes(currentEpoch: number): number {
    return this.epochs.get(currentEpoch)?.canaryTasks ?? 0;
  }
}

// ---------------------------------------------------------------------------------------------

/** A binary min-heap of pending resolutions by tick (ties in insertion order). */
class EventQueue {
  private ticks: number[] = [];
  private seqs: number[] = [];
  private items: Ev[] = [];
  private seq = 0;
  get size(): number {
    return this.items.length;
  }
  peekTick(): number {
    return this.ticks[0]!;
  }
  push(tick: number, item: Ev): void {
    const t = this.ticks;
    const s = this.seqs;
    const it = this.items;
    let i = it.length;
    t.push(tick);
    s.push(this.seq++);
    it.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! < t[i]! || (t[p] === t[i] && s[p]! < s[i]!)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): Ev {
    const top = this.items[0]!;
    const last = this.items.length - 1;
    this.swap(0, last);
    this.ticks.pop();
    this.seqs.pop();
    this.items.pop();
    let i = 0;
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
  private less(a: number, b: number): boolean {
    return this.ticks[a]! < this.ticks[b]! || (this.ticks[a] === this.ticks[b] && this.seqs[a]! < this.seqs[b]!);
  }
  private swap(a: number, b: number): void {
    [this.ticks[a], this.ticks[b]] = [this.ticks[b]!, this.ticks[a]!];
    [this.seqs[a], this.seqs[b]] = [this.seqs[b]!, this.seqs[a]!];
    [this.items[a], this.items[b]] = [this.items[b]!, this.items[a]!];
  }
}

interface Ev {
  task: number;
  epoch: number;
  arm: 'stable' | 'canary';
  stratum: string | null;
  passed: boolean;
  kind: 'outcome' | 'timeout' | 'late';
}

function drawDelay(d: Delay | undefined, u: number): number {
  if (d === undefined) return 0;
  if (typeof d === 'number') return d;
  return Math.floor(-Math.log(1 - u) * d.mean);
}

export function settingsOf(s: Scenario): DecisionSettings {
  return { ...DEFAULT_DECISION_SETTINGS, ...(s.settings ?? {}), guardrails: { costUsd: null, durationMs: null } };
}

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * One simulated canary of a scenario under a judge. Streams are a function of (seed, index) and
 * every task draws the same five numbers, so both judges see the same tasks until their
 * decisions (a step changes the share) make the streams differ.
 */
/** What the 'now' judge decided at one evaluation, with what it saw (tests replay it through `decide`). */
export interface TraceStep {
  evidence: CanaryEvidence;
  epochs: Array<{ epoch: number; percentage: number }>;
  currentEpoch: number;
  action: 'promote' | 'rollback' | 'continue';
  rule: string;
}

export function simulateRun(s: Scenario, judgeKind: JudgeKind, seed: number, index: number, compiled?: CompiledSettings, trace?: (step: TraceStep) => void): RunResult {
  const settings = settingsOf(s);
  const judge: Judge = judgeKind === 'now' ? new NowJudge(compiled ?? compileSettings(settings)) : new TodayJudge(settings);
  const rng = new Xoshiro128(seed, index);
  const steps = s.steps ?? [];
  const shares = steps.length > 0 ? [] : (s.shares ?? [{ fromTick: 0, percentage: 20 }]);
  let stepIndex = 0;
  let epoch = 0;
  let percentage = steps.length > 0 ? steps[0]! : shares[0]!.percentage;
  judge.newEpoch(0, percentage, true);
  let shareIndex = 0;
  const queue = new EventQueue();
  const timeout = judgeKind === 'now' ? (s.timeoutTicks ?? null) : null;
  const stableArm = s.arms?.stable ?? {};
  const canaryArm = s.arms?.canary ?? {};
  const strata = s.strata;
  const label = s.labelStrata ?? strata !== undefined;
  let canaryTasks = 0;
  let srmHeld = false;
  const stepCanaryOutcomes: number[] = [];
  const result = (action: RunResult['action'], t: number): RunResult => ({
    action,
    canaryTasks,
    totalTasks: t,
    srmHeld,
    stalledAtFull: action === 'undecided' && percentage >= 100,
    stepIndex: steps.length > 0 ? stepIndex : shareIndex,
    stepCanaryOutcomes,
  });

  for (let t = 0; ; t++) {
    // manual share changes
    if (shareIndex + 1 < shares.length && t >= shares[shareIndex + 1]!.fromTick) {
      shareIndex++;
      percentage = shares[shareIndex]!.percentage;
      epoch++;
      judge.newEpoch(epoch, percentage, false);
    }
    if (canaryTasks >= s.maxCanaryTasks) return result('undecided', t);
    // route task t
    const uRoute = rng.next();
    const uStratum = rng.next();
    const uOutcome = rng.next();
    const uMissing = rng.next();
    const uDelay = rng.next();
    const arm = uRoute * 100 < percentage ? 'canary' : 'stable';
    if (arm === 'canary') canaryTasks++;
    let p: number;
    let stratum: string | null = null;
    if (strata !== undefined) {
      let acc = 0;
      let spec = strata[strata.length - 1]!;
      for (const x of strata) {
        acc += x.weight;
        if (uStratum < acc) {
          spec = x;
          break;
        }
      }
      p = arm === 'canary' ? spec.canary : spec.stable;
      if (label) stratum = spec.label;
    } else {
      const st = s.stable;
      const base = typeof st === 'number' ? st : st.from + (st.to - st.from) * Math.min(1, t / st.overTicks);
      p = clamp01(arm === 'canary' ? base + s.canaryDelta : base);
    }
    const passed = uOutcome < p;
    const behaviour = arm === 'canary' ? canaryArm : stableArm;
    const missing = uMissing < (behaviour.missing ?? 0);
    const delay = drawDelay(passed ? behaviour.pass : behaviour.fail, uDelay);
    const taskId = String(t);
    judge.assign(taskId, epoch, arm, stratum);
    if (timeout !== null && (missing || delay > timeout)) {
      queue.push(t + timeout, { task: t, epoch, arm, stratum, passed, kind: 'timeout' });
      if (!missing) queue.push(t + delay, { task: t, epoch, arm, stratum, passed, kind: 'late' });
    } else if (!missing) queue.push(t + delay, { task: t, epoch, arm, stratum, passed, kind: 'outcome' });

    // resolutions due by now, each followed by an evaluation
    while (queue.size > 0 && queue.peekTick() <= t) {
      const e = queue.pop();
      judge.resolve(String(e.task), e.epoch, e.arm, e.kind, e.kind === 'timeout' ? false : e.passed, e.stratum);
      if (e.kind === 'late') continue; // a late outcome changes no evidence
      const v = judge.verdict(epoch);
      if (trace !== undefined && judge instanceof NowJudge) {
        trace({ evidence: structuredClone(judge.ev), epochs: [...judge.epochs].map(([e, pct]) => ({ epoch: e, percentage: pct })), currentEpoch: epoch, action: v.action, rule: v.rule });
      }
      if (v.rule === 'srm-hold') srmHeld = true;
      if (v.action === 'rollback') return result('rollback', t + 1);
      if (v.action === 'promote') {
        const next = steps.length > 0 && stepIndex + 1 < steps.length ? steps[stepIndex + 1]! : null;
        // now: reaching 100 % is the promotion; today: the step to 100 % was a step like the others
        if (next === null || (judgeKind === 'now' && next >= 100)) return result('promote', t + 1);
        stepCanaryOutcomes.push(judge.currentCanaryOutcomes(epoch));
        stepIndex++;
        epoch++;
        percentage = next;
        judge.newEpoch(epoch, percentage, true);
        break; // later resolutions wait for the next tick's evaluation
      }
    }
  }
}

export interface Quantiles {
  /** nearest-rank median, null when there were none */
  median: number | null;
  p90: number | null;
}

export interface ScenarioResult {
  judge: JudgeKind;
  runs: number;
  promoted: number;
  rolledBack: number;
  undecided: number;
  srmHeld: number;
  stalledAtFull: number;
  canaryTasksToPromote: Quantiles;
  canaryTasksToRollback: Quantiles;
  totalTasksToPromote: Quantiles;
  /** fewest canary outcomes any step advanced with (null without steps) */
  minStepCanaryOutcomes: number | null;
  elapsedMs: number;
}

export function quantiles(values: number[]): Quantiles {
  if (values.length === 0) return { median: null, p90: null };
  const sorted = Float64Array.from(values).sort();
  const rank = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
  return { median: rank(0.5), p90: rank(0.9) };
}

/** Many canaries of a scenario under one judge (rates are shares of `runs`). */
export function simulateScenario(s: Scenario, judge: JudgeKind, runs: number, seed: number): ScenarioResult {
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError('runs must be an integer >= 1');
  const start = performance.now();
  const compiled = compileSettings(settingsOf(s));
  const promoteAt: number[] = [];
  const rollbackAt: number[] = [];
  const totalAtPromote: number[] = [];
  let undecided = 0;
  let srm = 0;
  let stalled = 0;
  let minStep: number | null = null;
  for (let i = 0; i < runs; i++) {
    const r = simulateRun(s, judge, seed, i, compiled);
    if (r.action === 'promote') {
      promoteAt.push(r.canaryTasks);
      totalAtPromote.push(r.totalTasks);
    } else if (r.action === 'rollback') rollbackAt.push(r.canaryTasks);
    else undecided++;
    if (r.srmHeld) srm++;
    if (r.stalledAtFull) stalled++;
    for (const n of r.stepCanaryOutcomes) if (minStep === null || n < minStep) minStep = n;
  }
  return {
    judge,
    runs,
    promoted: promoteAt.length / runs,
    rolledBack: rollbackAt.length / runs,
    undecided: undecided / runs,
    srmHeld: srm / runs,
    stalledAtFull: stalled / runs,
    canaryTasksToPromote: quantiles(promoteAt),
    canaryTasksToRollback: quantiles(rollbackAt),
    totalTasksToPromote: quantiles(totalAtPromote),
    minStepCanaryOutcomes: minStep,
    elapsedMs: performance.now() - start,
  };
}
