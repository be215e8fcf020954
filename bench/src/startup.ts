import { bernsteinBin, removeDir, runTimed, tempDir } from './proc.js';
import { createSmallProject } from './fixture.js';
import { fmtMs, renderTable, summarize, verdict, type Summary, type Verdict } from './stats.js';

/**
 * SPEC target "CLI": `bernstein canary status` on a warm disk within 2x the wall time of
 * `node -e 0`. Both are spawned from this process the same way, interleaved (alternating which
 * goes first in each pair) so that machine noise hits both alike, after warm-up runs.
 */
export interface StartupBenchOptions {
  /** Timed runs of each command (>= 20 for a full run). */
  runs: number;
  warmup?: number;
  /** Keep the temporary project (for manual inspection). */
  keep?: boolean;
}

export interface StartupBenchResult {
  bin: string;
  project: string;
  fixture: { routed: number; recorded: number };
  runs: number;
  nodeBaseline: Summary;
  status: Summary;
  /** Diagnostic, no target: `bernstein --help` loads the bin and its argument parser but no command code and reads no files. */
  help: Summary;
  /** median(status) / median(node -e 0) */
  ratio: number;
  /** status minus baseline medians: what the CLI itself costs. */
  overheadMs: number;
  target: number;
  result: Verdict;
}

export const STARTUP_TARGET_RATIO = 2;

export async function benchStartup(options: StartupBenchOptions): Promise<StartupBenchResult> {
  const bin = bernsteinBin();
  const dir = tempDir('startup');
  try {
    const fixture = await createSmallProject(dir);
    const status = () => runTimed(process.execPath, [bin, 'canary', 'status', '--dir', dir]).ms;
    const baseline = () => runTimed(process.execPath, ['-e', '0']).ms;
    const help = () => runTimed(process.execPath, [bin, '--help']).ms;
    const check = runTimed(process.execPath, [bin, 'canary', 'status', '--dir', dir, '--json']);
    const parsed = JSON.parse(check.stdout) as { roles: Array<{ role: string; canary: unknown }> };
    if (!parsed.roles.some((r) => r.canary !== null)) throw new Error('startup bench: `canary status --json` shows no active canary on the small project');
    for (let i = 0; i < (options.warmup ?? 3); i++) {
      status();
      baseline();
      help();
    }
    const statusMs: number[] = [];
    const nodeMs: number[] = [];
    const helpMs: number[] = [];
    const order = [() => nodeMs.push(baseline()), () => statusMs.push(status()), () => helpMs.push(help())];
    for (let i = 0; i < options.runs; i++) {
      // rotate which command goes first, so drift in machine load hits all of them alike
      for (let k = 0; k < order.length; k++) order[(i + k) % order.length]!();
    }
    const s = summarize(statusMs);
    const n = summarize(nodeMs);
    const ratio = s.median / n.median;
    return {
      bin,
      project: dir,
      fixture,
      runs: options.runs,
      nodeBaseline: n,
      status: s,
      help: summarize(helpMs),
      ratio,
      overheadMs: s.median - n.median,
      target: STARTUP_TARGET_RATIO,
      result: verdict(ratio <= STARTUP_TARGET_RATIO),
    };
  } finally {
    if (!options.keep) removeDir(dir);
  }
}

export function formatStartup(r: StartupBenchResult): string[] {
  return [
    `${r.runs} runs of each, interleaved, after warm-up; small project: 2 roles, canary at 20 %, ${r.fixture.routed} tasks routed, ${r.fixture.recorded} outcomes (made through the API)`,
    `bin: ${r.bin}`,
    '',
    ...renderTable(
      ['command', 'median', 'min', 'max', 'ratio', 'target', 'result'],
      [
        ['node -e 0', fmtMs(r.nodeBaseline.median), fmtMs(r.nodeBaseline.min), fmtMs(r.nodeBaseline.max), '1x', '', ''],
        ['bernstein canary status', fmtMs(r.status.median), fmtMs(r.status.min), fmtMs(r.status.max), `${r.ratio.toFixed(2)}x`, `<= ${r.target}x`, r.result],
        ['bernstein --help (diagnostic)', fmtMs(r.help.median), fmtMs(r.help.min), fmtMs(r.help.max), `${(r.help.median / r.nodeBaseline.median).toFixed(2)}x`, '', ''],
      ],
    ),
    `CLI cost over bare node: ${fmtMs(r.overheadMs)} (median), of which ${fmtMs(r.help.median - r.nodeBaseline.median)} is loading the bin and its argument parser (--help) ` +
      `and ${fmtMs(r.status.median - r.help.median)} the status command (its modules, reading .sdd/, evaluating)`,
  ];
}
