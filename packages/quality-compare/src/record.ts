import { BernsteinError, formatZodIssues } from '@bernstein/store';
import { GateResultsInputSchema, TaskIdSchema, type OutcomeRecord } from '@bernstein/prompt-versions';
import { applyAutomaticDecision, type AuditEvent, type FileProject } from '@bernstein/canary-router';
import { z } from 'zod';
import { currentAggregates, foldOutcome, saveAggregates } from './aggregates.js';
import { evaluateCanary, mightDecide } from './evaluate.js';

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
  /** Lines per locked batch: bounds memory and how long other processes wait for the lock. */
  batchSize?: number;
  /** Called after each batch, for progress output. */
  onProgress?: (done: { lines: number; recorded: number; skipped: number }) => void;
  /** Receives each skipped line as it is found, instead of collecting them in the result. */
  onSkipped?: (skip: SkippedLine) => void;
}

/**
 * Record outcomes of routed tasks. Each outcome is checked (known task, no earlier outcome),
 * written to the ledger, folded into the aggregates, and followed by an evaluation of its
 * role's canary; a promote or rollback decision is applied exactly once, right there, so the
 * next outcome is judged against the new state. Bad lines are skipped and reported; the
 * others are kept.
 */
export async function recordOutcomes(
  project: FileProject,
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
    await recordBatch(project, items, result, skip);
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

async function recordBatch(project: FileProject, items: readonly RecordItem[], result: RecordResult, skip: (line: SkippedLine) => void): Promise<void> {
  await project.transaction(async () => {
    const config = await project.config();
    let state = await project.load();
    const index = await project.index();
    const { aggregates, warnings } = await currentAggregates(project);
    for (const warning of [...index.warnings, ...warnings]) if (!result.warnings.includes(warning)) result.warnings.push(warning);

    let pending: OutcomeRecord[] = [];
    const recordedBefore = result.recorded;
    const takenInBatch = new Set<string>();
    const now = project.now().toISOString();
    const persist = async () => {
      if (pending.length === 0) return;
      await index.append(pending);
      pending = [];
      aggregates.cursor = index.cursor;
    };

    for (const item of items) {
      if ('error' in item) {
        skip({ line: item.line, taskId: null, code: 'MALFORMED_LINE', message: item.error });
        continue;
      }
      const parsed = OutcomeInputSchema.safeParse(item.value);
      if (!parsed.success) {
        const taskId = typeof (item.value as { taskId?: unknown })?.taskId === 'string' ? (item.value as { taskId: string }).taskId : null;
        skip({ line: item.line, taskId, code: 'MALFORMED_LINE', message: formatZodIssues(parsed.error.issues) });
        continue;
      }
      const input = parsed.data;
      const entry = await index.get(input.taskId);
      if (!entry) {
        skip({ line: item.line, taskId: input.taskId, code: 'TASK_UNKNOWN', message: `task "${input.taskId}" was never routed (route it with \`bernstein canary route\` first)` });
        continue;
      }
      if (entry.outcome || takenInBatch.has(input.taskId)) {
        skip({ line: item.line, taskId: input.taskId, code: 'DUPLICATE_OUTCOME', message: `task "${input.taskId}" already has an outcome` });
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
      foldOutcome(aggregates, outcome);
      result.recorded += 1;

      // Evaluate the canary this outcome belongs to, if it is still running.
      const canary = state.roles[outcome.role]?.canary;
      if (!canary || canary.id !== outcome.canaryId || (outcome.epoch ?? -1) < canary.evidenceFromEpoch) continue;
      if (!mightDecide(config, canary, aggregates)) continue;
      const decision = evaluateCanary(config, canary, aggregates);
      if (decision.action === 'continue') continue;
      await persist();
      const applied = await applyAutomaticDecision(project, {
        role: outcome.role,
        canaryId: canary.id,
        epoch: canary.epoch,
        action: decision.action,
        reason: decision.reason,
        evidence: { ...decision.evidence, rule: decision.rule },
      });
      result.transitions.push(...applied.events);
      state = applied.state;
    }
    await persist();
    // A batch that recorded nothing (every line skipped) changes no file.
    if (result.recorded > recordedBefore) await saveAggregates(project, aggregates);
  });
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
