/**
 * Child process of the scale bench: build a project whose ledger holds N outcomes, only through
 * the public API: `routeTasks` in large batches, then `recordOutcomes` of those tasks in large
 * batches (each outcome evaluated, as in production). Progress on stderr; one JSON line
 * (ScaleBuildReport) on stdout.
 *
 *   node bench/dist/scale-build.js '{"dir":"/tmp/x","outcomes":1000000,"batch":10000,"budgetMs":600000}'
 *
 * "guardrails": true turns on cost and duration guardrails in the project config (not used by
 * the harness; for comparing ingestion cost by hand).
 *
 * With budgetMs, building stops at the first batch boundary after that long (the report says
 * how many outcomes were reached).
 */
import { stat } from 'node:fs/promises';
import { recordOutcomes, routeTasks } from '@bernstein/rollout';
import { openBenchProject } from './project.js';
import { assertRecorded, BENCH_ROLE, outcomeItems, startCanaryOfEditedBundle, UNDECIDED_CANARY_CONFIG, UNDECIDED_CANARY_CONFIG_WITH_GUARDRAILS, writeSkeleton } from './fixture.js';

export interface ScaleBuildReport {
  outcomes: number;
  batch: number;
  routeMs: number;
  recordMs: number;
  totalMs: number;
  ledgerBytes: number;
  aggregatesBytes: number;
  maxRssBytes: number;
  canaryId: string;
  canaryActive: boolean;
  transitions: number;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as { dir?: string; outcomes?: number; batch?: number; budgetMs?: number; guardrails?: boolean };
  const dir = opts.dir;
  const total = Math.floor(opts.outcomes ?? 0);
  const batch = Math.max(1, Math.floor(opts.batch ?? 10_000));
  if (!dir || !(total >= 1)) throw new Error('usage: scale-build.js \'{"dir":"...","outcomes":N,"batch":B}\'');

  const started = performance.now();
  await writeSkeleton(dir, { canaryConfig: opts.guardrails ? UNDECIDED_CANARY_CONFIG_WITH_GUARDRAILS : UNDECIDED_CANARY_CONFIG });
  const project = openBenchProject(dir);
  await routeTasks(project, BENCH_ROLE, ['init-0']); // first sight: the bundle on disk becomes stable
  const canaryId = await startCanaryOfEditedBundle(project, BENCH_ROLE, 20);

  let routeMs = 0;
  let recordMs = 0;
  let transitions = 0;
  let lastReport = performance.now();
  let done = 0;
  while (done < total) {
    if (opts.budgetMs !== undefined && performance.now() - started > opts.budgetMs) {
      process.stderr.write(`  scale build: time budget of ${Math.round(opts.budgetMs / 1000)} s spent; stopping at ${done.toLocaleString('en-US')} outcomes\n`);
      break;
    }
    const n = Math.min(batch, total - done);
    const ids = Array.from({ length: n }, (_, k) => `t-${done + k}`);
    let t = performance.now();
    const routed = await routeTasks(project, BENCH_ROLE, ids);
    routeMs += performance.now() - t;
    if (routed.length !== n) throw new Error(`routeTasks returned ${routed.length} of ${n}`);
    t = performance.now();
    const result = await recordOutcomes(project, outcomeItems(ids, done), { batchSize: batch });
    recordMs += performance.now() - t;
    assertRecorded(result, n, 'scale build');
    transitions += result.transitions.length;
    done += n;
    if (performance.now() - lastReport > 5000 || done === total) {
      lastReport = performance.now();
      const s = (performance.now() - started) / 1000;
      process.stderr.write(`  scale build: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} outcomes, ${s.toFixed(0)} s (route ${(routeMs / 1000).toFixed(0)} s, record ${(recordMs / 1000).toFixed(0)} s)\n`);
    }
  }

  const state = await project.store.loadState();
  const report: ScaleBuildReport = {
    outcomes: done,
    batch,
    routeMs,
    recordMs,
    totalMs: performance.now() - started,
    ledgerBytes: (await stat(project.store.paths.ledger)).size,
    aggregatesBytes: (await stat(project.store.paths.aggregates)).size,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    canaryId,
    canaryActive: state.roles[BENCH_ROLE]?.canary?.id === canaryId,
    transitions,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`scale-build failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
