import { decisionQualityTable, type DecisionQualityTable, type QualityCheck, type SimulationResult } from '@bernstein/quality-compare';
import { fmtPct, renderTable, verdict, type Verdict } from './stats.js';

/**
 * SPEC target "Decision quality": @bernstein/quality-compare's Monte-Carlo simulation of canaries
 * evaluated after every outcome, the sequential policy beside the seed's threshold rule on the
 * same simulated streams (same seed: same tasks and outcomes for both policies).
 */
export interface DecisionsBenchOptions {
  /** Simulated canaries per row (SPEC: 2,000). */
  canaries: number;
  seed?: number;
}

export interface DecisionsCheck {
  policy: 'sequential' | 'threshold';
  canaryPassRate: number;
  kind: QualityCheck['kind'];
  description: string;
  value: number | null;
  /** Human form of the value (a rate or a task count). */
  shown: string;
  /** `kind: 'target'`: MET/MISSED; `kind: 'baseline'`: whether the seed rule behaves as the SPEC describes. */
  result: Verdict | 'as described' | 'differs';
  /** Binding SPEC target (sequential only); the threshold rows are the baseline shown beside it. */
  binding: boolean;
}

export interface DecisionsBenchResult {
  table: DecisionQualityTable;
  checks: DecisionsCheck[];
  meetsTargets: boolean;
  elapsedMs: number;
}

export function benchDecisions(options: DecisionsBenchOptions): DecisionsBenchResult {
  const start = performance.now();
  const table = decisionQualityTable({ canaries: options.canaries, seed: options.seed ?? 1 });
  if (table.canaries !== options.canaries) throw new Error(`decision quality: asked for ${options.canaries} canaries per row, got ${table.canaries}`);
  const checks: DecisionsCheck[] = table.rows.flatMap((row) =>
    row.checks.map((c) => ({
      policy: c.policy,
      canaryPassRate: c.canaryPassRate,
      kind: c.kind,
      description: c.description,
      value: c.value,
      shown: c.value === null ? '-' : c.metric === 'rollbackMedianCanaryTasks' ? String(c.value) : fmtPct(c.value),
      result: c.kind === 'baseline' ? (c.pass ? 'as described' : 'differs') : verdict(c.pass),
      binding: c.kind === 'target' && c.policy === 'sequential',
    })),
  );
  return { table, checks, meetsTargets: checks.filter((c) => c.binding).every((c) => c.result === 'MET'), elapsedMs: performance.now() - start };
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
  const lines = [
    `stable pass rate ${t.stablePassRate}, canary share ${Math.round(t.share * 100)} %, evaluated after every outcome, min_canary_tasks ${t.settings.minCanaryTasks}, margin ${t.settings.rollbackMargin}; ` +
      `${t.canaries} simulated canaries per row and policy, horizon ${t.maxCanaryTasks} canary tasks, seed ${t.seed}; both policies on the same streams`,
    '',
  ];
  const rows = t.rows.flatMap((row) =>
    (['sequential', 'threshold'] as const).map((policy) => [`${row.canaryPassRate.toFixed(2)} ${row.label}`, policy, ...cells(row[policy])]),
  );
  lines.push(...renderTable(['canary pass rate', 'policy', 'promoted', 'rolled back', 'undecided', 'tasks to promote med/p90', 'tasks to rollback med/p90'], rows, [0, 1]));
  lines.push('');
  const checkRows = result.checks.map((c) => [
    c.canaryPassRate.toFixed(2),
    c.policy + (c.binding ? '' : c.kind === 'baseline' ? ' (seed rule, baseline)' : ' (baseline, not binding)'),
    c.description,
    c.shown,
    c.result,
  ]);
  lines.push(...renderTable(['canary', 'policy', 'SPEC target', 'measured', 'result'], checkRows, [0, 1, 2]));
  lines.push(`sequential policy: ${result.meetsTargets ? 'every SPEC target MET' : 'SPEC target(s) MISSED'} (simulation took ${(result.elapsedMs / 1000).toFixed(1)} s)`);
  return lines;
}
