import { describe, expect, it } from 'vitest';
import { formatDecisionQualityTable } from './print-table.js';
import { decisionQualityTable, simulate } from './simulate.js';
import { DEFAULT_DECISION_SETTINGS } from './types.js';

/**
 * Measurement scripts, skipped unless asked for (no tsx in the workspace, so they run under vitest):
 *   cd /work/main && QC_TABLE=1 pnpm exec vitest run --project quality-compare src/core/print-table.test.ts
 *     the SPEC's decision-quality table, 2,000 canaries per row (QC_TABLE_SEED, QC_TABLE_CANARIES)
 *   cd /work/main && QC_TABLE=robust pnpm exec vitest run --project quality-compare src/core/print-table.test.ts
 *     the sequential policy away from the SPEC's design point (1,000 canaries per cell)
 */
const mode = process.env.QC_TABLE;

describe.skipIf(mode !== '1')('decision-quality table (QC_TABLE=1)', () => {
  it('prints the table', () => {
    const table = decisionQualityTable({
      canaries: Number(process.env.QC_TABLE_CANARIES ?? 2000),
      seed: Number(process.env.QC_TABLE_SEED ?? 1),
    });
    console.log(`\n${formatDecisionQualityTable(table)}\n`);
    expect(table.rows).toHaveLength(4);
  }, 600_000);
});

describe.skipIf(mode !== 'robust')('sequential policy away from the design point (QC_TABLE=robust)', () => {
  it('prints the table', () => {
    const configs: Array<{ stable: number; share: number; margin: number; min: number }> = [];
    for (const stable of [0.5, 0.8, 0.95]) for (const share of [0.05, 0.2, 0.5]) configs.push({ stable, share, margin: 0.1, min: 10 });
    configs.push({ stable: 0.3, share: 0.2, margin: 0.1, min: 10 });
    for (const margin of [0, 0.05, 0.2]) configs.push({ stable: 0.8, share: 0.2, margin, min: 10 });
    configs.push({ stable: 0.8, share: 0.2, margin: 0.1, min: 30 });
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    const lines = [
      '| stable | share | margin | min tasks | equal: rolled back | equal: promoted (median tasks) | at -margin: promoted | -20 points: rolled back (median tasks) | +10 points: promoted (median tasks) |',
      '|---|---|---|---|---|---|---|---|---|',
    ];
    for (const c of configs) {
      const settings = { ...DEFAULT_DECISION_SETTINGS, rollbackMargin: c.margin, minCanaryTasks: c.min };
      const run = (canaryPassRate: number) =>
        simulate({ settings, stablePassRate: c.stable, canaryPassRate: Math.min(1, Math.max(0, canaryPassRate)), share: c.share, canaries: 1000, maxCanaryTasks: 1000, seed: 11 });
      const eq = run(c.stable);
      const atMargin = c.margin > 0 ? run(c.stable - c.margin) : null;
      const bad = run(c.stable - 0.2);
      const good = run(c.stable + 0.1);
      lines.push(
        `| ${c.stable} | ${c.share} | ${c.margin} | ${c.min} | ${pct(eq.rolledBack.rate)} | ${pct(eq.promoted.rate)} (${eq.canaryTasksToDecision.promote.median ?? '-'}) | ` +
          `${atMargin ? pct(atMargin.promoted.rate) : '-'} | ${pct(bad.rolledBack.rate)} (${bad.canaryTasksToDecision.rollback.median ?? '-'}) | ` +
          `${pct(good.promoted.rate)} (${good.canaryTasksToDecision.promote.median ?? '-'}) |`,
      );
    }
    console.log(`\n${lines.join('\n')}\n`);
    expect(lines.length).toBeGreaterThan(2);
  }, 600_000);
});
