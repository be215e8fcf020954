import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { binPath, fixture } from './paths.ts';
import { childEnv, runNode, type RunOptions, type RunResult } from '@bernstein/test-utils';

export { childEnv, runNode, type RunOptions, type RunResult };

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
