/**
 * Child process of the write-path bench (started with fork, so it has an IPC channel):
 * records one outcome per `recordOutcomes` call for pre-routed tasks `<prefix><i>`, from the
 * parent's "go" until the deadline or the ids run out.
 *
 *   fork('bench/dist/write-worker.js', ['{"dir":"...","prefix":"r0-w3-","count":5000,"durationMs":3000}'])
 *   child -> parent: {type:'ready'} after a warm-up record; parent -> child: {type:'go'};
 *   child -> parent: {type:'done', ...WorkerReport}
 */
import { recordOutcomes } from '@bernstein/rollout';
import { openBenchProject, openBenchProjectOn } from './project.js';
import { outcomeItems } from './fixture.js';

export interface WorkerReport {
  records: number;
  /** Absolute times (performance.timeOrigin + now), comparable across processes. */
  startedAt: number;
  endedAt: number;
  latenciesMs: number[];
  exhausted: boolean;
}

const now = () => performance.timeOrigin + performance.now();

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as { dir: string; prefix: string; count: number; durationMs: number; url?: string };
  if (!process.send) throw new Error('write-worker must be started with fork()');
  // url: the PostgreSQL rows of the bench (the same work on a shared database).
  const project = opts.url ? await openBenchProjectOn(opts.dir, opts.url) : openBenchProject(opts.dir);
  const record = async (i: number) => {
    const result = await recordOutcomes(project, outcomeItems([`${opts.prefix}${i}`], i));
    if (result.recorded !== 1) throw new Error(`outcome ${opts.prefix}${i} not recorded: ${result.skipped[0]?.message ?? 'unknown reason'}`);
  };
  await record(0); // warm-up: module code, project config, ledger index
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send({ type: 'ready' });
  await go;
  const latenciesMs: number[] = [];
  const startedAt = now();
  const deadline = startedAt + opts.durationMs;
  let i = 1;
  let t = startedAt;
  while (t < deadline && i < opts.count) {
    await record(i++);
    const end = now();
    latenciesMs.push(end - t);
    t = end;
  }
  const report: WorkerReport = { records: latenciesMs.length, startedAt, endedAt: t, latenciesMs, exhausted: i >= opts.count && t < deadline };
  await project.close();
  process.send({ type: 'done', ...report }, () => process.disconnect());
}

main().catch((error: unknown) => {
  process.stderr.write(`write-worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
  process.disconnect?.();
});
