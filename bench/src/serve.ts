import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { routeTasks } from '@bernstein/rollout';
import { openBenchProject, resolvedTasks } from './project.js';
import { BENCH_ROLE, startCanaryOfEditedBundle, UNDECIDED_CANARY_CONFIG, writeSkeleton } from './fixture.js';
import { bernsteinBin, removeDir, tempDir } from './proc.js';
import { fmtInt, fmtMs, fmtRate, percentile, renderTable } from './stats.js';

/**
 * `bernstein serve` under load, against the CLI path measured in the same run.
 *
 * The server is the built bin (`bernstein serve --port 0`) in its own process, on the file store,
 * with an undecided canary at 20 %. The load generator is autocannon (in this process), 64
 * connections to 127.0.0.1, each looping: route a new task over OFREP, then post its outcome
 * (both acknowledged only once fsync'd). The CLI path is `bernstein canary route` then
 * `bernstein canary record`, one process per call, from 8 workers (a thread pool driving the
 * CLI, as an orchestrator without the server does).
 */
export const SERVE_METHOD =
  'server: built `bernstein serve` on the file store, one process; load: autocannon 9.0.0 from the bench process (same 2 cores), 127.0.0.1 only, keep-alive connections; ' +
  'a pair = POST /ofrep/v1/evaluate/flags/backend (new task id) then POST /v1/outcomes for it; CLI path: `bernstein canary route` + `bernstein canary record`, one node process per call, 8 at a time';

export interface ServeBenchOptions {
  durationS: number;
  connections: number;
  cliPairs: number;
  cliWorkers: number;
  dashboardSamples: number;
  keep?: boolean;
}

export interface LatencyFigures {
  p50: number;
  p99: number;
}

export interface ServeBenchResult {
  method: string;
  store: 'file';
  connections: number;
  durationS: number;
  pairs: { tasksPerSec: number; pairs: number; latencyMs: LatencyFigures; requestLatencyMs: LatencyFigures; non2xx: number; errors: number; outcomesInLedger: number };
  cli: { tasksPerSec: number; pairs: number; workers: number; pairLatencyMs: LatencyFigures };
  /** server tasks/s over CLI tasks/s. */
  ratio: number;
  retries: { evaluationsPerSec: number; latencyMs: LatencyFigures; non2xx: number; errors: number; distinctTasks: number };
  dashboard: { samples: number; delayMs: LatencyFigures };
  targets: { tasksPerSec: number; p99Ms: number; ratio: number };
}

interface Served {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function serve(dir: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bernsteinBin(), '--dir', dir, '--json', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BERNSTEIN_TOKEN_READ: '', BERNSTEIN_TOKEN_ROUTE: '', BERNSTEIN_TOKEN_ADMIN: '' } });
    let out = '';
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const { url } = JSON.parse(out.slice(0, nl)) as { url: string };
      resolve({
        url,
        child,
        async stop() {
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
    child.on('exit', (code) => reject(new Error(`bernstein serve exited with ${code}: ${err.trim().split('\n').pop()}`)));
  });
}

/** A child process to completion, without blocking the event loop (the CLI workers run at once). */
function runProcess(command: string, args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

function figures(values: number[]): LatencyFigures {
  return { p50: percentile(values, 0.5), p99: percentile(values, 0.99) };
}

/** Route + record pairs with `connections` concurrent clients for `durationS` seconds. */
async function pairsLoad(url: string, connections: number, durationS: number) {
  let next = 0;
  const pairLatencies: number[] = [];
  const routed: string[] = [];
  let bad = 0;
  const result = await autocannon({
    url,
    connections,
    duration: durationS,
    requests: [
      {
        method: 'POST',
        path: `/ofrep/v1/evaluate/flags/${BENCH_ROLE}`,
        setupRequest: (request, context) => {
          const c = context as { taskId?: string; start?: number };
          c.taskId = `bench-${(next += 1)}`;
          c.start = performance.now();
          return { ...request, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ context: { targetingKey: c.taskId } }) };
        },
        onResponse: (status, _body, context) => {
          if (status === 200) routed.push((context as { taskId: string }).taskId);
          else bad += 1;
        },
      },
      {
        method: 'POST',
        path: '/v1/outcomes',
        setupRequest: (request, context) => {
          const c = context as { taskId: string };
          return { ...request, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ taskId: c.taskId, passed: c.taskId.length % 3 !== 0, durationMs: 1000 }) };
        },
        onResponse: (status, _body, context) => {
          if (status === 200) pairLatencies.push(performance.now() - (context as { start: number }).start);
          else bad += 1;
        },
      },
    ],
  });
  return { result, pairLatencies, routed, bad };
}

/** OFREP evaluations of tasks already routed (retries: sticky, nothing appended). */
async function retriesLoad(url: string, taskIds: readonly string[], connections: number, durationS: number) {
  let next = 0;
  const result = await autocannon({
    url,
    connections,
    duration: durationS,
    requests: [
      {
        method: 'POST',
        path: `/ofrep/v1/evaluate/flags/${BENCH_ROLE}`,
        setupRequest: (request) => ({ ...request, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ context: { targetingKey: taskIds[(next += 1) % taskIds.length] } }) }),
      },
    ],
  });
  return result;
}

/** The CLI path: one process per route and per record call, `workers` pairs at a time. */
async function cliPairs(dir: string, pairs: number, workers: number) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (;;) {
        const i = (next += 1);
        if (i > pairs) return;
        const taskId = `cli-${i}`;
        const t = performance.now();
        const route = await runProcess(process.execPath, [bernsteinBin(), '--dir', dir, 'canary', 'route', '--role', BENCH_ROLE, '--task', taskId]);
        if (route.code !== 0) throw new Error(`canary route failed: ${route.stderr.trim()}`);
        const record = await runProcess(process.execPath, [bernsteinBin(), '--dir', dir, 'canary', 'record', '--task', taskId, '--passed']);
        if (record.code !== 0) throw new Error(`canary record failed: ${record.stderr.trim()}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { tasksPerSec: pairs / seconds, pairs, workers, pairLatencyMs: figures(latencies) };
}

/**
 * The dashboard's update delay: from posting an outcome to the `status` server-sent event that
 * shows it (what the dashboard renders on), one outcome at a time on an otherwise idle server.
 */
async function dashboardDelay(url: string, samples: number): Promise<number[]> {
  const controller = new AbortController();
  const response = await fetch(`${url}/v1/events`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`GET /v1/events answered ${response.status}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const listener: { onStatus: ((canaryTasks: number) => void) | null } = { onStatus: null };
  let lastTasks = -1;
  // Resolved tasks, not the evidence totals: those count a routing-order prefix, which the load
  // phase leaves open (tasks routed and never recorded), so they would not move on an outcome.
  const canaryOutcomes = (data: string): number => {
    const roles = (JSON.parse(data) as { roles: Array<{ role: string; canary: Parameters<typeof resolvedTasks>[0] | null }> }).roles;
    const role = roles.find((r) => r.role === BENCH_ROLE);
    return role?.canary ? resolvedTasks(role.canary) : -1;
  };
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.includes('event: status')) continue;
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('');
        lastTasks = canaryOutcomes(data);
        listener.onStatus?.(lastTasks);
      }
    }
  })().catch(() => {});
  const delays: number[] = [];
  try {
    while (lastTasks < 0) await new Promise((r) => setTimeout(r, 10));
    for (let i = 0; i < samples; i++) {
      const taskId = `dash-${i}`;
      const routed = await fetch(`${url}/ofrep/v1/evaluate/flags/${BENCH_ROLE}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ context: { targetingKey: taskId } }) });
      await routed.text();
      const before = lastTasks;
      const seen = new Promise<void>((resolve) => {
        listener.onStatus = (tasks) => {
          if (tasks > before) resolve();
        };
      });
      const t = performance.now();
      const posted = await fetch(`${url}/v1/outcomes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ taskId, passed: true }) });
      if (posted.status !== 200) throw new Error(`POST /v1/outcomes answered ${posted.status}`);
      await posted.text();
      await seen;
      delays.push(performance.now() - t);
      listener.onStatus = null;
    }
  } finally {
    controller.abort();
    await pump;
  }
  return delays;
}

function outcomesInLedger(dir: string, prefix: string): number {
  let n = 0;
  for (const line of readFileSync(join(dir, '.sdd', 'ledger.jsonl'), 'utf8').split('\n')) if (line.includes('"type":"outcome"') && line.includes(`"taskId":"${prefix}`)) n += 1;
  return n;
}

export async function benchServe(options: ServeBenchOptions): Promise<ServeBenchResult> {
  const dir = tempDir('serve');
  try {
    await writeSkeleton(dir, { canaryConfig: UNDECIDED_CANARY_CONFIG });
    const project = openBenchProject(dir);
    await routeTasks(project, BENCH_ROLE, ['warmup']);
    await startCanaryOfEditedBundle(project, BENCH_ROLE, 20);
    await project.close();

    const served = await serve(dir);
    let pairs;
    let retries;
    let delays: number[];
    try {
      pairs = await pairsLoad(served.url, options.connections, options.durationS);
      retries = await retriesLoad(served.url, pairs.routed.slice(0, 5000), options.connections, Math.max(2, Math.round(options.durationS / 2)));
      delays = await dashboardDelay(served.url, options.dashboardSamples);
    } finally {
      await served.stop();
    }
    // The server is stopped: the CLI path runs alone on the same project.
    const cli = await cliPairs(dir, options.cliPairs, options.cliWorkers);
    const acknowledged = pairs.pairLatencies.length;
    const tasksPerSec = acknowledged / pairs.result.duration;
    return {
      method: SERVE_METHOD,
      store: 'file',
      connections: options.connections,
      durationS: pairs.result.duration,
      pairs: {
        tasksPerSec,
        pairs: acknowledged,
        latencyMs: figures(pairs.pairLatencies),
        requestLatencyMs: { p50: pairs.result.latency.p50, p99: pairs.result.latency.p99 },
        non2xx: pairs.result.non2xx + pairs.bad,
        errors: pairs.result.errors,
        outcomesInLedger: outcomesInLedger(dir, 'bench-'),
      },
      cli,
      ratio: tasksPerSec / cli.tasksPerSec,
      retries: {
        evaluationsPerSec: retries.requests.total / retries.duration,
        latencyMs: { p50: retries.latency.p50, p99: retries.latency.p99 },
        non2xx: retries.non2xx,
        errors: retries.errors,
        distinctTasks: Math.min(5000, pairs.routed.length),
      },
      dashboard: { samples: delays.length, delayMs: figures(delays) },
      targets: { tasksPerSec: 2000, p99Ms: 100, ratio: 400 },
    };
  } finally {
    if (!options.keep) removeDir(dir);
  }
}

export function formatServe(r: ServeBenchResult): string[] {
  const p = r.pairs;
  return [
    `method: ${r.method}`,
    '',
    ...renderTable(
      ['path', 'tasks/s (route+record)', 'pair p50', 'pair p99', 'pairs', 'clients', 'non-2xx', 'errors'],
      [
        ['bernstein serve (file store)', fmtRate(p.tasksPerSec), fmtMs(p.latencyMs.p50), fmtMs(p.latencyMs.p99), fmtInt(p.pairs), String(r.connections), String(p.non2xx), String(p.errors)],
        ['CLI, one process per call', fmtRate(r.cli.tasksPerSec), fmtMs(r.cli.pairLatencyMs.p50), fmtMs(r.cli.pairLatencyMs.p99), fmtInt(r.cli.pairs), String(r.cli.workers), '0', '0'],
      ],
    ),
    `server / CLI: ${r.ratio.toFixed(0)}x; request latency (route and record requests pooled) p50 ${fmtMs(p.requestLatencyMs.p50)}, p99 ${fmtMs(p.requestLatencyMs.p99)}; outcomes of the load in the ledger afterwards: ${fmtInt(p.outcomesInLedger)} (acknowledged: ${fmtInt(p.pairs)}${p.outcomesInLedger > p.pairs ? '; the rest were in flight when the run ended' : ''})`,
    '',
    ...renderTable(
      ['measure', 'value', 'p50', 'p99', 'detail'],
      [
        ['OFREP evaluations/s, already-routed tasks', fmtRate(r.retries.evaluationsPerSec), fmtMs(r.retries.latencyMs.p50), fmtMs(r.retries.latencyMs.p99), `${fmtInt(r.retries.distinctTasks)} tasks, ${r.connections} clients, non-2xx ${r.retries.non2xx}`],
        ['dashboard update delay after an outcome', `${r.dashboard.samples} samples`, fmtMs(r.dashboard.delayMs.p50), fmtMs(r.dashboard.delayMs.p99), 'POST /v1/outcomes sent -> `status` event received on /v1/events'],
      ],
    ),
    'PostgreSQL rows: not on this branch (the server takes the store from the CLI; run again with --store postgres://... once that adapter is in)',
  ];
}
