import { decisionQualityTable, scenarioTable, type DecisionQualityTable, type QualityCheck, type ScenarioTable, type SimulationResult } from '@bernstein/quality-compare';
import { fmtPct, renderTable, verdict, type Verdict } from './stats.js';

/**
 * SPEC targets "Decision quality" and "Decisions off the design point": @bernstein/quality-compare's
 * Monte-Carlo simulation of canaries evaluated after every outcome. The design-point table shows the
 * sequential policy now beside the previous sequential rule ("today") and the seed's threshold rule
 * on the same streams; the scenario table runs the issue-15 scenarios (ramps, share changes with
 * drift, slow failures, lagging outcomes, strata, ...) through both the previous rule and the
 * production path (the evidence fold and the verdict `decide` uses).
 */
export interface DecisionsBenchOptions {
  /** Simulated canaries per design-point row (SPEC: 2,000); fewer means the quick scenario sizes too. */
  canaries: number;
  seed?: number;
  /** At most this many simulated canaries per scenario row (a harness check needs only a few). */
  scenarioRuns?: number;
}

export interface DecisionsCheck {
  policy: 'sequential' | 'threshold';
  /** NaN for scenario rows */
  canaryPassRate: number;
  kind: QualityCheck['kind'] | 'scenario';
  description: string;
  value: number | null;
  /** Human form of the value (a rate or a task count). */
  shown: string;
  /** The previous sequential rule's value, human form ('-' when not measured). */
  today: string;
  /** `kind: 'target' | 'scenario'`: MET/MISSED; `kind: 'baseline'`: whether the seed rule behaves as the SPEC describes. */
  result: Verdict | 'as described' | 'differs';
  /** Binding target (sequential now); the threshold rows are the baseline shown beside it. */
  binding: boolean;
  /** One line for the summary table. */
  summary: string;
}

export interface DecisionsBenchResult {
  table: DecisionQualityTable;
  scenarios: ScenarioTable;
  checks: DecisionsCheck[];
  meetsTargets: boolean;
  elapsedMs: number;
}

const shownOf = (c: QualityCheck, v: number | null) => (v === null ? '-' : c.metric === 'rollbackMedianCanaryTasks' ? String(v) : fmtPct(v));

export function benchDecisions(options: DecisionsBenchOptions): DecisionsBenchResult {
  const start = performance.now();
  const seed = options.seed ?? 1;
  const table = decisionQualityTable({ canaries: options.canaries, seed });
  if (table.canaries !== options.canaries) throw new Error(`decision quality: asked for ${options.canaries} canaries per row, got ${table.canaries}`);
  // Full mode: the 2,000 canaries per scenario row (1,000 for the 10,000-task horizons); below 2,000 the quick sizes.
  const quick = options.canaries < 2000;
  const maxRuns = Math.min(quick ? Math.max(options.canaries, 20) : Infinity, options.scenarioRuns ?? Infinity);
  const scenarios = scenarioTable({ seed, quick, ...(Number.isFinite(maxRuns) ? { maxRuns } : {}) });
  const checks: DecisionsCheck[] = table.rows.flatMap((row) =>
    row.checks.map((c) => ({
      policy: c.policy,
      canaryPassRate: c.canaryPassRate,
      kind: c.kind,
      description: c.description,
      value: c.value,
      shown: shownOf(c, c.value),
      today: c.policy === 'sequential' ? shownOf(c, c.today) : '-',
      result: c.kind === 'baseline' ? (c.pass ? 'as described' : 'differs') : verdict(c.pass),
      binding: c.kind === 'target' && c.policy === 'sequential',
      summary: `${c.policy}, canary ${c.canaryPassRate.toFixed(2)}: ${c.description}`,
    })),
  );
  for (const r of scenarios.rows) {
    if (r.pass === null) continue;
    checks.push({
      policy: 'sequential',
      canaryPassRate: Number.NaN,
      kind: 'scenario',
      description: `${r.scenario}: ${r.metric} ${r.target}`,
      value: r.now.value,
      shown: r.now.shown,
      today: r.today.shown,
      result: verdict(r.pass),
      binding: true,
      summary: `${r.id}: ${r.metric} ${r.target}`,
    });
  }
  return { table, scenarios, checks, meetsTargets: checks.filter((c) => c.binding).every((c) => c.result === 'MET'), elapsedMs: performance.now() - start };
}

function q(x: number | null): string {
  return x === null ? '-' : String(x);
}

function cells(r: SimulationResult): string[] {
  const p = r.canaryTasksToDecision.promote;
  const b = r.canaryTasksToDecision.rollback;
  return [fmtPct(r.promoted.rate), fmtPct(r.rolledBack.rate), fmtPct(r.undecided.rate), `${q(p.median)} / ${q(p.p90)}`, `${q(b.median)} / ${q(b.p90)}`];
}

export function formatDecisions(result: DecisionsBenchResult): string[] {
  const t = result.table;
  const s = result.scenarios;
  const lines = [
    `Design point: stable pass rate ${t.stablePassRate}, canary share ${Math.round(t.share * 100)} %, evaluated after every outcome, min_canary_tasks ${t.settings.minCanaryTasks}, margin ${t.settings.rollbackMargin}; ` +
      `${t.canaries} simulated canaries per row and rule, horizon ${t.maxCanaryTasks} canary tasks, seed ${t.seed}; the three rules on the same streams ` +
      `(today = the previous sequential rule, kept as the simulator's baseline)`,
    '',
  ];
  const rows = t.rows.flatMap((row) =>
    (['sequential', 'today', 'threshold'] as const).map((policy) => [`${row.canaryPassRate.toFixed(2)} ${row.label}`, policy === 'sequential' ? 'sequential (now)' : policy === 'today' ? 'sequential (today)' : 'threshold', ...cells(row[policy])]),
  );
  lines.push(...renderTable(['canary pass rate', 'rule', 'promoted', 'rolled back', 'undecided', 'tasks to promote med/p90', 'tasks to rollback med/p90'], rows, [0, 1]));
  lines.push('');
  const designChecks = result.checks.filter((c) => c.kind !== 'scenario');
  const checkRows = designChecks.map((c) => [
    c.canaryPassRate.toFixed(2),
    c.policy + (c.binding ? '' : c.kind === 'baseline' ? ' (seed rule, baseline)' : ' (baseline, not binding)'),
    c.description,
    c.today,
    c.shown,
    c.result,
  ]);
  lines.push(...renderTable(['canary', 'policy', 'SPEC target', 'today', 'now', 'result'], checkRows, [0, 1, 2]));
  lines.push(
    '',
    `Off the design point (issue 15): stable 0.80 and share 20 % unless the scenario says otherwise, min_canary_tasks 10, margin 0.10, seed ${s.seed}, ` +
      `${s.quick ? 'quick sizes' : 'full sizes'}; time in routed tasks. today = the previous rule (arrival order, no timeout, evidence restarted at each step, SRM on outcomes, min-tasks before any rollback, mixture {0.30, 0.15}); ` +
      'now = the production path (routing-order evidence with timeouts, one test over every epoch, strata, early rollback).',
    '',
  );
  lines.push(
    ...renderTable(
      ['scenario', 'measured', 'runs', 'today', 'now', 'target', 'result'],
      s.rows.map((r) => [r.scenario, r.metric, r.today.runs > 0 ? String(r.today.runs) : '-', r.today.shown, r.now.shown, r.target, r.pass === null ? '-' : verdict(r.pass)]),
      [0, 1, 5],
    ),
  );
  for (const r of s.rows) if (r.note !== undefined) lines.push(`  ${r.id}: ${r.note}`);
  lines.push(`sequential policy: ${result.meetsTargets ? 'every target MET' : 'target(s) MISSED'} (simulation took ${(result.elapsedMs / 1000).toFixed(1)} s)`);
  return lines;
}
