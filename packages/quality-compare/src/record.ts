import { BernsteinError, formatZodIssues } from '@bernstein/store';
import { GateResultsSchema, TaskIdSchema, type OutcomeRecord } from '@bernstein/prompt-versions';
import { applyAutomaticDecision, type AuditEvent, type FileProject } from '@bernstein/canary-router';
import { z } from 'zod';
import { currentAggregates, foldOutcome, saveAggregates } from './aggregates.js';
import { evaluateCanary, mightDecide } from './evaluate.js';

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
  skipped: SkippedLine[];
  /** Transitions that automatic decisions applied while recording (promote, step, rollback). */
  transitions: AuditEvent[];
  warnings: string[];
}

export interface RecordOptions {
  /** Lines per locked batch: bounds memory and how long other processes wait for the lock. */
  batchSize?: number;
  /** Called after each batch, for progress output. */
  onProgress?: (done: { lines: number; recorded: number; skipped: number }) => void;
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
  const result: RecordResult = { recorded: 0, skipped: [], transitions: [], warnings: [] };
  let batch: RecordItem[] = [];
  let lines = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    await recordBatch(project, items, result);
    lines += items.length;
    options.onProgress?.({ lines, recorded: result.recorded, skipped: result.skipped.length });
  };
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  return result;
}

async function recordBatch(project: FileProject, items: readonly RecordItem[], result: RecordResult): Promise<void> {
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
        result.skipped.push({ line: item.line, taskId: null, code: 'MALFORMED_LINE', message: item.error });
        continue;
      }
      const parsed = OutcomeInputSchema.safeParse(item.value);
      if (!parsed.success) {
        const taskId = typeof (item.value as { taskId?: unknown })?.taskId === 'string' ? (item.value as { taskId: string }).taskId : null;
        result.skipped.push({ line: item.line, taskId, code: 'MALFORMED_LINE', message: formatZodIssues(parsed.error.issues) });
        continue;
      }
      const input = parsed.data;
      const entry = index.get(input.taskId);
      if (!entry) {
        result.skipped.push({ line: item.line, taskId: input.taskId, code: 'TASK_UNKNOWN', message: `task "${input.taskId}" was never routed (route it with \`bernstein canary route\` first)` });
        continue;
      }
      if (entry.outcome || takenInBatch.has(input.taskId)) {
        result.skipped.push({ line: item.line, taskId: input.taskId, code: 'DUPLICATE_OUTCOME', message: `task "${input.taskId}" already has an outcome` });
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

/** Parse NDJSON text lines into record items (blank lines are ignored). */
export async function* ndjsonItems(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<RecordItem> {
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    if (text.length > 1_000_000) {
      yield { line, error: `line is ${text.length} characters long; outcome lines are limited to 1,000,000` };
      continue;
    }
    try {
      yield { line, value: JSON.parse(text) };
    } catch (error) {
      yield { line, error: `not valid JSON (${(error as Error).message})` };
    }
  }
}

export function assertRecordable(input: unknown): OutcomeInput {
  const parsed = OutcomeInputSchema.safeParse(input);
  if (!parsed.success) throw new BernsteinError('INVALID_ARGUMENT', formatZodIssues(parsed.error.issues));
  return parsed.data;
}
