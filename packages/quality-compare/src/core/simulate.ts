import { compileSettings, evidenceVerdict, prepareEvidence, type CompiledSettings } from './decide.js';
import { emptyCanaryEvidence, foldCanaryAssignment, foldCanaryOutcome } from './evidence.js';
import { Xoshiro128 } from './rng.js';
import { DEFAULT_DECISION_SETTINGS, type DecisionSettings, type Policy } from './types.js';

/**
 * Monte-Carlo simulation of canaries under continuous evaluation.
 *
 * Each simulated canary is a stream of tasks: a task goes to the canary with probability `share`
 * (else to stable) and passes with its arm's pass rate. After EVERY outcome (stable or canary) the
 * decision is evaluated exactly as `decide` would on the pooled counts (one epoch at
 * percentage = share * 100, no metrics so no guardrails, SRM hold included); the canary ends at
 * the first promote / rollback, or as undecided after `maxCanaryTasks` canary outcomes.
 *
 * Streams are a function of (seed, canary index) only and every task draws exactly two random
 * numbers, so both policies see the same tasks for the same seed.
 */

export interface SimulationParams {
  /** Decision settings; `policy` selects the policy. Guardrails are irrelevant (no metrics). */
  settings?: DecisionSettings;
  stablePassRate: number;
  canaryPassRate: number;
  /** Canary's share of tasks, in (0, 1]. */
  share: number;
  /** Number of simulated canaries. */
  canaries: number;
  /** Horizon: a canary still undecided after this many canary outcomes is 'undecided'. */
  maxCanaryTasks: number;
  seed: number;
}

export interface Rate {
  count: number;
  rate: number;
}

export interface Quantiles {
  /** nearest-rank median, null when there were none */
  median: number | null;
  p90: number | null;
}

export interface SimulationResult {
  policy: Policy;
  stablePassRate: number;
  canaryPassRate: number;
  share: number;
  canaries: number;
  maxCanaryTasks: number;
  seed: number;
  promoted: Rate;
  rolledBack: Rate;
  undecided: Rate;
  /** Canary outcomes at the moment of the decision. */
  canaryTasksToDecision: { promote: Quantiles; rollback: Quantiles };
  elapsedMs: number;
}

export interface CanaryRun {
  action: 'promote' | 'rollback' | 'undecided';
  canaryTasks: number;
  stableTasks: number;
}

/** One evaluation step, for tracing (tests compare it with `decide`). */
export interface SimulationStep {
  stablePassed: number;
  stableTasks: number;
  canaryPassed: number;
  canaryTasks: number;
  action: 'promote' | 'rollback' | 'continue';
  rule: string;
}

function validate(p: SimulationParams): void {
  const prob = (x: number) => x >= 0 && x <= 1;
  if (!prob(p.stablePassRate) || !prob(p.canaryPassRate)) throw new RangeError('pass rates must be in [0, 1]');
  if (!(p.share > 0 && p.share <= 1)) throw new RangeError('share must be in (0, 1]');
  if (!Number.isInteger(p.canaries) || p.canaries < 1) throw new RangeError('canaries must be an integer >= 1');
  if (!Number.isInteger(p.maxCanaryTasks) || p.maxCanaryTasks < 1) throw new RangeError('maxCanaryTasks must be an integer >= 1');
}

/** Simulate canary number `index` of a run (exported for tests and tracing). */
export function simulateCanary(
  compiled: CompiledSettings,
  p: Omit<SimulationParams, 'settings' | 'canaries'>,
  index: number,
  trace?: (step: SimulationStep) => void,
): CanaryRun {
  const rng = new Xoshiro128(p.seed, index);
  const share = p.share;
  const epochs = [{ epoch: 0, percentage: share * 100 }];
  const ev = emptyCanaryEvidence();
  let nc = 0;
  let ns = 0;
  for (let t = 0; nc < p.maxCanaryTasks; t++) {
    const route = rng.next();
    const outcome = rng.next();
    const arm = route < share ? 'canary' : 'stable';
    const taskId = String(t);
    foldCanaryAssignment(ev, { taskId, epoch: 0, arm });
    foldCanaryOutcome(ev, { taskId, epoch: 0, arm, kind: 'outcome', sample: { passed: outcome < (arm === 'canary' ? p.canaryPassRate : p.stablePassRate) } });
    if (arm === 'canary') nc++;
    else ns++;
    const v = evidenceVerdict(compiled, prepareEvidence(ev, epochs));
    if (trace) {
      const c = ev.cells[0]!;
      trace({ stablePassed: c.stable.passed, stableTasks: c.stable.tasks, canaryPassed: c.canary.passed, canaryTasks: c.canary.tasks, action: v.action, rule: v.rule });
    }
    if (v.action !== 'continue') return { action: v.action, canaryTasks: nc, stableTasks: ns };
  }
  return { action: 'undecided', canaryTasks: nc, stableTasks: ns };
}

function quantiles(values: number[]): Quantiles {
  if (values.length === 0) return { median: null, p90: null };
  const sorted = Float64Array.from(values).sort();
  const rank = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
  return { median: rank(0.5), p90: rank(0.9) };
}

export function simulate(params: SimulationParams): SimulationResult {
  validate(params);
  const settings = params.settings ?? DEFAULT_DECISION_SETTINGS;
  const compiled = compileSettings(settings);
  const start = performance.now();
  const promoteAt: number[] = [];
  const rollbackAt: number[] = [];
  let undecided = 0;
  for (let i = 0; i < params.canaries; i++) {
    const run = simulateCanary(compiled, params, i);
    if (run.action === 'promote') promoteAt.push(run.canaryTasks);
    else if (run.action === 'rollback') rollbackAt.push(run.canaryTasks);
    else undecided++;
  }
  const n = params.canaries;
  const rate = (count: number): Rate => ({ count, rate: count / n });
  return {
    policy: settings.policy,
    stablePassRate: params.stablePassRate,
    canaryPassRate: params.canaryPassRate,
    share: params.share,
    canaries: n,
    maxCanaryTasks: params.maxCanaryTasks,
    seed: params.seed,
    promoted: rate(promoteAt.length),
    rolledBack: rate(rollbackAt.length),
    undecided: rate(undecided),
    canaryTasksToDecision: { promote: quantiles(promoteAt), rollback: quantiles(rollbackAt) },
    elapsedMs: performance.now() - start,
  };
}

/** Both policies on the same simulated streams (same seed => same tasks and outcomes). */
export function simulateBoth(params: SimulationParams): { sequential: SimulationResult; threshold: SimulationResult } {
  const settings = params.settings ?? DEFAULT_DECISION_SETTINGS;
  return {
    sequential: simulate({ ...params, settings: { ...settings, policy: 'sequential' } }),
    threshold: simulate({ ...params, settings: { ...settings, policy: 'threshold' } }),
  };
}

// ---------------------------------------------------------------------------------------------
// The SPEC's decision-quality table

export interface QualityCheck {
  id: string;
  /** 'target': a SPEC target (binding for the sequential policy, shown for threshold as the baseline);
   *  'baseline': the SPEC's description of the seed rule's weakness (threshold only). */
  kind: 'target' | 'baseline';
  policy: Policy;
  canaryPassRate: number;
  description: string;
  metric: 'promoted.rate' | 'rolledBack.rate' | 'rollbackMedianCanaryTasks';
  comparator: '<=' | '>=' | 'between';
  bound: number | [number, number];
  value: number | null;
  pass: boolean;
}

export interface QualityRow {
  canaryPassRate: number;
  label: string;
  sequential: SimulationResult;
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
 * min_canary_tasks 10, margin 0.10, horizon 1,000 canary tasks) for both policies on the same
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
    const both = simulateBoth({ settings, stablePassRate, canaryPassRate: spec.canaryPassRate, share, canaries, maxCanaryTasks, seed });
    const checks: QualityCheck[] = [];
    for (const policy of ['sequential', 'threshold'] as const) {
      for (const t of spec.targets) {
        const value = metricValue(both[policy], t.metric);
        const pass = value !== null && (t.comparator === '<=' ? value <= t.bound : value >= t.bound);
        checks.push({ id: `${policy}:${spec.canaryPassRate}:${t.metric}`, kind: 'target', policy, canaryPassRate: spec.canaryPassRate, description: t.description, metric: t.metric, comparator: t.comparator, bound: t.bound, value, pass });
      }
    }
    if (spec.baseline) {
      const b = spec.baseline;
      const value = metricValue(both.threshold, b.metric);
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
        pass: value !== null && value >= b.bound[0] && value <= b.bound[1],
      });
    }
    return { canaryPassRate: spec.canaryPassRate, label: spec.label, sequential: both.sequential, threshold: both.threshold, checks };
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
