import { todayInterval, todayParams } from './baseline-today.js';
import { comparison } from './comparison.js';
import { differenceConfidenceSequence } from './sequential.js';
import { simulateScenario, type JudgeKind, type Scenario, type ScenarioResult } from './simulate-engine.js';

/**
 * The off-design-point table (issue 15): each row is a scenario run through the previous rule
 * ('today') and the production path ('now') on the same seeds, with the row's target. Time is in
 * routed tasks; at a 20 % share, 500 ticks are about 100 canary tasks.
 */

export interface ScenarioCell {
  /** the measured value (a share in [0, 1] or a count), null when there was nothing to measure */
  value: number | null;
  /** human form, e.g. "4.3 %", "145", "refused at start" */
  shown: string;
  runs: number;
}

export interface ScenarioRow {
  id: string;
  scenario: string;
  metric: string;
  today: ScenarioCell;
  now: ScenarioCell;
  target: string;
  /** whether "now" meets the target (null: not a measured quantity) */
  pass: boolean | null;
  /** extra measured context, e.g. the same scenario without strata labels */
  note?: string;
}

export interface ScenarioTable {
  seed: number;
  quick: boolean;
  rows: ScenarioRow[];
  meetsTargets: boolean;
  elapsedMs: number;
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
const num = (x: number | null) => (x === null ? '-' : String(x));

const RAMP: Scenario = { stable: 0.8, canaryDelta: 0, steps: [5, 25, 50, 100], maxCanaryTasks: 3000 };
const SHARE_CHANGE = [
  { fromTick: 0, percentage: 5 },
  { fromTick: 1500, percentage: 50 },
];
const SLOW_FAIL = { fail: { mean: 500 } };
/** 600 ticks: about 120 canary tasks at 20 %; slower outcomes become timeouts (then late outcomes) */
const TIMEOUT = 600;
const EASY_HARD = (easyDelta: number, hardDelta: number) => [
  { label: 'easy', weight: 0.4, stable: 0.95, canary: 0.95 + easyDelta },
  { label: 'hard', weight: 0.6, stable: 0.6, canary: 0.6 + hardDelta },
];

interface RowSpec {
  id: string;
  scenario: string;
  metric: string;
  target: string;
  /** runs in full and quick mode */
  runs: [number, number];
  build: Scenario;
  /** the scenario for "today" when it differs */
  todayBuild?: Scenario;
  measure: (r: ScenarioResult) => number | null;
  show: (x: number | null) => string;
  check: (now: number | null, extra: number | null) => boolean;
  /** a third measurement shown in the note (the now judge on this scenario) */
  extra?: { build: Scenario; label: string };
}

const ROWS: RowSpec[] = [
  {
    id: 'ramp-equal-rollback',
    scenario: 'equal canary on a 5 → 25 → 50 → 100 ramp',
    metric: 'rolled back at some step',
    target: '<= 5 %',
    runs: [2000, 150],
    build: RAMP,
    measure: (r) => r.rolledBack,
    show: pct,
    check: (x) => x !== null && x <= 0.05,
  },
  {
    id: 'ramp-promote-tasks',
    scenario: 'equal canary promoted through that ramp',
    metric: 'canary tasks to promote (median)',
    target: '<= 150, each step after >= min_canary_tasks canary outcomes',
    runs: [2000, 150],
    build: RAMP,
    measure: (r) => r.canaryTasksToPromote.median,
    show: num,
    check: (x) => x !== null && x <= 150,
  },
  {
    id: 'drift-share-equal',
    scenario: 'equal canary, share 5 → 50 % at task 1,500, pass rates drift 0.85 → 0.65 over 4,000 tasks',
    metric: 'rolled back',
    target: '<= 5 %',
    runs: [2000, 150],
    build: { stable: { from: 0.85, to: 0.65, overTicks: 4000 }, canaryDelta: 0, shares: SHARE_CHANGE, maxCanaryTasks: 1500 },
    measure: (r) => r.rolledBack,
    show: pct,
    check: (x) => x !== null && x <= 0.05,
  },
  {
    id: 'drift-share-margin',
    scenario: 'canary 10 points worse, same share change, drift 0.65 → 0.85',
    metric: 'promoted',
    target: '<= 5 %',
    runs: [2000, 150],
    build: { stable: { from: 0.65, to: 0.85, overTicks: 4000 }, canaryDelta: -0.1, shares: SHARE_CHANGE, maxCanaryTasks: 1500 },
    measure: (r) => r.promoted,
    show: pct,
    check: (x) => x !== null && x <= 0.05,
  },
  {
    id: 'slow-fail-060',
    scenario: "canary 0.60 whose failures report later than its passes (mean 500 tasks); stable's at once; timeout 600",
    metric: 'promoted',
    target: '<= 2 %',
    runs: [2000, 150],
    build: { stable: 0.8, canaryDelta: -0.2, arms: { canary: SLOW_FAIL }, timeoutTicks: TIMEOUT, maxCanaryTasks: 1000 },
    measure: (r) => r.promoted,
    show: pct,
    check: (x) => x !== null && x <= 0.02,
  },
  {
    id: 'slow-fail-margin',
    scenario: 'canary at the margin (0.70), same',
    metric: 'promoted',
    target: '<= 10 %',
    runs: [2000, 150],
    build: { stable: 0.8, canaryDelta: -0.1, arms: { canary: SLOW_FAIL }, timeoutTicks: TIMEOUT, maxCanaryTasks: 1000 },
    measure: (r) => r.promoted,
    show: pct,
    check: (x) => x !== null && x <= 0.1,
  },
  {
    id: 'slow-fail-both-margin',
    scenario: 'failures slower than passes on both arms (mean 500), canary at the margin',
    metric: 'promoted',
    target: '<= 10 %',
    runs: [2000, 150],
    build: { stable: 0.8, canaryDelta: -0.1, arms: { canary: SLOW_FAIL, stable: SLOW_FAIL }, timeoutTicks: TIMEOUT, maxCanaryTasks: 1000 },
    measure: (r) => r.promoted,
    show: pct,
    check: (x) => x !== null && x <= 0.1,
  },
  {
    id: 'lagging-srm',
    scenario: "equal canary whose outcomes lag 200 tasks behind stable's",
    metric: 'canaries with an SRM hold',
    target: '<= 1 %',
    runs: [2000, 150],
    build: { stable: 0.8, canaryDelta: 0, arms: { canary: { pass: 200, fail: 200 } }, timeoutTicks: TIMEOUT, maxCanaryTasks: 1000 },
    measure: (r) => r.srmHeld,
    show: pct,
    check: (x) => x !== null && x <= 0.01,
  },
  {
    id: 'strata-uniform',
    scenario: 'uniform 10-point regression, 40 % easy (0.95) and 60 % hard (0.60) tasks, strata labelled',
    metric: 'canary tasks to roll back (median)',
    target: '<= 130',
    runs: [1000, 40],
    build: { stable: 0, canaryDelta: 0, strata: EASY_HARD(-0.1, -0.1), maxCanaryTasks: 3000 },
    extra: { build: { stable: 0, canaryDelta: 0, strata: EASY_HARD(-0.1, -0.1), labelStrata: false, maxCanaryTasks: 3000 }, label: 'now without strata labels' },
    measure: (r) => r.canaryTasksToRollback.median,
    show: num,
    check: (x) => x !== null && x <= 130,
  },
  {
    id: 'strata-hard-only',
    scenario: 'regression confined to hard tasks (0.60 → 0.433: 10 points overall)',
    metric: 'canary tasks to roll back (median)',
    target: 'not materially worse than unstratified (<= 1.1x)',
    runs: [1000, 40],
    build: { stable: 0, canaryDelta: 0, strata: EASY_HARD(0, -0.1667), maxCanaryTasks: 3000 },
    extra: { build: { stable: 0, canaryDelta: 0, strata: EASY_HARD(0, -0.1667), labelStrata: false, maxCanaryTasks: 3000 }, label: 'now without strata labels' },
    measure: (r) => r.canaryTasksToRollback.median,
    show: num,
    check: (x, extra) => x !== null && extra !== null && x <= 1.1 * extra,
  },
  {
    id: 'strata-easy-only',
    scenario: 'regression confined to easy tasks (0.95 → 0.70: 10 points overall)',
    metric: 'canary tasks to roll back (median)',
    target: 'not materially worse than unstratified (<= 1.1x)',
    runs: [1000, 40],
    build: { stable: 0, canaryDelta: 0, strata: EASY_HARD(-0.25, 0), maxCanaryTasks: 3000 },
    extra: { build: { stable: 0, canaryDelta: 0, strata: EASY_HARD(-0.25, 0), labelStrata: false, maxCanaryTasks: 3000 }, label: 'now without strata labels' },
    measure: (r) => r.canaryTasksToRollback.median,
    show: num,
    check: (x, extra) => x !== null && extra !== null && x <= 1.1 * extra,
  },
  {
    id: 'strata-equal',
    scenario: 'equal canary, the same two kinds of tasks, strata labelled',
    metric: 'rolled back',
    target: '<= 5 %',
    runs: [1000, 40],
    build: { stable: 0, canaryDelta: 0, strata: EASY_HARD(0, 0), maxCanaryTasks: 1000 },
    measure: (r) => r.rolledBack,
    show: pct,
    check: (x) => x !== null && x <= 0.05,
  },
  {
    id: 'clearly-bad-early',
    scenario: 'clearly bad canary (0.27 vs stable 0.85)',
    metric: 'canary tasks to roll back (median)',
    target: '< min_canary_tasks (10): as soon as the evidence is strong',
    runs: [2000, 150],
    build: { stable: 0.85, canaryDelta: -0.58, maxCanaryTasks: 1000 },
    measure: (r) => r.canaryTasksToRollback.median,
    show: num,
    check: (x) => x !== null && x < 10,
  },
  {
    id: 'regression-070-tasks',
    scenario: 'canary 0.70 (10 points worse), design point',
    metric: 'canary tasks to roll back (median)',
    target: '<= 125',
    runs: [2000, 150],
    build: { stable: 0.8, canaryDelta: -0.1, maxCanaryTasks: 3000 },
    measure: (r) => r.canaryTasksToRollback.median,
    show: num,
    check: (x) => x !== null && x <= 125,
  },
  {
    id: 'regression-060-tasks',
    scenario: 'canary 0.60 (20 points worse), design point',
    metric: 'canary tasks to roll back (median)',
    target: '<= 30',
    runs: [2000, 150],
    build: { stable: 0.8, canaryDelta: -0.2, maxCanaryTasks: 3000 },
    measure: (r) => r.canaryTasksToRollback.median,
    show: num,
    check: (x) => x !== null && x <= 30,
  },
  {
    id: 'dead-zone-6pt',
    scenario: 'canary 6 points worse, margin 0.10',
    metric: 'undecided after 10,000 canary tasks',
    target: '0 %',
    runs: [500, 20],
    build: { stable: 0.8, canaryDelta: -0.06, maxCanaryTasks: 10_000 },
    measure: (r) => r.undecided,
    show: pct,
    check: (x) => x === 0,
  },
  {
    id: 'dead-zone-5pt-margin0',
    scenario: 'canary 5 points worse, margin 0',
    metric: 'undecided after 10,000 canary tasks',
    target: '0 %',
    runs: [500, 20],
    build: { stable: 0.8, canaryDelta: -0.05, maxCanaryTasks: 10_000, settings: { rollbackMargin: 0 } },
    measure: (r) => r.undecided,
    show: pct,
    check: (x) => x === 0,
  },
  {
    id: 'full-without-steps',
    scenario: 'canary started at 100 % without steps',
    metric: 'undecided after 1,000 canary tasks',
    target: 'refused with a clear message',
    runs: [200, 20],
    build: { stable: 0.8, canaryDelta: 0, shares: [{ fromTick: 0, percentage: 100 }], maxCanaryTasks: 1000 },
    measure: (r) => r.undecided,
    show: pct,
    check: () => true,
  },
  {
    id: 'ramp-full-stall',
    scenario: 'the 100 % step of an equal ramp',
    metric: 'stalled there (undecided at the horizon)',
    target: '0 %: reaching 100 % is the promotion',
    runs: [2000, 150],
    build: RAMP,
    measure: (r) => r.stalledAtFull,
    show: pct,
    check: (x) => x === 0,
  },
];

/** Width of the reported difference interval at equal rates 0.80, 20 % share, n canary tasks (expected counts). */
export function intervalWidth(judge: JudgeKind, canaryTasks: number, margin = 0.1): number {
  const k = { canaryPassed: 0.8 * canaryTasks, canaryTasks, stablePassed: 0.8 * 4 * canaryTasks, stableTasks: 4 * canaryTasks };
  const [lo, hi] = judge === 'today' ? todayInterval(k, todayParams(margin)) : differenceConfidenceSequence(comparison([{ weight: 1, cells: [k] }]), canaryTasks);
  return hi - lo;
}

/** Every row of the table, today and now, with its target. */
export function scenarioTable(options: { seed?: number; quick?: boolean; only?: readonly string[]; maxRuns?: number } = {}): ScenarioTable {
  const start = performance.now();
  const seed = options.seed ?? 1;
  const quick = options.quick ?? false;
  const cache = new Map<string, ScenarioResult>();
  const run = (s: Scenario, judge: JudgeKind, runs: number) => {
    const key = `${judge}:${runs}:${JSON.stringify(s)}`;
    let r = cache.get(key);
    if (r === undefined) cache.set(key, (r = simulateScenario(s, judge, runs, seed)));
    return r;
  };
  const rows: ScenarioRow[] = [];
  for (const spec of ROWS) {
    if (options.only !== undefined && !options.only.includes(spec.id)) continue;
    const runs = Math.min(quick ? spec.runs[1] : spec.runs[0], options.maxRuns ?? Infinity);
    const today = spec.measure(run(spec.todayBuild ?? spec.build, 'today', runs));
    let now: number | null;
    let nowShown: string;
    if (spec.id === 'full-without-steps') {
      now = null;
      nowShown = 'refused at start (INVALID_ARGUMENT)';
    } else {
      now = spec.measure(run(spec.build, 'now', runs));
      nowShown = spec.show(now);
    }
    const extra = spec.extra === undefined ? null : spec.measure(run(spec.extra.build, 'now', runs));
    const row: ScenarioRow = {
      id: spec.id,
      scenario: spec.scenario,
      metric: spec.metric,
      today: { value: today, shown: spec.show(today), runs },
      now: { value: now, shown: nowShown, runs: now === null ? 0 : runs },
      target: spec.target,
      pass: spec.id === 'full-without-steps' ? null : spec.check(now, extra),
    };
    if (spec.extra !== undefined) row.note = `${spec.extra.label}: ${spec.show(extra)}`;
    if (spec.id === 'ramp-promote-tasks') {
      const r = run(spec.build, 'now', runs);
      const t = run(spec.build, 'today', runs);
      row.note = `tasks in all (median): today ${num(t.totalTasksToPromote.median)}, now ${num(r.totalTasksToPromote.median)}; fewest canary outcomes a step advanced with: now ${num(r.minStepCanaryOutcomes)}`;
      if (row.pass === true && (r.minStepCanaryOutcomes ?? Infinity) < 10) row.pass = false;
    }
    rows.push(row);
  }
  if (options.only === undefined || options.only.includes('interval-width')) {
    const today = intervalWidth('today', 10_000);
    const now = intervalWidth('now', 10_000);
    rows.push({
      id: 'interval-width',
      scenario: 'equal canary 0.80, 20 % share (expected counts)',
      metric: 'width of the reported difference interval at 10,000 canary tasks',
      today: { value: today, shown: today.toFixed(3), runs: 0 },
      now: { value: now, shown: now.toFixed(3), runs: 0 },
      target: '<= 0.05, shrinking with n',
      pass: now <= 0.05 && intervalWidth('now', 1e8) < now,
      note: `at 10^8 canary tasks: today ${intervalWidth('today', 1e8).toFixed(3)}, now ${intervalWidth('now', 1e8).toFixed(4)}`,
    });
  }
  return { seed, quick, rows, meetsTargets: rows.every((r) => r.pass !== false), elapsedMs: performance.now() - start };
}
