import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { binPath, fixture } from './paths.ts';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time of the process, for reports (never asserted). */
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  /** Written to stdin, which is then closed (stdin is always closed, so nothing waits on it). */
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  /** Node flags before the script (e.g. --import for the start barrier). */
  execArgv?: string[];
  /** Kill the process after this long (a hang is a failure, reported with its output). */
  timeoutMs?: number;
}

/** Environment for child processes: no colour, no debug stack traces from the parent's shell. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, BERNSTEIN_DEBUG: undefined, NODE_OPTIONS: undefined };
  for (const [key, value] of Object.entries(extra)) env[key] = value;
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

/** Run `node <script> ...args` as a real child process. */
export function runNode(script: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: childEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`node ${script} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`));
        return;
      }
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export interface BinOptions extends Omit<RunOptions, 'cwd'> {
  /** Project root, passed as the global `--dir` option (and used as the working directory). */
  dir?: string;
  /** Run in this directory without passing --dir (the default project root is the cwd). */
  cwd?: string;
}

/** Run the built `bernstein` bin: `node <bin> [--dir <dir>] ...args`. */
export function runBin(args: readonly string[], options: BinOptions = {}): Promise<RunResult> {
  const { dir, cwd, ...rest } = options;
  const fullArgs = dir !== undefined ? ['--dir', dir, ...args] : [...args];
  return runNode(binPath(), fullArgs, { ...rest, cwd: cwd ?? dir ?? process.cwd() });
}

/** Parse stdout as one JSON document (with the output in the error if it is not JSON). */
export function parseJson<T = any>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

/** Parse stdout as NDJSON, one object a line. */
export function parseNdjson<T = any>(result: RunResult): T[] {
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as T;
      } catch {
        throw new Error(`stdout line is not JSON: ${line}\nstderr: ${result.stderr}`);
      }
    });
}

/** A failure the way the SPEC wants it: non-zero exit, one line on stderr, no stack trace. */
export function describeResult(result: RunResult): string {
  return `exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

export interface SpawnManyOptions extends RunOptions {
  /**
   * Hold every process at a start barrier (a `--import` module that waits for a "go" file) until
   * all of them are running, then release them together: the race is real, not staggered by
   * process start-up.
   */
  barrier?: boolean;
}

/**
 * Start `count` node processes; `argsOf(i)` gives the script and arguments of process i.
 * Resolves with every result, in order.
 */
export async function spawnMany(
  count: number,
  argsOf: (i: number) => { script: string; args: readonly string[]; input?: string },
  options: SpawnManyOptions = {},
): Promise<RunResult[]> {
  const { barrier, ...runOptions } = options;
  let barrierDir: string | undefined;
  const execArgv = [...(runOptions.execArgv ?? [])];
  if (barrier) {
    barrierDir = await mkdtemp(join(tmpdir(), 'bernstein-barrier-'));
    execArgv.push('--import', pathToFileURL(fixture('barrier.mjs')).href);
  }
  try {
    const running = Array.from({ length: count }, (_, i) => {
      const { script, args, input } = argsOf(i);
      return runNode(script, args, {
        ...runOptions,
        execArgv,
        ...(input !== undefined ? { input } : {}),
        env: { ...runOptions.env, ...(barrierDir ? { BERNSTEIN_TEST_BARRIER: barrierDir } : {}) },
      });
    });
    if (barrierDir) {
      const dir = barrierDir;
      const deadline = Date.now() + (runOptions.timeoutMs ?? 60_000);
      // Wait until every process has reached the barrier (or one of them ended early).
      let settled = 0;
      running.forEach((p) => p.then(() => settled++, () => settled++));
      for (;;) {
        const ready = (await readdir(dir)).filter((name) => name.startsWith('ready-')).length;
        if (ready >= count || settled > 0) break;
        if (Date.now() > deadline) throw new Error(`only ${ready} of ${count} processes reached the start barrier`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await writeFile(join(dir, 'go'), '');
    }
    return await Promise.all(running);
  } finally {
    if (barrierDir && existsSync(barrierDir)) await rm(barrierDir, { recursive: true, force: true });
  }
}

/** `count` runs of the bernstein bin at once (see spawnMany). */
export function runBinMany(
  count: number,
  argsOf: (i: number) => readonly string[],
  options: SpawnManyOptions & { dir: string; inputOf?: (i: number) => string },
): Promise<RunResult[]> {
  const { dir, inputOf, ...rest } = options;
  return spawnMany(
    count,
    (i) => ({ script: binPath(), args: ['--dir', dir, ...argsOf(i)], ...(inputOf ? { input: inputOf(i) } : {}) }),
    { ...rest, cwd: dir },
  );
}
