import { BernsteinError, formatZodIssues } from '@bernstein/store';
import { GateResultsInputSchema, TaskIdSchema, type LateOutcomeRecord, type OutcomeRecord, type TaskEntry } from '@bernstein/prompt-versions';
import type { AuditEvent } from '@bernstein/canary-router';
import { z } from 'zod';
import type { StoreTransaction } from '../port.js';
import type { Rollout } from '../rollout.js';
import { persist, resolve, startJudging } from './judge.js';
import { sweepRole } from './timeouts.js';

/** One outcome as an orchestrator reports it (an NDJSON line of `canary record --from`). */
export const OutcomeInputSchema = z.strictObject({
  taskId: TaskIdSchema,
  passed: z.boolean(),
  gates: GateResultsInputSchema.optional(),
  costUsd: z.number().finite().nonnegative().optional(),
  durationMs: z.number().finite().nonnegative().optional(),
});
export type OutcomeInput = z.infer<typeof OutcomeInputSchema>;

/** An input line: its number (for messages) and its parsed JSON, or why it could not be parsed. */
export type RecordItem = { line: number; value: unknown } | { line: number; error: string };

export type SkipCode = 'MALFORMED_LINE' | 'TASK_UNKNOWN' | 'DUPLICATE_OUTCOME';

export interface SkippedLine {
  line: number;
  taskId: string | null;
  code: SkipCode;
  message: string;
}

/** An outcome that arrived after its task had timed out: recorded as late (kept, shown, not counted). */
export interface LateLine {
  line: number;
  taskId: string;
  /** "late: ...", for the caller's report (the HTTP per-item `reason`). */
  reason: string;
}

export interface RecordResult {
  /** Outcomes written, late ones included. */
  recorded: number;
  /** Of those, outcomes of tasks that had timed out (see LateLine). */
  late: number;
  /** Timeouts the sweep at the start of each batch wrote (tasks of running canaries past `outcome_timeout`). */
  timedOut: number;
  /** Skipped lines, unless `onSkipped` took them (then empty: memory stays bounded). */
  skipped: SkippedLine[];
  skippedCount: number;
  /** Transitions that automatic decisions applied while recording (promote, step, rollback). */
  transitions: AuditEvent[];
  warnings: string[];
}

export interface RecordOptions {
  /** Lines per unit of work: bounds memory and how long other processes wait for the lock. */
  batchSize?: number;
  /** Called after each batch, for progress output. */
  onProgress?: (done: { lines: number; recorded: number; skipped: number }) => void;
  /** Receives each skipped line as it is found, instead of collecting them in the result. */
  onSkipped?: (skip: SkippedLine) => void;
  /** Receives each late outcome as it is recorded. */
  onLate?: (late: LateLine) => void;
}

/**
 * Record outcomes of routed tasks: one item, a batch, or a stream (NDJSON through
 * `ndjsonItemsFromStream`). Each outcome is checked (known task, no earlier outcome), written to
 * the ledger (the store folds it into the aggregates in the same unit of work), and followed by
 * an evaluation of its role's canary; a promote or rollback decision is applied exactly once,
 * right there, so the next outcome is judged against the new state. Bad lines are skipped and
 * reported; the others are kept. Alerts of the transitions go through the outbox and are
 * delivered after commit, in the background: this returns once the outcomes are durable.
 */
export async function recordOutcomes(
  rollout: Rollout,
  items: Iterable<RecordItem> | AsyncIterable<RecordItem>,
  options: RecordOptions = {},
): Promise<RecordResult> {
  const batchSize = options.batchSize ?? 5000;
  const result: RecordResult = { recorded: 0, late: 0, timedOut: 0, skipped: [], skippedCount: 0, transitions: [], warnings: [] };
  const skip = (line: SkippedLine) => {
    result.skippedCount += 1;
    if (options.onSkipped) options.onSkipped(line);
    else result.skipped.push(line);
  };
  let batch: RecordItem[] = [];
  let lines = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    await recordBatch(rollout, items, result, skip, options.onLate);
    lines += items.length;
    options.onProgress?.({ lines, recorded: result.recorded, skipped: result.skippedCount });
  };
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return result;
}

type Checked = { line: number; input: OutcomeInput } | { line: number; skip: SkippedLine };

async function recordBatch(
  rollout: Rollout,
  items: readonly RecordItem[],
  result: RecordResult,
  skip: (line: SkippedLine) => void,
  onLate: ((late: LateLine) => void) | undefined,
): Promise<void> {
  // Parse first (no store needed), then find the roles the batch touches: the unit of work is
  // scoped to them, so a store that locks per role never makes other roles wait.
  const checked: Checked[] = [];
  for (const item of items) {
    if ('error' in item) {
      checked.push({ line: item.line, skip: { line: item.line, taskId: null, code: 'MALFORMED_LINE', message: item.error } });
      continue;
    }
    const parsed = OutcomeInputSchema.safeParse(item.value);
    if (!parsed.success) {
      const taskId = typeof (item.value as { taskId?: unknown })?.taskId === 'string' ? (item.value as { taskId: string }).taskId : null;
      checked.push({ line: item.line, skip: { line: item.line, taskId, code: 'MALFORMED_LINE', message: formatZodIssues(parsed.error.issues) } });
      continue;
    }
    checked.push({ line: item.line, input: parsed.data });
  }
  const ids = checked.flatMap((c) => ('input' in c ? [c.input.taskId] : []));
  if (ids.length === 0) {
    for (const c of checked) if ('skip' in c) skip(c.skip);
    return;
  }
  let roles = rolesOf((await rollout.store.getTasks(ids)).tasks);
  for (;;) {
    const outcome = await rollout.store.transaction({ roles: [...roles] }, (tx) => recordInTransaction(rollout, tx, checked, roles, result, skip, onLate));
    if (outcome === 'done') break;
    // A task was re-routed to another role meanwhile: widen the scope and run the batch again
    // (nothing was written: lookups come before every write).
    roles = new Set([...roles, ...outcome.missing]);
  }
  if (result.transitions.length > 0) rollout.alerts.kick();
}

function rolesOf(entries: ReadonlyMap<string, TaskEntry>): Set<string> {
  return new Set([...entries.values()].map((e) => e.assignment.role));
}

async function recordInTransaction(
  rollout: Rollout,
  tx: StoreTransaction,
  items: readonly Checked[],
  scope: ReadonlySet<string>,
  result: RecordResult,
  skip: (line: SkippedLine) => void,
  onLate: ((late: LateLine) => void) | undefined,
): Promise<'done' | { missing: string[] }> {
  const { tasks: known, warnings: lookupWarnings } = await tx.getTasks(items.flatMap((c) => ('input' in c ? [c.input.taskId] : [])));
  const missing = [...rolesOf(known)].filter((role) => !scope.has(role));
  if (missing.length > 0) return { missing };

  const config = await rollout.config();
  const { aggregates, warnings } = await tx.aggregates();
  for (const warning of [...lookupWarnings, ...warnings]) if (!result.warnings.includes(warning)) result.warnings.push(warning);
  const j = startJudging({ rollout, tx, config, state: await tx.loadState(), aggregates, apply: true });

  // First the tasks of these roles' canaries that are past outcome_timeout: they count as failed
  // before any outcome that arrives now (which is then late), as SPEC "Decisions" asks.
  let timedOut = 0;
  for (const role of [...scope].sort()) timedOut += await sweepRole(j, role);
  if (timedOut > 0) {
    await persist(j);
    // The sweep answered some of the batch's tasks: look them up again.
    for (const [taskId, entry] of (await tx.getTasks([...known.keys()])).tasks) known.set(taskId, entry);
  }

  const takenInBatch = new Set<string>();
  const now = rollout.now().toISOString();
  let late = 0;
  let recorded = 0;
  const lateLines: LateLine[] = [];
  for (const item of items) {
    if ('skip' in item) {
      skip(item.skip);
      continue;
    }
    const { line, input } = item;
    const entry = known.get(input.taskId);
    if (!entry) {
      skip({ line, taskId: input.taskId, code: 'TASK_UNKNOWN', message: `task "${input.taskId}" was never routed (route it with \`bernstein canary route\` first)` });
      continue;
    }
    const timedOutBefore = entry.outcome?.timedOut === true && !entry.late;
    if ((entry.outcome && !timedOutBefore) || takenInBatch.has(input.taskId)) {
      skip({ line, taskId: input.taskId, code: 'DUPLICATE_OUTCOME', message: `task "${input.taskId}" already has an outcome` });
      continue;
    }
    const { assignment } = entry;
    const fields = {
      v: 1 as const,
      taskId: input.taskId,
      role: assignment.role,
      arm: assignment.arm,
      versionId: assignment.versionId,
      canaryId: assignment.canaryId,
      epoch: assignment.epoch,
      at: now,
      passed: input.passed,
      ...(input.gates ? { gates: input.gates } : {}),
      ...(input.costUsd !== undefined ? { costUsd: input.costUsd } : {}),
      ...(input.durationMs !== undefined ? { durationMs: input.durationMs } : {}),
    };
    takenInBatch.add(input.taskId);
    recorded += 1;
    if (timedOutBefore) {
      const record: LateOutcomeRecord = { ...fields, type: 'late' };
      await resolve(j, record);
      late += 1;
      lateLines.push({ line, taskId: input.taskId, reason: lateReason(entry.outcome!, config.canary.outcomeTimeoutMs) });
      continue;
    }
    const record: OutcomeRecord = { ...fields, type: 'outcome' };
    await resolve(j, record);
  }
  await persist(j);
  // Counted once the unit of work got this far (a widened scope runs the batch again).
  result.recorded += recorded;
  result.late += late;
  result.timedOut += timedOut;
  result.transitions.push(...j.transitions);
  for (const lateLine of lateLines) onLate?.(lateLine);
  return 'done';
}

/** Why an outcome was kept as late: when its task timed out, after how long. */
function lateReason(timeout: OutcomeRecord, outcomeTimeoutMs: number): string {
  return `late: task "${timeout.taskId}" had no outcome within canary.outcome_timeout (${formatDuration(outcomeTimeoutMs)}) and was counted as failed at ${timeout.at}; this outcome is kept and shown as late, and does not change the evidence`;
}

/** Milliseconds as the config writes durations (2h, 90s, 1d); the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${ms} ms`;
}

/** Outcome lines longer than this are refused (and never held in memory whole). */
export const MAX_OUTCOME_LINE_BYTES = 1_000_000;

/** Parse NDJSON text lines into record items (blank lines are ignored). */
export async function* ndjsonItems(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<RecordItem> {
  let line = 0;
  for await (const text of lines) {
    line += 1;
    const item = parseLine(text, line);
    if (item) yield item;
  }
}

function parseLine(text: string, line: number): RecordItem | null {
  if (text.trim() === '') return null;
  if (Buffer.byteLength(text) > MAX_OUTCOME_LINE_BYTES) return { line, error: `line too long: outcome lines are limited to 1,000,000 bytes` };
  try {
    return { line, value: JSON.parse(text) };
  } catch (error) {
    return { line, error: `not valid JSON (${(error as Error).message})` };
  }
}

/**
 * Parse NDJSON from a byte stream with bounded memory: lines are split at the byte level, and a
 * line that grows past MAX_OUTCOME_LINE_BYTES is dropped as it streams (reported, never buffered).
 */
export async function* ndjsonItemsFromStream(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<RecordItem> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 0;
  const finish = (): RecordItem | null => {
    line += 1;
    const item: RecordItem | null = tooLong
      ? { line, error: `line too long: outcome lines are limited to 1,000,000 bytes` }
      : parseLine(Buffer.concat(parts).toString('utf8').replace(/\r$/, ''), line);
    parts = [];
    size = 0;
    tooLong = false;
    return item;
  };
  for await (const raw of chunks) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!tooLong) {
        if (size + (end - start) > MAX_OUTCOME_LINE_BYTES) {
          tooLong = true;
          parts = [];
        } else if (end > start) {
          parts.push(chunk.subarray(start, end));
          size += end - start;
        }
      }
      if (newline === -1) break;
      const item = finish();
      if (item) yield item;
      start = newline + 1;
    }
  }
  if (size > 0 || tooLong) {
    const item = finish();
    if (item) yield item;
  }
}

export function assertRecordable(input: unknown): OutcomeInput {
  const parsed = OutcomeInputSchema.safeParse(input);
  if (!parsed.success) throw new BernsteinError('INVALID_ARGUMENT', formatZodIssues(parsed.error.issues));
  return parsed.data;
}
