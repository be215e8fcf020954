import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { BernsteinError } from '@bernstein/store';
import { writeReport } from '@bernstein/rollout';
import { printJson, type GlobalOptions, type Io } from '../output.js';
import { openCheckedProject } from '../project.js';

export interface ReportCliOptions {
  role?: string;
  out?: string;
}

/**
 * `bernstein canary report [--role R] --out <file.html>`: a self-contained HTML page (inline SVG
 * and CSS, no script, no network) with, per canary, the pass rate of each arm over its outcomes
 * with interval bands, the percentage steps, the decision point and the evidence table.
 */
export async function report(global: GlobalOptions, options: ReportCliOptions, io: Io): Promise<number> {
  if (options.out === undefined || options.out.trim() === '') throw new BernsteinError('INVALID_ARGUMENT', 'give --out <file.html>: where to write the report');
  const out = resolve(options.out);
  const folder = dirname(out);
  const isFolder = await stat(folder).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (!isFolder) throw new BernsteinError('INVALID_ARGUMENT', `cannot write the report to ${out}: the folder ${folder} does not exist`, { file: out });
  const project = await openCheckedProject(global.dir, global);
  const state = await project.store.loadState();
  if (options.role !== undefined && !Object.hasOwn(state.roles, options.role)) {
    throw new BernsteinError('ROLE_NOT_FOUND', `role "${options.role}" has no routing state yet (route a task or start a canary first)`, { role: options.role });
  }
  let data;
  try {
    data = await writeReport(project, out, options.role === undefined ? {} : { role: options.role });
  } catch (error) {
    if (error instanceof BernsteinError) throw error;
    throw new BernsteinError('IO_ERROR', `cannot write the report to ${out}: ${(error as Error).message}`, { file: out }, { cause: error });
  }
  for (const warning of data.warnings) io.stderr(`warning: ${warning}\n`);
  if (global.json) {
    printJson(io, {
      out,
      canaries: data.canaries.map((c) => ({ canaryId: c.canaryId, role: c.role, versionId: c.versionId, status: c.status, stable: c.totals.stable, canary: c.totals.canary })),
    });
    return 0;
  }
  const decided = data.canaries.filter((c) => c.status !== 'running').length;
  io.stdout(`wrote ${out}: ${data.canaries.length} canar${data.canaries.length === 1 ? 'y' : 'ies'} (${decided} decided)\n`);
  return 0;
}
