/**
 * Child processes for the reliability suite: the built `bernstein` bin and the .mjs fixtures in
 * ../fixtures, run with this Node (process.execPath). Own copy on purpose: tests/helpers may change.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv, runNode, type RunOptions, type RunResult } from '../../helpers/process.ts';

export const RELIABILITY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(RELIABILITY_DIR, '..', '..');
export const SOAK = Boolean(process.env.SOAK && process.env.SOAK !== '0');

/** CI-sized value by default, the soak value with SOAK=1. */
export function scale<T>(ci: T, soak: T): T {
  return SOAK ? soak : ci;
}

export function fixture(name: string): string {
  return join(RELIABILITY_DIR, 'fixtures', name);
}

export function binPath(): string {
  const cliDir = join(REPO_ROOT, 'packages', 'canary-cli');
  const pkg = JSON.parse(readFileSync(join(cliDir, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.bernstein;
  if (!bin) throw new Error('@bernstein/canary-cli declares no "bernstein" bin');
  return join(cliDir, bin);
}

// One child-process runner for all of tests/: the shared helper returns exit code, signal,
// output and wall time, and kills a hung child.
export { childEnv, runNode, type RunOptions, type RunResult } from '../../helpers/process.ts';

/** `node <bin> --dir <dir> ...args` */
export function runBin(dir: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runNode(binPath(), ['--dir', dir, ...args], { cwd: dir, ...options });
}

export function describe(result: RunResult): string {
  return `exit ${result.code}${result.signal ? ` (${result.signal})` : ''} after ${result.ms} ms\n--- stdout ---\n${result.stdout.slice(-6000)}\n--- stderr ---\n${result.stderr.slice(-6000)}`;
}

/** Frames of a JavaScript stack trace ("    at fn (file:1:2)"). */
export const STACK_FRAME = /^\s+at .+/m;

/** A process we intend to kill: its output so far, and a promise of how it ended. */
export interface Killable {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stdout contains `marker` (or rejects when the process ends first). */
  waitFor: (marker: string | RegExp, timeoutMs?: number) => Promise<void>;
}

export function startNode(script: string, args: readonly string[], options: RunOptions = {}): Killable {
  const child = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: childEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const w of [...waiters]) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.on('error', () => undefined);
  if (options.input !== undefined) child.stdin!.end(options.input);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ code, signal })));
  let ended = false;
  void exited.then(() => {
    ended = true;
    for (const w of [...waiters]) w();
  });
  const waitFor = (marker: string | RegExp, timeoutMs = 30_000) =>
    new Promise<void>((res, rej) => {
      const timer = setTimeout(() => {
        remove();
        rej(new Error(`no ${String(marker)} on stdout within ${timeoutMs} ms\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      const check = () => {
        const hit = typeof marker === 'string' ? stdout.includes(marker) : marker.test(stdout);
        if (hit) {
          remove();
          res();
        } else if (ended) {
          remove();
          rej(new Error(`process ended before ${String(marker)}\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`));
        }
      };
      const remove = () => {
        clearTimeout(timer);
        const i = waiters.indexOf(check);
        if (i >= 0) waiters.splice(i, 1);
      };
      waiters.push(check);
      check();
    });
  return { child, stdout: () => stdout, stderr: () => stderr, exited, waitFor };
}

export function startBin(dir: string, args: readonly string[], options: RunOptions = {}): Killable {
  return startNode(binPath(), ['--dir', dir, ...args], { cwd: dir, ...options });
}

/** Run `tasks` with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return results;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface CliCase {
  id: string;
  argv: string[];
}

export interface CliResult {
  id: string;
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  unhandled: string[];
  thrown: string | null;
}

/**
 * Run many command lines in one process (fixtures/cli-runner.mjs: the built CLI's `run`, which is
 * all bin.js does), `parallel` runner processes at once. Fast enough for thousands of cases.
 */
export async function runCliCases(cases: readonly CliCase[], options: { parallel?: number; workDir: string; timeoutMs?: number }): Promise<Map<string, CliResult>> {
  const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const parallel = Math.max(1, Math.min(options.parallel ?? 2, cases.length));
  const chunks: CliCase[][] = Array.from({ length: parallel }, () => []);
  cases.forEach((c, i) => chunks[i % parallel]!.push(c));
  const dir = mkdtempSync(join(options.workDir, 'bernstein-rel-runner-'));
  const results = new Map<string, CliResult>();
  await Promise.all(
    chunks.map(async (chunk, i) => {
      const casesFile = join(dir, `cases-${i}.ndjson`);
      const resultsFile = join(dir, `results-${i}.ndjson`);
      writeFileSync(casesFile, chunk.map((c) => JSON.stringify(c)).join('\n') + '\n');
      const run = await runNode(fixture('cli-runner.mjs'), [casesFile, resultsFile], { timeoutMs: options.timeoutMs ?? 600_000 });
      const lines = readFileSync(resultsFile, 'utf8').split('\n').filter(Boolean);
      for (const line of lines) {
        const result = JSON.parse(line) as CliResult;
        results.set(result.id, result);
      }
      if (run.code !== 0 || lines.length !== chunk.length) {
        const stuck = chunk[lines.length];
        throw new Error(`cli-runner ended after ${lines.length} of ${chunk.length} cases${stuck ? ` (during ${JSON.stringify(stuck.argv).slice(0, 500)})` : ''}\n${describe(run)}`);
      }
    }),
  ).finally(() => rmSync(dir, { recursive: true, force: true }));
  return results;
}

/** A running fixtures/cli-server.mjs: `exec(argv)` runs one command line in it. */
export interface CliServer {
  exec(argv: string[], timeoutMs?: number): Promise<CliResult>;
  close(): Promise<void>;
  stderr(): string;
}

export async function startCliServer(): Promise<CliServer> {
  const child = spawn(process.execPath, [fixture('cli-server.mjs')], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let buffer = '';
  let stderr = '';
  const pending = new Map<string, (result: CliResult) => void>();
  let onReady: (() => void) | undefined;
  let ended = false;
  const readyPromise = new Promise<void>((r) => (onReady = r));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 100_000) stderr += chunk;
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const message = JSON.parse(line) as CliResult & { ready?: boolean };
      if (message.ready) onReady?.();
      else pending.get(message.id)?.(message);
    }
  });
  const exited = new Promise<void>((r) =>
    child.on('close', () => {
      ended = true;
      r();
    }),
  );
  await readyPromise;
  let next = 0;
  return {
    exec: (argv: string[], timeoutMs = 120_000) =>
      new Promise<CliResult>((resolvePromise, reject) => {
        if (ended) return reject(new Error(`cli-server has ended\n${stderr}`));
        const id = String(next++);
        const timer = setTimeout(() => reject(new Error(`cli-server: no answer within ${timeoutMs} ms to ${JSON.stringify(argv).slice(0, 500)}`)), timeoutMs);
        pending.set(id, (result) => {
          clearTimeout(timer);
          pending.delete(id);
          resolvePromise(result);
        });
        child.stdin!.write(`${JSON.stringify({ id, argv })}\n`);
      }),
    stderr: () => stderr,
    close: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}
