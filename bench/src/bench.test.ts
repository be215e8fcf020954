import { describe, expect, it } from 'vitest';
import { parseArgs, SECTIONS } from './args.js';
import { formatReport, planFor, runBench, type BenchPlan } from './report.js';
import { percentile, renderTable, summarize } from './stats.js';

describe('bench arguments and plans', () => {
  it('parses flags', () => {
    expect(parseArgs([])).toMatchObject({ quick: false, json: false, only: [...SECTIONS] });
    expect(parseArgs(['--quick', '--json', '--only', 'scale,routing'])).toMatchObject({ quick: true, json: true, only: ['routing', 'scale'] });
    expect(parseArgs(['--only=write', '--scale-outcomes', '50_000'])).toMatchObject({ only: ['write'], scaleOutcomes: 50_000 });
    expect(parseArgs(['--', '--quick']).quick).toBe(true);
    expect(() => parseArgs(['--only', 'nope'])).toThrow(/unknown section/);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option --fast/);
    expect(() => parseArgs(['--scale-outcomes', '0'])).toThrow(/>= 1/);
  });

  it('full runs use the SPEC sizes; quick runs are smaller', () => {
    const full = planFor({ quick: false, only: SECTIONS });
    expect(full.routing.ids).toBe(1_000_000);
    expect(full.decisions.canaries).toBe(2000);
    expect(full.startup.runs).toBeGreaterThanOrEqual(20);
    expect(full.scale.outcomes).toBe(1_000_000);
    expect(full.write.processes).toEqual([1, 8]);
    const quick = planFor({ quick: true, only: SECTIONS });
    expect(quick.routing.ids).toBeLessThan(full.routing.ids);
    expect(quick.decisions.canaries).toBeLessThan(2000);
    expect(quick.startup.runs).toBeGreaterThanOrEqual(10);
    expect(quick.scale.outcomes).toBeLessThan(full.scale.outcomes);
  });

  it('summarizes samples', () => {
    expect(summarize([3, 1, 2, 10])).toEqual({ n: 4, min: 1, median: 2.5, max: 10 });
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(renderTable(['a', 'b'], [['x', '1'], ['yy', '22']])).toEqual(['a    b', '--  --', 'x    1', 'yy  22']);
  });
});

describe('bench harness, tiny run of every section (shapes only, no timing assertions)', () => {
  it('measures every section and reports each target', { timeout: 240_000 }, async () => {
    const plan: BenchPlan = {
      mode: 'custom',
      sections: SECTIONS,
      routing: { ids: 2000, quick: true, samples: 2, sampleMs: 5 },
      decisions: { canaries: 20, seed: 1, scenarioRuns: 3 },
      startup: { runs: 2, warmup: 0 },
      scale: { outcomes: 300, runs: 1, batch: 100, buildBudgetMs: 120_000 },
      write: { processes: [1, 2], rounds: 1, durationMs: 200 },
      serve: { durationS: 1, connections: 8, cliPairs: 2, cliWorkers: 2, dashboardSamples: 3 },
      postgres: { write: { processes: [1, 2], rounds: 1, durationMs: 200 }, routeCalls: 10, scale: { outcomes: 300, runs: 1, batch: 100, buildBudgetMs: 120_000 } },
      keep: false,
    };
    const report = await runBench(plan);
    expect(report.errors).toEqual([]);

    expect(report.routing?.rows.map((r) => r.key)).toEqual(['bernstein', 'growthbook', 'unleash']);

    expect(report.decisions?.table.canaries).toBe(20);
    expect(report.decisions?.table.rows).toHaveLength(4);
    expect(report.decisions?.checks.filter((c) => c.binding).length).toBeGreaterThanOrEqual(6);
    // Every issue-15 scenario row is simulated under both rules (the refused 100 % start has no 'now' runs).
    expect(report.decisions?.scenarios.rows.length).toBeGreaterThanOrEqual(15);
    for (const row of report.decisions!.scenarios.rows) expect(row.today.shown).not.toBe('');

    const startup = report.startup!;
    expect(startup.runs).toBe(2);
    for (const s of [startup.nodeBaseline, startup.status, startup.help]) {
      expect(s.n).toBe(2);
      expect(s.min).toBeGreaterThan(0);
      expect(s.min).toBeLessThanOrEqual(s.median);
      expect(s.median).toBeLessThanOrEqual(s.max);
    }
    expect(['MET', 'MISSED']).toContain(startup.result);

    const scale = report.scale!;
    expect(scale.build.outcomes).toBe(300);
    expect(scale.build.canaryActive).toBe(true);
    expect(scale.truncated).toBe(false);
    expect(scale.rows.map((r) => `${r.command}/${r.cache}`)).toEqual([
      'bernstein canary status/warm',
      'bernstein canary evaluate/warm',
      'bernstein canary status/none',
      'bernstein canary evaluate/none',
      'bernstein canary status/all',
      'bernstein canary evaluate/all',
    ]);
    for (const row of scale.rows) {
      expect(row.wall.n).toBe(1);
      expect(row.maxRss.min).toBeGreaterThan(1_000_000);
    }
    expect(scale.perTask.map((r) => r.command)).toEqual(['bernstein canary route (one new task)', 'bernstein canary record (its outcome)']);
    for (const row of scale.perTask) expect(row.wall.n).toBe(1);
    expect(scale.recordFrom.outcomes).toBe(300);
    expect(scale.recordFrom.wall.n).toBe(1);
    expect(scale.recordFrom.maxRss.min).toBeGreaterThan(1_000_000);

    const write = report.write!;
    expect(write.rows.map((r) => r.processes)).toEqual([1, 2]);
    for (const row of write.rows) {
      expect(row.records).toBeGreaterThan(0);
      expect(row.throughput.n).toBe(1);
      expect(row.latency.min).toBeLessThanOrEqual(row.latency.p99);
    }
    expect(write.fsyncPolicy).toMatch(/fsync/);

    const serve = report.serve!;
    expect(serve.pairs.pairs).toBeGreaterThan(0);
    expect(serve.pairs.non2xx).toBe(0);
    // Every acknowledged outcome of the load is in the ledger (and those the end of the run cut off in flight).
    expect(serve.pairs.outcomesInLedger).toBeGreaterThanOrEqual(serve.pairs.pairs);
    expect(serve.cli.pairs).toBe(2);
    expect(serve.retries.evaluationsPerSec).toBeGreaterThan(0);
    expect(serve.retries.non2xx).toBe(0);
    expect(serve.dashboard.samples).toBe(3);
    expect(serve.dashboard.delayMs.p50).toBeLessThanOrEqual(serve.dashboard.delayMs.p99);

    const postgres = report.postgres!;
    expect(postgres.write.map((r) => r.processes)).toEqual([1, 2]);
    for (const row of postgres.write) expect(row.records).toBeGreaterThan(0);
    expect(postgres.route.map((r) => r.store)).toEqual(['file', 'postgres']);
    expect(postgres.scale.outcomes).toBe(300);
    expect(postgres.scale.import.summary).toMatch(/imported backend/);
    expect(postgres.scale.rows.map((r) => `${r.command}/${r.cache}`)).toEqual([
      'bernstein canary status --store postgres://.../warm',
      'bernstein canary evaluate --store postgres://.../warm',
      'bernstein canary status --store postgres://.../none',
      'bernstein canary evaluate --store postgres://.../none',
    ]);

    // One target line per routing SDK, sequential decision target, startup, and scale row.
    const bySection = (s: string) => report.targets.filter((t) => t.section === s).length;
    expect(bySection('routing')).toBe(2);
    expect(bySection('decisions')).toBe(report.decisions!.checks.filter((c) => c.binding).length);
    expect(bySection('startup')).toBe(1);
    expect(bySection('scale')).toBe(7);
    expect(bySection('serve')).toBe(1);
    expect(bySection('postgres')).toBe(4);
    for (const t of report.targets) expect(['MET', 'MISSED']).toContain(t.result);

    const text = formatReport(report);
    for (const heading of ['## 1. Routing', '## 2. Decision quality', '## 3. CLI start-up', '## 4. Scale', '## 5. Write path', '## 6. Service', '## 7. Fleet mode', '## Targets']) expect(text).toContain(heading);
    expect(text).toMatch(/^machine: .+ cores, .+ RAM/m);
    expect(text).toMatch(/^node: v\d+/m);
    const json = JSON.parse(JSON.stringify(report)) as typeof report;
    expect(json.machine.node).toBe(process.version);
    expect(json.targets).toHaveLength(report.targets.length);
  });
});

describe('peak RSS probe', () => {
  it('measures a node script with GNU time or the wrapper fallback', async () => {
    const { bernsteinBin, rssMethod, runNodeMeasured } = await import('./proc.js');
    const method = rssMethod();
    const run = runNodeMeasured(bernsteinBin(), ['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Usage: bernstein/);
    expect(run.maxRssBytes).toBeGreaterThan(10_000_000);
    expect(['gnu-time', 'resourceUsage-wrapper']).toContain(method);
  });
});
