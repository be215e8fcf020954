import { defineJsonDocument, defineLogCheckpoints, isBernsteinError, withProjectLock, writeJsonAtomic, type ProjectPaths } from '@bernstein/store';
import type { LedgerRecord } from '@bernstein/prompt-versions';
import { AGGREGATE_FOLD_VERSION, AggregateStateSchema, foldInto, type AggregateState } from '@bernstein/rollout';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { LEDGER_START, type FileLedger, type LedgerCursor } from './ledger-file.js';

/**
 * `.sdd/cache/aggregates.json`: the aggregate fold (@bernstein/rollout) of the ledger up to a byte
 * offset, so status and evaluation read a small file plus the ledger's tail. Derived: a missing,
 * damaged or stale copy (the ledger is shorter than it claims, or another fold version wrote it)
 * is rebuilt from the ledger, never reported as an error.
 */
const AggregatesFileSchema = z.object({
  schemaVersion: z.literal(2),
  foldVersion: z.number().int(),
  cursor: z.object({ offset: z.number().int().min(0), line: z.number().int().min(1) }),
  states: z.record(z.string(), AggregateStateSchema),
});
type AggregatesFile = z.infer<typeof AggregatesFileSchema>;

const aggregatesDocument = defineJsonDocument({
  label: 'outcome aggregates',
  schema: AggregatesFileSchema,
  currentVersion: 2,
  // Version 1 had another layout: start over (the ledger is the truth).
  migrations: { 1: () => ({ schemaVersion: 2, foldVersion: -1, cursor: { ...LEDGER_START }, states: {} }) },
  empty: (): AggregatesFile => ({ schemaVersion: 2, foldVersion: AGGREGATE_FOLD_VERSION, cursor: { ...LEDGER_START }, states: {} }),
});

/**
 * The saved copy as it stood every 8 MiB of ledger (`.sdd/cache/checkpoints/`): with
 * `aggregates.json` deleted, damaged or far behind, a command folds only the ledger after the
 * newest checkpoint. Generic over the fold: a checkpoint of another fold version is passed over.
 */
const aggregateCheckpoints = defineLogCheckpoints({ name: 'aggregates', schema: AggregatesFileSchema });

/** Folding more ledger than this in one read is worth saving, so the next command does not repeat it. */
const REBUILD_SAVE_BYTES = 4 * 1024 * 1024;

export interface LoadedAggregates {
  states: Map<string, AggregateState>;
  cursor: LedgerCursor;
  warnings: string[];
}

async function ledgerSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export class FileAggregates {
  constructor(
    private readonly paths: ProjectPaths,
    private readonly ledger: FileLedger,
  ) {}

  /** The saved copy if it can be trusted for this ledger, else an empty fold from the start. */
  private async loadSaved(): Promise<{ file: AggregatesFile; warnings: string[] }> {
    const empty = aggregatesDocument.spec.empty();
    let file: AggregatesFile;
    try {
      file = await aggregatesDocument.load(this.paths.aggregates);
    } catch (error) {
      if (isBernsteinError(error, 'MALFORMED_FILE') || isBernsteinError(error, 'UNSUPPORTED_SCHEMA_VERSION')) {
        return { file: empty, warnings: [`${this.paths.aggregates}: unreadable derived cache, rebuilt from the ledger (${(error as Error).message})`] };
      }
      throw error;
    }
    if (file.foldVersion !== AGGREGATE_FOLD_VERSION || file.cursor.offset > (await ledgerSize(this.paths.ledger))) return { file: empty, warnings: [] };
    return { file, warnings: [] };
  }

  /**
   * Load and fold in whatever the ledger gained since the copy was saved, or, with `after`, since
   * that fold (one this process keeps in memory; it is copied, not changed).
   */
  async current(options: { saveIfFarBehind: boolean; after?: Pick<LoadedAggregates, 'states' | 'cursor'> }): Promise<LoadedAggregates> {
    let file: Pick<AggregatesFile, 'cursor' | 'states'>;
    let warnings: string[] = [];
    if (options.after) {
      file = { cursor: options.after.cursor, states: Object.fromEntries(structuredClone(options.after.states)) };
    } else {
      const loaded = await this.loadSaved();
      file = loaded.file;
      warnings = loaded.warnings;
      const checkpoint = await aggregateCheckpoints.latest(this.paths.checkpoints, this.paths.ledger, { after: file.cursor.offset, upTo: await ledgerSize(this.paths.ledger) });
      if (checkpoint && checkpoint.state.foldVersion === AGGREGATE_FOLD_VERSION) file = { ...checkpoint.state, cursor: checkpoint.cursor };
    }
    const states = new Map(Object.entries(file.states));
    const from = file.cursor.offset;
    const batch: LedgerRecord[] = [];
    const read = await this.ledger.read(file.cursor, (record) => {
      batch.push(record);
      if (batch.length >= 4096) foldInto(states, batch.splice(0));
    });
    foldInto(states, batch);
    const result = { states, cursor: read.cursor, warnings: [...warnings, ...read.warnings] };
    if (options.saveIfFarBehind && read.cursor.offset - from >= REBUILD_SAVE_BYTES) await this.saveIfAhead(result);
    return result;
  }

  /** Save (the caller holds the project lock). */
  async save(aggregates: Pick<LoadedAggregates, 'states' | 'cursor'>, options: { checkpointEveryBytes?: number } = {}): Promise<void> {
    const file: AggregatesFile = { schemaVersion: 2, foldVersion: AGGREGATE_FOLD_VERSION, cursor: aggregates.cursor, states: Object.fromEntries(aggregates.states) };
    // No fsync: a copy lost or torn by a power failure is rebuilt from the ledger (which is synced).
    await writeJsonAtomic(this.paths.aggregates, file, { durable: false });
    await aggregateCheckpoints.saveIfDue(this.paths.checkpoints, this.paths.ledger, { cursor: aggregates.cursor, state: file }, { everyBytes: options.checkpointEveryBytes });
  }

  /**
   * Save aggregates a reader rebuilt (the cache was deleted or far behind), if the lock is free
   * right now and the saved copy is behind. Best effort: a busy lock means a writer saves its own.
   */
  private async saveIfAhead(aggregates: LoadedAggregates): Promise<void> {
    try {
      await withProjectLock(
        this.paths,
        async (lock) => {
          const { file } = await this.loadSaved();
          if (file.foldVersion === AGGREGATE_FOLD_VERSION && file.cursor.offset >= aggregates.cursor.offset) return;
          await lock.assertHeld();
          await this.save(aggregates);
        },
        { timeoutMs: 250 },
      );
    } catch (error) {
      if (!isBernsteinError(error, 'LOCK_TIMEOUT')) throw error;
    }
  }
}
