import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canaryStatus, routeTasks } from '@bernstein/rollout';
import { migrateSchema, openPostgresStore } from '@bernstein/store-postgres';
import { startPgServer, type PgServer } from '@bernstein/store-postgres/testing';
import { BENCH_ROLE, startCanaryOfEditedBundle, UNDECIDED_CANARY_CONFIG, writeSkeleton } from './fixture.js';
import { openBenchProject, openBenchProjectOn, resolvedTasks } from './project.js';
import { bernsteinBin, describeRssMethod, distScript, removeDir, rssMethod, runNodeMeasured, tempDir, type RssMethod } from './proc.js';
import type { ScaleBuildReport } from './scale-build.js';
import { fmtInt, fmtMB, fmtMs, fmtRate, percentile, renderTable, summarize, type Summary } from './stats.js';
import { startWorker, type WriteRow } from './write.js';
import type { WorkerReport } from './write-worker.js';

/**
 * Fleet mode, measured: the same work as the file rows, on a PostgreSQL server the bench starts
 * (initdb + pg_ctl on 127.0.0.1, fsync on, default settings: every commit is durable).
 * - durable outcomes/s with 1 and 8 writer processes (one outcome per recordOutcomes call);
 * - route latency (one new task per routeTasks call, in-process), file and PostgreSQL side by side;
 * - status and evaluate at N outcomes through the bin, with the server's cache warm and with no
 *   warm cache anywhere (server restarted, and the OS page cache dropped where allowed);
 * - `bernstein store import` of an N-outcome `.sdd/` (built through the API, as the scale section does).
 */
export interface PostgresBenchOptions {
  write: { processes: readonly number[]; rounds: number; durationMs: number };
  routeCalls: number;
  scale: { outcomes: number; runs: number; batch: number; buildBudgetMs: number };
  progress?: (line: string) => void;
}

export interface LatencyRow {
  store: 'file' | 'postgres';
  calls: number;
  latency: Summary & { p99: number };
}

export interface CommandRow {
  command: string;
  cache: 'warm' | 'none';
  wall: Summary;
  maxRss: Summary;
}

export interface PostgresBenchResult {
  server: string;
  write: WriteRow[];
  route: LatencyRow[];
  scale: {
    outcomes: number;
    build: ScaleBuildReport;
    import: { wallMs: number; maxRssBytes: number; summary: string };
    rows: CommandRow[];
    /** How "no warm cache anywhere" was achieved. */
    coldMethod: string;
    rssMethod: RssMethod;
  };
}

async function freshDatabase(server: PgServer): Promise<string> {
  const url = await server.createDatabase();
  const store = await openPostgresStore(url, { root: '.', skipSchemaCheck: true });
  try {
    const client = await store.connect('migrate');
    try {
      await migrateSchema(client);
    } finally {
      client.release();
    }
  } finally {
    await store.close();
  }
  return url;
}

async function writeRow(server: PgServer, processes: number, options: PostgresBenchOptions['write']): Promise<WriteRow> {
  const url = await freshDatabase(server);
  const dir = tempDir(`pg-write-${processes}`);
  try {
    await writeSkeleton(dir, { canaryConfig: UNDECIDED_CANARY_CONFIG });
    const project = await openBenchProjectOn(dir, url);
    let canaryId: string;
    try {
      await routeTasks(project, BENCH_ROLE, ['init-0']);
      canaryId = await startCanaryOfEditedBundle(project, BENCH_ROLE, 20);
    } finally {
      await project.close();
    }
    const perWorker = Math.ceil((options.durationMs / 1000) * 600) + 1;
    const script = distScript('write-worker');
    const throughputs: number[] = [];
    const latencies: number[] = [];
    let records = 0;
    let exhausted = false;
    for (let round = 0; round < options.rounds; round++) {
      const prefixes = Array.from({ length: processes }, (_, w) => `r${round}-w${w}-`);
      const router = await openBenchProjectOn(dir, url);
      try {
        const ids = prefixes.flatMap((p) => Array.from({ length: perWorker }, (_, i) => `${p}${i}`));
        for (let i = 0; i < ids.length; i += 10_000) await routeTasks(router, BENCH_ROLE, ids.slice(i, i + 10_000));
      } finally {
        await router.close();
      }
      const workers = prefixes.map((prefix) => startWorker(script, { dir, prefix, count: perWorker, durationMs: options.durationMs, url }));
      let reports: WorkerReport[];
      try {
        await Promise.all(workers.map((w) => w.ready));
        for (const w of workers) w.go();
        reports = await Promise.all(workers.map((w) => w.done));
      } catch (error) {
        for (const w of workers) w.kill();
        throw error;
      }
      const n = reports.reduce((sum, r) => sum + r.records, 0);
      const wallMs = Math.max(...reports.map((r) => r.endedAt)) - Math.min(...reports.map((r) => r.startedAt));
      throughputs.push(n / (wallMs / 1000));
      for (const r of reports) latencies.push(...r.latenciesMs);
      records += n;
      exhausted ||= reports.some((r) => r.exhausted);
    }
    // Every acknowledged record is in the store (plus one warm-up record per worker and round).
    const check = await openBenchProjectOn(dir, url);
    try {
      const { roles } = await canaryStatus(check);
      const canary = roles.find((r) => r.canary?.id === canaryId)?.canary;
      const seen = canary ? resolvedTasks(canary) : -1;
      const expected = records + processes * options.rounds;
      if (seen !== expected) throw new Error(`postgres write bench (${processes} processes): ${seen} outcomes in the store, expected ${expected}`);
    } finally {
      await check.close();
    }
    return { processes, rounds: options.rounds, records, throughput: summarize(throughputs), latency: { ...summarize(latencies), p99: percentile(latencies, 0.99) }, exhausted };
  } finally {
    removeDir(dir);
  }
}

async function routeLatency(store: 'file' | 'postgres', server: PgServer, calls: number): Promise<LatencyRow> {
  const dir = tempDir(`route-${store}`);
  const url = store === 'postgres' ? await freshDatabase(server) : '';
  try {
    await writeSkeleton(dir, { canaryConfig: UNDECIDED_CANARY_CONFIG });
    const project = store === 'postgres' ? await openBenchProjectOn(dir, url) : openBenchProject(dir);
    try {
      await routeTasks(project, BENCH_ROLE, ['init-0']);
      await startCanaryOfEditedBundle(project, BENCH_ROLE, 20);
      for (let i = 0; i < 20; i++) await routeTasks(project, BENCH_ROLE, [`warm-${i}`]);
      const latencies: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await routeTasks(project, BENCH_ROLE, [`task-${i}`]);
        latencies.push(performance.now() - t);
      }
      return { store, calls, latency: { ...summarize(latencies), p99: percentile(latencies, 0.99) } };
    } finally {
      await project.close();
    }
  } finally {
    removeDir(dir);
  }
}

function buildFileProject(dir: string, options: PostgresBenchOptions['scale'], progress?: (line: string) => void): Promise<ScaleBuildReport> {
  const script = distScript('scale-build');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=8192', script, JSON.stringify({ dir, outcomes: options.outcomes, batch: options.batch, budgetMs: options.buildBudgetMs })], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      for (const line of d.split('\n').filter(Boolean)) progress?.(line.trim());
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`scale build exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ScaleBuildReport);
      } catch (error) {
        reject(new Error(`scale build printed no report: ${(error as Error).message}`));
      }
    });
  });
}

/** Drop the OS page cache (root on Linux); false where the kernel or a container refuses. */
function dropPageCache(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

async function scaleRows(server: PgServer, options: PostgresBenchOptions['scale'], progress?: (line: string) => void): Promise<PostgresBenchResult['scale']> {
  const bin = bernsteinBin();
  const dir = tempDir('pg-scale');
  try {
    const build = await buildFileProject(dir, options, progress);
    const url = await freshDatabase(server);
    // The import: a fresh process, as a user runs it.
    const imported = runNodeMeasured(bin, ['store', 'import', '--dir', dir, '--store', url]);
    if (imported.status !== 0) throw new Error(`bernstein store import failed: ${imported.stderr.trim()}`);
    const rows: CommandRow[] = [];
    let coldMethod = "a fresh process, the project's .sdd/cache/ deleted, the server restarted (pg_ctl restart -m fast: shared buffers empty)";
    let dropped = true;
    const measure = (command: 'status' | 'evaluate', cache: 'warm' | 'none') => {
      const wall: number[] = [];
      const rss: number[] = [];
      for (let i = 0; i < options.runs; i++) {
        if (cache === 'none') {
          // Nothing derived survives: the project's file caches (unused with --store, deleted
          // anyway), the server's shared buffers, and the OS page cache where allowed.
          rmSync(join(dir, '.sdd', 'cache'), { recursive: true, force: true });
          server.restartFast();
          dropped = dropPageCache() && dropped;
        }
        const run = runNodeMeasured(bin, ['canary', command, '--dir', dir, '--store', url]);
        if (run.status !== 0) throw new Error(`bernstein canary ${command} --store failed: ${run.stderr.trim()}`);
        wall.push(run.ms);
        rss.push(run.maxRssBytes!);
      }
      rows.push({ command: `bernstein canary ${command} --store postgres://...`, cache, wall: summarize(wall), maxRss: summarize(rss) });
    };
    // Check the figures describe the whole ledger.
    const status = runNodeMeasured(bin, ['canary', 'status', '--json', '--dir', dir, '--store', url]);
    const parsed = JSON.parse(status.stdout) as { roles: Array<{ canary: null | { id: string; stable: { tasks: number }; canary: { tasks: number } } }> };
    const canary = parsed.roles.find((r) => r.canary?.id === build.canaryId)?.canary;
    if (!canary || canary.stable.tasks + canary.canary.tasks !== build.outcomes) {
      throw new Error(`postgres scale: status reports ${canary ? canary.stable.tasks + canary.canary.tasks : 'no canary'}, expected ${build.outcomes} outcomes`);
    }
    measure('status', 'warm');
    measure('evaluate', 'warm');
    measure('status', 'none');
    measure('evaluate', 'none');
    coldMethod += dropped ? ', and the OS page cache dropped (/proc/sys/vm/drop_caches) before each run' : '; the OS page cache could not be dropped here (not permitted), so file pages may be warm';
    return {
      outcomes: build.outcomes,
      build,
      import: { wallMs: imported.ms, maxRssBytes: imported.maxRssBytes!, summary: imported.stdout.trim() },
      rows,
      coldMethod,
      rssMethod: rssMethod(),
    };
  } finally {
    removeDir(dir);
  }
}

export async function benchPostgres(options: PostgresBenchOptions): Promise<PostgresBenchResult> {
  const server = await startPgServer();
  try {
    const log = options.progress ?? (() => undefined);
    const write: WriteRow[] = [];
    for (const processes of options.write.processes) {
      log(`  postgres: ${processes} writer(s) ...`);
      write.push(await writeRow(server, processes, options.write));
    }
    log('  postgres: route latency ...');
    const route = [await routeLatency('file', server, options.routeCalls), await routeLatency('postgres', server, options.routeCalls)];
    log(`  postgres: scale (${fmtInt(options.scale.outcomes)} outcomes) ...`);
    const scale = await scaleRows(server, options.scale, log);
    return { server: `PostgreSQL on 127.0.0.1:${server.port} (initdb defaults, fsync on)`, write, route, scale };
  } finally {
    await server.stop();
  }
}

export function formatPostgres(r: PostgresBenchResult, file: { write?: WriteRow[]; scale?: Array<{ command: string; cache: 'warm' | 'none' | 'all'; wall: Summary; maxRss: Summary }> }): string[] {
  const fileWrite = new Map((file.write ?? []).map((row) => [row.processes, row]));
  const lines = [
    `server: ${r.server}; every figure below is from this run, file rows beside PostgreSQL rows where the file sections ran`,
    '',
    'durable outcomes/s (one outcome per recordOutcomes call, each its own committed transaction):',
    ...renderTable(
      ['writers', 'store', 'records/s median', 'call p50', 'call p99'],
      r.write.flatMap((row) => {
        const f = fileWrite.get(row.processes);
        const out = [[String(row.processes), 'postgres', fmtRate(row.throughput.median) + (row.exhausted ? ' (ids ran out)' : ''), fmtMs(row.latency.median), fmtMs(row.latency.p99)]];
        if (f) out.push([String(row.processes), 'file', fmtRate(f.throughput.median), fmtMs(f.latency.median), fmtMs(f.latency.p99)]);
        return out;
      }),
    ),
    '',
    'route latency (one new task per routeTasks call, in-process, canary at 20 %):',
    ...renderTable(
      ['store', 'calls', 'p50', 'p99', 'max'],
      r.route.map((row) => [row.store, fmtInt(row.calls), fmtMs(row.latency.median), fmtMs(row.latency.p99), fmtMs(row.latency.max)]),
    ),
    '',
    `scale: ${fmtInt(r.scale.outcomes)} outcomes (a .sdd/ built through the API in ${fmtMs(r.scale.build.totalMs)}), then \`bernstein store import\`: ${fmtMs(r.scale.import.wallMs)}, peak RSS ${fmtMB(r.scale.import.maxRssBytes)}`,
    `  (${r.scale.import.summary})`,
    `no warm cache: ${r.scale.coldMethod}; ${describeRssMethod(r.scale.rssMethod)}`,
    ...renderTable(
      ['command', 'cache', 'wall median', 'max', 'peak RSS max', 'target'],
      [
        ...r.scale.rows.map((row) => [row.command, row.cache === 'warm' ? 'server warm' : 'none anywhere', fmtMs(row.wall.median), fmtMs(row.wall.max), fmtMB(row.maxRss.max), '< 1 s, < 300 MB']),
        ...(file.scale ?? []).map((row) => [`${row.command} (file)`, row.cache === 'warm' ? 'aggregates cache' : row.cache === 'none' ? 'cache removed' : 'every derived cache removed', fmtMs(row.wall.median), fmtMs(row.wall.max), fmtMB(row.maxRss.max), '< 1 s, < 300 MB']),
      ],
    ),
  ];
  return lines;
}
