import { BernsteinError, formatZodIssues } from '@bernstein/store';
import { GateResultsSchema, TaskIdSchema, type OutcomeRecord, type TaskEntry } from '@bernstein/prompt-versions';
import type { AuditEvent } from '@bernstein/canary-router';
import { z } from 'zod';
import { foldInto } from '../core/aggregate.js';
import type { StoreTransaction } from '../port.js';
import type { Rollout } from '../rollout.js';
import { decisionEvidence, evaluateCanary, mightDecide } from './evaluate.js';
import { applyAutomaticDecision } from './lifecycle.js';

/** One outcome as an orchestrator reports it (an NDJSON line of `canary record --from`). */
export const OutcomeInputSchema = z.strictObject({
  taskId: TaskIdSchema,
  passed: z.boolean(),
  gates: GateResultsSchema.optional(),
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

export interface RecordResult {
  recorded: number;
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
  const result: RecordResult = { recorded: 0, skipped: [], skippedCount: 0, transitions: [], warnings: [] };
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
    await recordBatch(rollout, items, result, skip);
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

async function recordBatch(rollout: Rollout, items: readonly RecordItem[], result: RecordResult, skip: (line: SkippedLine) => void): Promise<void> {
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
    const outcome = await rollout.store.transaction({ roles: [...roles] }, (tx) => recordInTransaction(rollout, tx, checked, roles, result, skip));
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
): Promise<'done' | { missing: string[] }> {
  const { tasks: known, warnings: lookupWarnings } = await tx.getTasks(items.flatMap((c) => ('input' in c ? [c.input.taskId] : [])));
  const missing = [...rolesOf(known)].filter((role) => !scope.has(role));
  if (missing.length > 0) return { missing };

  const config = await rollout.config();
  let state = await tx.loadState();
  const { aggregates, warnings } = await tx.aggregates();
  for (const warning of [...lookupWarnings, ...warnings]) if (!result.warnings.includes(warning)) result.warnings.push(warning);

  let pending: OutcomeRecord[] = [];
  const takenInBatch = new Set<string>();
  const now = rollout.now().toISOString();
  const persist = async () => {
    if (pending.length === 0) return;
    await tx.appendOutcomes(pending);
    pending = [];
  };

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
    if (entry.outcome || takenInBatch.has(input.taskId)) {
      skip({ line, taskId: input.taskId, code: 'DUPLICATE_OUTCOME', message: `task "${input.taskId}" already has an outcome` });
      continue;
    }
    const { assignment } = entry;
    const outcome: OutcomeRecord = {
      v: 1,
      type: 'outcome',
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
    pending.push(outcome);
    takenInBatch.add(input.taskId);
    // The same fold the store applies on append: decisions see this outcome before it is written.
    foldInto(aggregates, [outcome]);
    result.recorded += 1;

    // Evaluate the canary this outcome belongs to, if it is still running.
    const canary = state.roles[outcome.role]?.canary;
    if (!canary || canary.id !== outcome.canaryId || (outcome.epoch ?? -1) < canary.evidenceFromEpoch) continue;
    if (!mightDecide(config, canary, aggregates)) continue;
    const decision = evaluateCanary(config, canary, aggregates);
    if (decision.action === 'continue') continue;
    await persist();
    const applied = await applyAutomaticDecision(rollout, tx, {
      role: outcome.role,
      canaryId: canary.id,
      epoch: canary.epoch,
      action: decision.action,
      reason: decision.reason,
      evidence: decisionEvidence(decision),
    });
    result.transitions.push(...applied.events);
    state = applied.state;
  }
  await persist();
  return 'done';
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
