import { fork } from 'node:child_process';
import { canaryStatus, routeTasks } from '@bernstein/rollout';
import { openBenchProject, resolvedTasks } from './project.js';
import { BENCH_ROLE, startCanaryOfEditedBundle, UNDECIDED_CANARY_CONFIG, writeSkeleton } from './fixture.js';
import { distScript, removeDir, tempDir } from './proc.js';
import { fmtInt, fmtMs, fmtRate, percentile, renderTable, summarize, type Summary } from './stats.js';
import type { WorkerReport } from './write-worker.js';

/**
 * Write path: durable outcome records per second through `recordOutcomes`, one outcome per call
 * (each call one locked batch), from 1 process and from N processes at once on one project.
 * Workers are forked from bench/dist/write-worker.js, warm up with one record, then start
 * together on a signal and record until the deadline.
 */
export const FSYNC_POLICY =
  'each call: take the project lock (proper-lockfile: mkdir .sdd/lock), append the outcome line to .sdd/ledger.jsonl and fsync it (appendRecords), ' +
  'rewrite .sdd/cache/aggregates.json with write-file-atomic (temp file, fsync, rename; no directory fsync), release the lock; ' +
  'every outcome runs the automatic-decision check (canary kept undecided, so no state transition is written)';

export interface WriteBenchOptions {
  processes: readonly number[];
  rounds: number;
  durationMs: number;
  /** Upper bound on records per second per worker, to size the pre-routed ids. */
  maxRatePerWorker?: number;
}

export interface WriteRow {
  processes: number;
  rounds: number;
  records: number;
  /** Records per second over each round's wall time (first start to last end). */
  throughput: Summary;
  /** Latency of one recordOutcomes call, pooled over workers and rounds. */
  latency: Summary & { p99: number };
  /** Some worker ran out of pre-routed ids before its deadline: the rate is a lower bound. */
  exhausted: boolean;
}

export interface WriteBenchResult {
  fsyncPolicy: string;
  durationMs: number;
  rows: WriteRow[];
}

interface Running {
  ready: Promise<void>;
  done: Promise<WorkerReport>;
  go: () => void;
  kill: () => void;
}

export function startWorker(script: string, args: object): Running {
  // execArgv: [] so that the parent's node flags (e.g. a test runner's --conditions) do not leak in.
  const child = fork(script, [JSON.stringify(args)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<WorkerReport>((resolve, reject) => {
    let report: WorkerReport | undefined;
    child.on('message', (message: { type: string } & Partial<WorkerReport>) => {
      if (message.type === 'ready') onReady();
      if (message.type === 'done') report = message as WorkerReport;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && report) resolve(report);
      else reject(new Error(`write worker exited with ${code}: ${firstError(stderr)}`));
    });
  });
  done.catch(() => {}); // awaited by the caller; this only keeps an early failure from being "unhandled"
  // A worker that dies before "ready" must not leave the round waiting forever.
  const readyOrDied = Promise.race([ready, done.then(() => undefined)]);
  return {
    ready: readyOrDied,
    done,
    go: () => child.send({ type: 'go' }),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}

/** The error line of a crashed child's stderr (not node's trailing version banner). */
export function firstError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /error/i.test(l)) ?? lines.slice(0, 3).join(' | ');
}

async function routeAll(root: string, ids: string[]): Promise<void> {
  const project = openBenchProject(root);
  for (let i = 0; i < ids.length; i += 10_000) await routeTasks(project, BENCH_ROLE, ids.slice(i, i + 10_000));
}

async function benchProcesses(processes: number, options: WriteBenchOptions, script: string): Promise<WriteRow> {
  const dir = tempDir(`write-${processes}`);
  try {
    await writeSkeleton(dir, { canaryConfig: UNDECIDED_CANARY_CONFIG });
    const project = openBenchProject(dir);
    await routeTasks(project, BENCH_ROLE, ['init-0']);
    const canaryId = await startCanaryOfEditedBundle(project, BENCH_ROLE, 20);
    const perWorker = Math.ceil((options.durationMs / 1000) * (options.maxRatePerWorker ?? 1000)) + 1;
    const throughputs: number[] = [];
    const latencies: number[] = [];
    let records = 0;
    let exhausted = false;
    for (let round = 0; round < options.rounds; round++) {
      const prefixes = Array.from({ length: processes }, (_, w) => `r${round}-w${w}-`);
      await routeAll(dir, prefixes.flatMap((p) => Array.from({ length: perWorker }, (_, i) => `${p}${i}`)));
      const workers = prefixes.map((prefix) => startWorker(script, { dir, prefix, count: perWorker, durationMs: options.durationMs }));
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
    // Every acknowledged record must be in the ledger (plus one warm-up record per worker and round).
    const { roles } = await canaryStatus(openBenchProject(dir));
    const canary = roles.find((r) => r.canary?.id === canaryId)?.canary;
    const seen = canary ? resolvedTasks(canary) : -1;
    const expected = records + processes * options.rounds;
    if (seen !== expected) throw new Error(`write bench (${processes} processes): ${seen} outcomes in the ledger, expected ${expected}`);
    return { processes, rounds: options.rounds, records, throughput: summarize(throughputs), latency: { ...summarize(latencies), p99: percentile(latencies, 0.99) }, exhausted };
  } finally {
    removeDir(dir);
  }
}

export async function benchWrite(options: WriteBenchOptions): Promise<WriteBenchResult> {
  const script = distScript('write-worker');
  const rows: WriteRow[] = [];
  for (const processes of options.processes) rows.push(await benchProcesses(processes, options, script));
  return { fsyncPolicy: FSYNC_POLICY, durationMs: options.durationMs, rows };
}

export function formatWrite(r: WriteBenchResult): string[] {
  return [
    `fsync policy: ${r.fsyncPolicy}`,
    `one outcome per recordOutcomes call; ${r.rows[0]?.rounds ?? 0} rounds of ${fmtMs(r.durationMs)} per row; all processes on one project; no SPEC target (reported for capacity planning)`,
    '',
    ...renderTable(
      ['processes', 'records', 'durable records/s median', 'min', 'max', 'call latency median', 'p99', 'max'],
      r.rows.map((row) => [
        String(row.processes),
        fmtInt(row.records),
        fmtRate(row.throughput.median) + (row.exhausted ? ' (ids ran out: lower bound)' : ''),
        fmtRate(row.throughput.min),
        fmtRate(row.throughput.max),
        fmtMs(row.latency.median),
        fmtMs(row.latency.p99),
        fmtMs(row.latency.max),
      ]),
    ),
  ];
}
