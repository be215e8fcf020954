import type { DecisionQualityTable, SimulationResult } from './simulate.js';

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const q = (x: number | null) => (x === null ? '-' : String(x));

function cells(r: SimulationResult): string[] {
  const p = r.canaryTasksToDecision.promote;
  const b = r.canaryTasksToDecision.rollback;
  return [pct(r.promoted.rate), pct(r.rolledBack.rate), pct(r.undecided.rate), `${q(p.median)} / ${q(p.p90)}`, `${q(b.median)} / ${q(b.p90)}`];
}

/** The decision-quality table as Markdown (one line per canary rate and policy, then the checks). */
export function formatDecisionQualityTable(t: DecisionQualityTable): string {
  const lines: string[] = [];
  lines.push(
    `Decision quality: stable pass rate ${t.stablePassRate}, canary share ${Math.round(t.share * 100)} %, evaluated after every outcome, ` +
      `min_canary_tasks ${t.settings.minCanaryTasks}, margin ${t.settings.rollbackMargin}, ${t.canaries} canaries per row, horizon ${t.maxCanaryTasks} canary tasks, seed ${t.seed}`,
    '',
    '| canary rate | policy | promoted | rolled back | undecided | canary tasks to promote (median / p90) | canary tasks to rollback (median / p90) |',
    '|---|---|---|---|---|---|---|',
  );
  for (const row of t.rows) {
    for (const policy of ['sequential', 'threshold'] as const) {
      lines.push(`| ${row.canaryPassRate.toFixed(2)} (${row.label}) | ${policy} | ${cells(row[policy]).join(' | ')} |`);
    }
  }
  lines.push('', '| policy | canary rate | check | value | result |', '|---|---|---|---|---|');
  for (const row of t.rows) {
    for (const c of row.checks) {
      const value = c.value === null ? '-' : c.metric === 'rollbackMedianCanaryTasks' ? String(c.value) : pct(c.value);
      const verdict = c.kind === 'baseline' ? (c.pass ? 'as described' : 'differs from SPEC description') : c.pass ? 'PASS' : 'FAIL';
      lines.push(`| ${c.policy} | ${c.canaryPassRate.toFixed(2)} | ${c.kind === 'baseline' ? 'baseline: ' : ''}${c.description} | ${value} | ${verdict} |`);
    }
  }
  lines.push('', `sequential policy meets every SPEC target: ${t.sequentialMeetsTargets ? 'yes' : 'NO'} (${(t.elapsedMs / 1000).toFixed(1)} s)`);
  return lines.join('\n');
}
