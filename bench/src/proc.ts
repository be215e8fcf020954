import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where things are, and how child processes are run and measured.
 *
 * This module is bundled into bench/dist/cli.js and also loaded from bench/src/ by vitest; in both
 * cases the package root is one level up from the module's folder.
 */
export const benchRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(benchRoot, '..');

/** A built helper script of this package (an entry of bench/tsup.config.ts). */
export function distScript(name: string): string {
  const file = join(benchRoot, 'dist', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: build the bench package first (pnpm build, or cd bench && npx tsup)`);
  return file;
}

/** The `bernstein` bin as @bernstein/canary-cli's package.json declares it (its build output). */
export function bernsteinBin(): string {
  const pkgDir = join(repoRoot, 'packages', 'canary-cli');
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const rel = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.bernstein;
  if (!rel) throw new Error(`${pkgDir}/package.json declares no "bernstein" bin`);
  const file = resolve(pkgDir, rel);
  if (!existsSync(file)) throw new Error(`${file} is missing: build first (pnpm build)`);
  return file;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `bernstein-bench-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface TimedRun {
  /** Wall time from spawn to exit, as seen by this process. */
  ms: number;
  status: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the child in bytes (only from runMeasured). */
  maxRssBytes?: number;
}

const MAX_BUFFER = 64 * 1024 * 1024;

/** Run a command to completion and time it. Throws when it fails (a broken harness, not slowness). */
export function runTimed(command: string, args: readonly string[], options: SpawnSyncOptions = {}): TimedRun {
  const start = performance.now();
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: MAX_BUFFER, ...options });
  const ms = performance.now() - start;
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  const run: TimedRun = { ms, status: result.status, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}: ${run.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  }
  return run;
}

/** How peak RSS of a child is measured on this machine. */
export type RssMethod = 'gnu-time' | 'resourceUsage-wrapper';

let rssMethodCache: RssMethod | undefined;

/**
 * GNU time (`/usr/bin/time -f %M`) when it is installed and works, else a node wrapper.
 * BENCH_RSS_METHOD=wrapper forces the wrapper (to test the fallback).
 */
export function rssMethod(): RssMethod {
  if (rssMethodCache) return rssMethodCache;
  rssMethodCache = 'resourceUsage-wrapper';
  if (process.env.BENCH_RSS_METHOD === 'wrapper') return rssMethodCache;
  if (existsSync('/usr/bin/time')) {
    const dir = tempDir('time');
    try {
      const out = join(dir, 'rss');
      const probe = spawnSync('/usr/bin/time', ['-f', '%M', '-o', out, process.execPath, '-e', '0'], { encoding: 'utf8' });
      if (probe.status === 0 && /^\d+\s*$/.test(readFileSync(out, 'utf8'))) rssMethodCache = 'gnu-time';
    } catch {
      // fall back to the wrapper
    } finally {
      removeDir(dir);
    }
  }
  return rssMethodCache;
}

export function describeRssMethod(method: RssMethod): string {
  return method === 'gnu-time'
    ? 'peak RSS from GNU time (/usr/bin/time -f %M: the child\'s ru_maxrss); wall time includes the exec of GNU time itself'
    : 'peak RSS from process.resourceUsage().maxRSS in a wrapper (bench/dist/rss-probe.js) that imports the script in-process';
}

/**
 * Run `node <script> ...args` as a fresh process; wall time and peak RSS. With GNU time the child
 * is node itself; otherwise rss-probe.js imports the script and reports its own maxRSS at exit.
 */
export function runNodeMeasured(script: string, args: readonly string[], options: SpawnSyncOptions = {}): TimedRun {
  const dir = tempDir('rss');
  try {
    const out = join(dir, 'rss');
    let run: TimedRun;
    if (rssMethod() === 'gnu-time') {
      run = runTimed('/usr/bin/time', ['-f', '%M', '-o', out, process.execPath, script, ...args], options);
    } else {
      run = runTimed(process.execPath, [distScript('rss-probe'), script, ...args], { ...options, env: { ...process.env, ...options.env, BENCH_RSS_OUT: out } });
    }
    const kb = Number(readFileSync(out, 'utf8').trim().split(/\s+/).pop());
    if (!Number.isFinite(kb)) throw new Error(`could not read the peak RSS of ${script}`);
    return { ...run, maxRssBytes: kb * 1024 };
  } finally {
    removeDir(dir);
  }
}
