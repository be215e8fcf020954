import { simulateScenario, type JudgeKind, type Quantiles, type Scenario } from './simulate-engine.js';
import { DEFAULT_DECISION_SETTINGS, type DecisionSettings, type Policy } from './types.js';

/**
 * The SPEC's design point: stable 0.80, canary share 20 %, evaluated after every outcome,
 * outcomes reporting at once, min_canary_tasks 10, margin 0.10. Each row runs the same streams
 * through the sequential policy as decided now ('now', the production path), the previous
 * sequential rule ('today', baseline-today.ts) and the seed's threshold rule.
 */

export interface SimulationParams {
  settings?: DecisionSettings;
  stablePassRate: number;
  canaryPassRate: number;
  /** Canary's share of tasks, in (0, 1]. */
  share: number;
  canaries: number;
  /** a canary still undecided after this many canary tasks is 'undecided' */
  maxCanaryTasks: number;
  seed: number;
}

export interface Rate {
  count: number;
  rate: number;
}

export type { Quantiles };

export interface SimulationResult {
  policy: Policy;
  judge: JudgeKind;
  stablePassRate: number;
  canaryPassRate: number;
  share: number;
  canaries: number;
  maxCanaryTasks: number;
  seed: number;
  promoted: Rate;
  rolledBack: Rate;
  undecided: Rate;
  /** canary tasks at the moment of the decision */
  canaryTasksToDecision: { promote: Quantiles; rollback: Quantiles };
  elapsedMs: number;
}

function validate(p: SimulationParams): void {
  const prob = (x: number) => x >= 0 && x <= 1;
  if (!prob(p.stablePassRate) || !prob(p.canaryPassRate)) throw new RangeError('pass rates must be in [0, 1]');
  if (!(p.share > 0 && p.share <= 1)) throw new RangeError('share must be in (0, 1]');
  if (!Number.isInteger(p.canaries) || p.canaries < 1) throw new RangeError('canaries must be an integer >= 1');
  if (!Number.isInteger(p.maxCanaryTasks) || p.maxCanaryTasks < 1) throw new RangeError('maxCanaryTasks must be an integer >= 1');
}

export function designScenario(p: Omit<SimulationParams, 'canaries' | 'seed'>): Scenario {
  return {
    stable: p.stablePassRate,
    canaryDelta: p.canaryPassRate - p.stablePassRate,
    shares: [{ fromTick: 0, percentage: p.share * 100 }],
    maxCanaryTasks: p.maxCanaryTasks,
    settings: p.settings ?? DEFAULT_DECISION_SETTINGS,
  };
}

/** Simulate canaries at one design point under one judge ('today' is the previous sequential rule). */
export function simulate(params: SimulationParams, judge: JudgeKind = 'now'): SimulationResult {
  validate(params);
  const settings = params.settings ?? DEFAULT_DECISION_SETTINGS;
  if (judge === 'today' && settings.policy !== 'sequential') throw new RangeError("the 'today' baseline is the previous sequential rule");
  const r = simulateScenario(designScenario(params), judge, params.canaries, params.seed);
  const n = params.canaries;
  const rate = (x: number): Rate => ({ count: Math.round(x * n), rate: x });
  return {
    policy: settings.policy,
    judge,
    stablePassRate: params.stablePassRate,
    canaryPassRate: params.canaryPassRate,
    share: params.share,
    canaries: n,
    maxCanaryTasks: params.maxCanaryTasks,
    seed: params.seed,
    promoted: rate(r.promoted),
    rolledBack: rate(r.rolledBack),
    undecided: rate(r.undecided),
    canaryTasksToDecision: { promote: r.canaryTasksToPromote, rollback: r.canaryTasksToRollback },
    elapsedMs: r.elapsedMs,
  };
}

/** The sequential policy now, the previous sequential rule and the threshold rule on the same streams. */
export function simulateBoth(params: SimulationParams): { sequential: SimulationResult; today: SimulationResult; threshold: SimulationResult } {
  const settings = params.settings ?? DEFAULT_DECISION_SETTINGS;
  const seq = { ...params, settings: { ...settings, policy: 'sequential' as const } };
  return {
    sequential: simulate(seq, 'now'),
    today: simulate(seq, 'today'),
    threshold: simulate({ ...params, settings: { ...settings, policy: 'threshold' } }, 'now'),
  };
}

// ---------------------------------------------------------------------------------------------
// The SPEC's decision-quality table

export interface QualityCheck {
  id: string;
  /** 'target': a SPEC target (binding for the sequential policy now); 'baseline': the SPEC's description of the seed rule's weakness */
  kind: 'target' | 'baseline';
  policy: Policy;
  canaryPassRate: number;
  description: string;
  metric: 'promoted.rate' | 'rolledBack.rate' | 'rollbackMedianCanaryTasks';
  comparator: '<=' | '>=' | 'between';
  bound: number | [number, number];
  value: number | null;
  /** the previous sequential rule's value of the same metric (targets only) */
  today: number | null;
  pass: boolean;
}

export interface QualityRow {
  canaryPassRate: number;
  label: string;
  sequential: SimulationResult;
  today: SimulationResult;
  threshold: SimulationResult;
  checks: QualityCheck[];
}

export interface DecisionQualityTable {
  stablePassRate: number;
  share: number;
  canaries: number;
  maxCanaryTasks: number;
  seed: number;
  settings: DecisionSettings;
  rows: QualityRow[];
  /** every 'target' check of the sequential policy passed */
  sequentialMeetsTargets: boolean;
  elapsedMs: number;
}

interface TargetSpec {
  metric: QualityCheck['metric'];
  comparator: '<=' | '>=';
  bound: number;
  description: string;
}

const SPEC_ROWS: Array<{ canaryPassRate: number; label: string; targets: TargetSpec[]; baseline?: { metric: QualityCheck['metric']; bound: [number, number]; description: string } }> = [
  {
    canaryPassRate: 0.8,
    label: 'equal quality',
    targets: [{ metric: 'rolledBack.rate', comparator: '<=', bound: 0.05, description: 'rolled back <= 5 %' }],
    baseline: { metric: 'rolledBack.rate', bound: [0.25, 0.4], description: 'seed rule rolls back about a third' },
  },
  {
    canaryPassRate: 0.6,
    label: '20-point regression',
    targets: [
      { metric: 'promoted.rate', comparator: '<=', bound: 0.02, description: 'promoted <= 2 %' },
      { metric: 'rolledBack.rate', comparator: '>=', bound: 0.95, description: 'rolled back >= 95 %' },
      { metric: 'rollbackMedianCanaryTasks', comparator: '<=', bound: 30, description: 'median canary tasks to rollback <= 30' },
    ],
    baseline: { metric: 'promoted.rate', bound: [0.12, 0.23], description: 'seed rule promotes about one in six' },
  },
  {
    canaryPassRate: 0.7,
    label: '10-point regression, at the margin',
    targets: [{ metric: 'promoted.rate', comparator: '<=', bound: 0.1, description: 'promoted <= 10 %' }],
  },
  {
    canaryPassRate: 0.9,
    label: '10-point improvement',
    targets: [{ metric: 'promoted.rate', comparator: '>=', bound: 0.95, description: 'promoted >= 95 %' }],
  },
];

function metricValue(r: SimulationResult, metric: QualityCheck['metric']): number | null {
  if (metric === 'promoted.rate') return r.promoted.rate;
  if (metric === 'rolledBack.rate') return r.rolledBack.rate;
  return r.canaryTasksToDecision.rollback.median;
}

/**
 * The SPEC's decision-quality rows (stable 0.80, canary share 20 %, evaluation after every outcome,
 * min_canary_tasks 10, margin 0.10, horizon 1,000 canary tasks) for the three rules on the same
 * streams, with each target's pass/fail. `quick` uses at most 300 canaries per row.
 */
export function decisionQualityTable(options: { canaries?: number; seed?: number; quick?: boolean; maxCanaryTasks?: number } = {}): DecisionQualityTable {
  const start = performance.now();
  const canaries = options.quick ? Math.min(options.canaries ?? 300, 300) : (options.canaries ?? 2000);
  const seed = options.seed ?? 1;
  const maxCanaryTasks = options.maxCanaryTasks ?? 1000;
  const settings: DecisionSettings = { ...DEFAULT_DECISION_SETTINGS, policy: 'sequential', minCanaryTasks: 10, rollbackMargin: 0.1 };
  const stablePassRate = 0.8;
  const share = 0.2;
  const rows: QualityRow[] = SPEC_ROWS.map((spec) => {
    const all = simulateBoth({ settings, stablePassRate, canaryPassRate: spec.canaryPassRate, share, canaries, maxCanaryTasks, seed });
    const checks: QualityCheck[] = [];
    for (const t of spec.targets) {
      for (const policy of ['sequential', 'threshold'] as const) {
        const value = metricValue(all[policy], t.metric);
        const pass = value !== null && (t.comparator === '<=' ? value <= t.bound : value >= t.bound);
        checks.push({
          id: `${policy}:${spec.canaryPassRate}:${t.metric}`,
          kind: 'target',
          policy,
          canaryPassRate: spec.canaryPassRate,
          description: t.description,
          metric: t.metric,
          comparator: t.comparator,
          bound: t.bound,
          value,
          today: policy === 'sequential' ? metricValue(all.today, t.metric) : null,
          pass,
        });
      }
    }
    if (spec.baseline) {
      const b = spec.baseline;
      const value = metricValue(all.threshold, b.metric);
      checks.push({
        id: `threshold:${spec.canaryPassRate}:baseline`,
        kind: 'baseline',
        policy: 'threshold',
        canaryPassRate: spec.canaryPassRate,
        description: b.description,
        metric: b.metric,
        comparator: 'between',
        bound: b.bound,
        value,
        today: null,
        pass: value !== null && value >= b.bound[0] && value <= b.bound[1],
      });
    }
    return { canaryPassRate: spec.canaryPassRate, label: spec.label, sequential: all.sequential, today: all.today, threshold: all.threshold, checks };
  });
  return {
    stablePassRate,
    share,
    canaries,
    maxCanaryTasks,
    seed,
    settings,
    rows,
    sequentialMeetsTargets: rows.every((r) => r.checks.filter((c) => c.kind === 'target' && c.policy === 'sequential').every((c) => c.pass)),
    elapsedMs: performance.now() - start,
  };
}
