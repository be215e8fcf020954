import { BernsteinError, defineJsonDocument, defineLogCheckpoints, isBernsteinError, MalformedFileError, withProjectLock } from '@bernstein/store';
import { LEDGER_START, type LedgerCursor, type OutcomeRecord } from '@bernstein/prompt-versions';
import type { FileProject } from '@bernstein/canary-router';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { addOutcome, ArmStatsSchema, emptyArmStats, type ArmStats } from './core.js';

/**
 * Per-canary outcome counts folded from the ledger up to `cursor`: a derived, rebuildable cache
 * (`.sdd/cache/aggregates.json`) so that status and evaluation read a small file plus the
 * ledger's tail instead of the whole ledger.
 */
const EpochArmsSchema = z.object({ stable: ArmStatsSchema, canary: ArmStatsSchema });
export const AggregatesSchema = z.object({
  schemaVersion: z.literal(1),
  cursor: z.object({ offset: z.number().int().min(0), line: z.number().int().min(1) }),
  /** Outcomes of tasks routed while a canary ran, per canary and epoch. */
  canaries: z.record(z.string(), z.object({ role: z.string(), epochs: z.record(z.string(), EpochArmsSchema) })),
  /** Outcomes of tasks routed with no canary, per role and version. */
  stable: z.record(z.string(), z.record(z.string(), ArmStatsSchema)),
});
export type Aggregates = z.infer<typeof AggregatesSchema>;
export type EpochArms = z.infer<typeof EpochArmsSchema>;

export const aggregatesDocument = defineJsonDocument({
  label: 'outcome aggregates',
  schema: AggregatesSchema,
  currentVersion: 1,
  empty: (): Aggregates => ({ schemaVersion: 1, cursor: { ...LEDGER_START }, canaries: {}, stable: {} }),
});

/**
 * The aggregates as they stood every few MiB of ledger (`.sdd/cache/checkpoints/`): with the
 * cache deleted, damaged-and-deleted or far behind, a command folds only the ledger after the
 * newest checkpoint.
 */
export const aggregateCheckpoints = defineLogCheckpoints({ name: 'aggregates', schema: AggregatesSchema });

/** Fold one outcome in (mutates `aggregates`: this runs once per ledger line). */
export function foldOutcome(aggregates: Aggregates, outcome: OutcomeRecord): void {
  const sample = {
    passed: outcome.passed,
    ...(outcome.gates ? { gates: outcome.gates } : {}),
    ...(outcome.costUsd !== undefined ? { costUsd: outcome.costUsd } : {}),
    ...(outcome.durationMs !== undefined ? { durationMs: outcome.durationMs } : {}),
  };
  if (outcome.canaryId !== null && outcome.epoch !== null) {
    const canary = (aggregates.canaries[outcome.canaryId] ??= { role: outcome.role, epochs: {} });
    const epoch = (canary.epochs[String(outcome.epoch)] ??= { stable: emptyArmStats(), canary: emptyArmStats() });
    epoch[outcome.arm] = addOutcome(epoch[outcome.arm], sample);
    return;
  }
  const role = (aggregates.stable[outcome.role] ??= {});
  role[outcome.versionId] = addOutcome(role[outcome.versionId] ?? emptyArmStats(), sample);
}

/**
 * Load the aggregates and fold in whatever the ledger gained since they were saved. Read-only:
 * callers that hold the project lock may save the result.
 */
export async function currentAggregates(project: FileProject): Promise<{ aggregates: Aggregates; warnings: string[] }> {
  let aggregates = await aggregatesDocument.load(project.paths.aggregates);
  let ledgerSize = 0;
  try {
    ledgerSize = (await stat(project.paths.ledger)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new BernsteinError('IO_ERROR', `${project.paths.ledger}: ${(error as Error).message}`);
  }
  if (aggregates.cursor.offset > ledgerSize) {
    throw new MalformedFileError(
      project.paths.aggregates,
      `covers ${aggregates.cursor.offset} bytes of the ledger but ${project.paths.ledger} has ${ledgerSize}; the ledger was replaced or truncated (delete the aggregates file to rebuild it from the ledger)`,
    );
  }
  const checkpoint = await aggregateCheckpoints.latest(project.paths.checkpoints, project.paths.ledger, { after: aggregates.cursor.offset, upTo: ledgerSize });
  if (checkpoint) aggregates = { ...checkpoint.state, cursor: checkpoint.cursor };
  const from = aggregates.cursor.offset;
  const { cursor, warnings } = await project.ledger.read(aggregates.cursor, (record) => {
    if (record.type === 'outcome') foldOutcome(aggregates, record);
  });
  aggregates.cursor = cursor;
  if (cursor.offset - from >= REBUILD_SAVE_BYTES) await saveIfAhead(project, aggregates);
  return { aggregates, warnings };
}

/** Folding more ledger than this in one read is worth saving, so the next command does not repeat it. */
const REBUILD_SAVE_BYTES = 4 * 1024 * 1024;

/**
 * Save aggregates that a read-only command rebuilt (the cache was deleted or far behind), if
 * the lock is free right now and the saved cache is behind ours. Best effort: a busy lock just
 * means a writer will save its own.
 */
async function saveIfAhead(project: FileProject, aggregates: Aggregates): Promise<void> {
  try {
    await withProjectLock(
      project.paths,
      async (lock) => {
        const saved = await aggregatesDocument.load(project.paths.aggregates);
        if (saved.cursor.offset >= aggregates.cursor.offset) return;
        lock.assertHeld();
        await saveAggregates(project, aggregates);
      },
      { timeoutMs: 250 },
    );
  } catch (error) {
    if (!isBernsteinError(error, 'LOCK_TIMEOUT')) throw error;
  }
}

/** Save the cache, and a checkpoint when one is due. Under the project lock. */
export async function saveAggregates(project: FileProject, aggregates: Aggregates, options: { checkpointEveryBytes?: number } = {}): Promise<void> {
  await aggregatesDocument.save(project.paths.aggregates, aggregates);
  await aggregateCheckpoints.saveIfDue(project.paths.checkpoints, project.paths.ledger, { cursor: aggregates.cursor, state: aggregates }, { everyBytes: options.checkpointEveryBytes });
}

export type { LedgerCursor, ArmStats };
