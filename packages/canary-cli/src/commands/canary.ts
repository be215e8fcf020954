import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { BernsteinError } from '@bernstein/store';
import { describeAuditEvent } from '@bernstein/canary-router';
import {
  canaryStatus,
  evaluateCanaries,
  historyEvent,
  ndjsonItemsFromStream,
  readHistory,
  recordOutcomes,
  type LateLine,
  type RecordItem,
  type RecordResult,
  type SkippedLine,
} from '@bernstein/rollout';
import { announce } from '../announce.js';
import { colours, errorLine, printJson, warningLine, type GlobalOptions, type Io } from '../output.js';
import { configWarned, openCheckedProject } from '../project.js';
import { parseNonNegative } from '../parse.js';
import { statusKey, writeStatusSnapshot } from './status-snapshot.js';
import { humanRole, noRolesText, type RoleView } from './status-view.js';

export async function status(global: GlobalOptions, options: { role?: string }, io: Io): Promise<number> {
  const keyBefore = await statusKey(global.dir).catch(() => null);
  const project = await openCheckedProject(global, io);
  const { roles, warnings, diskInputs } = await canaryStatus(project, options.role === undefined ? {} : { role: options.role });
  for (const warning of warnings) io.stderr(warningLine(io, warning));
  if (options.role !== undefined && roles.length === 0) {
    throw new BernsteinError('ROLE_NOT_FOUND', `role "${options.role}" has no routing state yet (route a task or start a canary first)`);
  }
  const views: RoleView[] = roles;
  if (global.json) printJson(io, { roles: views });
  else if (views.length === 0) io.stdout(noRolesText([...new Set((await project.store.listVersions()).map((v) => v.role))].sort()));
  else for (const role of views) io.stdout(humanRole(role, colours(io)));
  // Memoize a clean, complete run whose inputs did not change while it ran (see status-snapshot.ts);
  // the role files it read are part of the key, so an edit on disk misses the memo.
  if (project.store.kind === 'file' && options.role === undefined && warnings.length === 0 && !configWarned(project) && diskInputs !== null && keyBefore !== null && keyBefore === (await statusKey(global.dir).catch(() => null))) {
    await writeStatusSnapshot(global.dir, keyBefore, views, diskInputs);
  }
  return 0;
}

export interface RecordCliOptions {
  task?: string;
  passed?: boolean;
  failed?: boolean;
  gate?: string[];
  costUsd?: string;
  durationMs?: string;
  from?: string;
}

export async function record(global: GlobalOptions, options: RecordCliOptions, io: Io): Promise<number> {
  let items: Iterable<RecordItem> | AsyncIterable<RecordItem>;
  if (options.from !== undefined) {
    if (options.task !== undefined || options.passed || options.failed || options.gate?.length || options.costUsd !== undefined || options.durationMs !== undefined) {
      throw new BernsteinError('INVALID_ARGUMENT', '--from reads outcomes from NDJSON; leave out --task, --passed/--failed, --gate, --cost-usd and --duration-ms');
    }
    items = ndjsonItemsFromStream(readSource(options.from));
  } else {
    if (options.task === undefined) throw new BernsteinError('INVALID_ARGUMENT', 'give --task <id> with --passed or --failed, or --from <file|->');
    if (options.passed === options.failed) throw new BernsteinError('INVALID_ARGUMENT', 'give exactly one of --passed or --failed');
    const entries: Array<[string, boolean]> = [];
    for (const gate of options.gate ?? []) {
      const match = /^([^=]{1,128})=(pass|fail)$/.exec(gate);
      if (!match) throw new BernsteinError('INVALID_ARGUMENT', `--gate must be name=pass or name=fail, got "${gate}"`);
      entries.push([match[1]!, match[2] === 'pass']);
    }
    // fromEntries defines own properties, so a reserved name reaches validation instead of vanishing.
    const gates = Object.fromEntries(entries);
    const value = {
      taskId: options.task,
      passed: Boolean(options.passed),
      ...(options.gate?.length ? { gates } : {}),
      ...(options.costUsd !== undefined ? { costUsd: parseNonNegative(options.costUsd, '--cost-usd') } : {}),
      ...(options.durationMs !== undefined ? { durationMs: parseNonNegative(options.durationMs, '--duration-ms') } : {}),
    };
    items = [{ line: 1, value }];
  }
  const project = await openCheckedProject(global, io);
  // Skipped lines are reported as they are found; only the first few are kept for --json, so a
  // huge input runs in bounded memory.
  const kept: SkippedLine[] = [];
  const late: LateLine[] = [];
  const where = (line: number) => (options.from !== undefined ? `line ${line}: ` : '');
  const result = await recordOutcomes(project, items, {
    onSkipped: (skip) => {
      io.stderr(errorLine(io, `${where(skip.line)}${skip.message} [${skip.code}]`));
      if (kept.length < MAX_SKIPPED_IN_JSON) kept.push(skip);
    },
    // Recorded all the same: a notice, not an error (the exit code stays 0).
    onLate: (line) => {
      io.stderr(`${colours(io, 'stderr').cyan('notice:')} ${where(line.line)}recorded; ${line.reason}\n`);
      if (late.length < MAX_SKIPPED_IN_JSON) late.push(line);
    },
  });
  const alerts = await announce(project, result.transitions, io);
  for (const warning of result.warnings) io.stderr(warningLine(io, warning));
  if (global.json) {
    printJson(io, {
      recorded: result.recorded,
      skipped: kept,
      skippedCount: result.skippedCount,
      late,
      lateCount: result.late,
      timedOut: result.timedOut,
      transitions: result.transitions,
      alerts,
    });
  } else {
    io.stdout(summary(result));
  }
  return result.skippedCount > 0 ? 1 : 0;
}

const MAX_SKIPPED_IN_JSON = 1000;

function summary(result: RecordResult): string {
  return `recorded ${result.recorded} outcome${result.recorded === 1 ? '' : 's'}${result.late ? ` (${result.late} late)` : ''}${result.skippedCount ? `, skipped ${result.skippedCount}` : ''}${
    result.timedOut ? `; ${result.timedOut} task${result.timedOut === 1 ? '' : 's'} past canary.outcome_timeout counted as failed` : ''
  }${
    result.transitions.length ? `; ${result.transitions.length} automatic transition${result.transitions.length === 1 ? '' : 's'}` : ''
  }\n`;
}

/** The bytes of `--from`: a regular file, a pipe or a device, or stdin for `-`; read errors are typed. */
async function* readSource(source: string): AsyncGenerator<Buffer> {
  let input: NodeJS.ReadableStream;
  if (source === '-') input = process.stdin;
  else {
    let info;
    try {
      info = await stat(source);
    } catch (error) {
      throw new BernsteinError('IO_ERROR', `cannot read ${source}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
    if (info.isDirectory()) throw new BernsteinError('IO_ERROR', `cannot read ${source}: it is a directory`);
    input = createReadStream(source);
  }
  try {
    for await (const chunk of input) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
  } catch (error) {
    throw new BernsteinError('IO_ERROR', `cannot read ${source}: ${(error as Error).message}`);
  }
}

export async function evaluate(global: GlobalOptions, options: { role?: string; apply?: boolean }, io: Io): Promise<number> {
  const project = await openCheckedProject(global, io);
  const { evaluations, warnings, timedOut, sweepTransitions } = await evaluateCanaries(project, { ...(options.role !== undefined ? { role: options.role } : {}), apply: Boolean(options.apply) });
  for (const warning of warnings) io.stderr(warningLine(io, warning));
  const applied = [...sweepTransitions, ...evaluations.flatMap((e) => e.applied)];
  const alerts = await announce(project, applied, io);
  if (global.json) {
    printJson(io, {
      evaluations: evaluations.map((e) => ({ role: e.role, canaryId: e.canaryId, versionId: e.versionId, decision: e.decision, applied: e.applied })),
      timedOut,
      sweepTransitions,
      alerts,
    });
    return 0;
  }
  if (timedOut > 0) io.stdout(`${timedOut} task${timedOut === 1 ? '' : 's'} past canary.outcome_timeout counted as failed\n`);
  if (evaluations.length === 0) io.stdout(options.role ? `role "${options.role}" has no active canary\n` : 'no active canaries\n');
  for (const e of evaluations) {
    io.stdout(`${e.role}: ${e.decision.action} (${e.decision.rule}): ${e.decision.reason}${e.decision.action !== 'continue' && !options.apply ? ' [not applied; use --apply]' : ''}\n`);
  }
  return 0;
}

export async function history(global: GlobalOptions, options: { role?: string }, io: Io): Promise<number> {
  const project = await openCheckedProject(global, io);
  const { events, warnings } = await readHistory(project, options.role === undefined ? {} : { role: options.role });
  for (const warning of warnings) io.stderr(warningLine(io, warning));
  if (global.json) {
    printJson(io, { events: events.map(historyEvent) });
    return 0;
  }
  if (events.length === 0) io.stdout('no transitions yet\n');
  for (const e of events) {
    io.stdout(`${e.at}  ${e.actor.padEnd(4)}  ${describeAuditEvent(e)}\n`);
    const evidence = evidenceLine(e.evidence);
    if (evidence !== null) io.stdout(`${' '.repeat(e.at.length + 8)}${evidence}\n`);
  }
  return 0;
}

/** A decision's evidence in one line: the arms combined over the canary's life, then per epoch. */
function evidenceLine(evidence: unknown): string | null {
  const e = evidence as { stable?: { tasks?: unknown; passed?: unknown }; canary?: { tasks?: unknown; passed?: unknown }; epochs?: unknown } | null;
  if (!e || typeof e.stable?.tasks !== 'number' || typeof e.canary?.tasks !== 'number') return null;
  const arms = (x: { stable: { tasks: number; passed: number }; canary: { tasks: number; passed: number } }) =>
    `stable ${x.stable.passed}/${x.stable.tasks}, canary ${x.canary.passed}/${x.canary.tasks}`;
  const epochs = Array.isArray(e.epochs) ? (e.epochs as Array<{ epoch: number; percentage: number; stable: { tasks: number; passed: number }; canary: { tasks: number; passed: number } }>) : [];
  const perEpoch = epochs.length > 1 ? `; ${epochs.map((x) => `epoch ${x.epoch} at ${x.percentage} %: ${arms(x)}`).join('; ')}` : '';
  return `evidence: ${arms(e as { stable: { tasks: number; passed: number }; canary: { tasks: number; passed: number } })} combined${perEpoch}`;
}
