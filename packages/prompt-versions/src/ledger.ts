import { appendRecords, readRecords, withProjectLock, type LogSpec, type ProjectPaths } from '@bernstein/store';
import { z } from 'zod';

/**
 * The ledger: which version every task ran with, and how it did. Append-only JSONL under
 * `.sdd/ledger.jsonl`; every record carries `v` (its schema version).
 */
export const ArmSchema = z.enum(['stable', 'canary']);
export type Arm = z.infer<typeof ArmSchema>;

export const TaskIdSchema = z
  .string()
  .min(1, 'a task id may not be empty')
  .max(512, 'a task id is at most 512 characters')
  .refine((id) => !/[\u0000-\u001f]/.test(id), 'a task id may not contain control characters');

const Where = {
  taskId: TaskIdSchema,
  role: z.string(),
  arm: ArmSchema,
  versionId: z.string(),
  /** The canary running when the task was routed (set on both arms), or null. */
  canaryId: z.string().nullable(),
  /** The canary's epoch (percentage period) when the task was routed, or null. */
  epoch: z.number().int().nullable(),
  at: z.string(),
};

export const AssignmentRecordSchema = z.object({ v: z.literal(1), type: z.literal('assign'), ...Where });
export type AssignmentRecord = z.infer<typeof AssignmentRecordSchema>;

export const GateResultsSchema = z.record(z.string().min(1).max(128), z.boolean());

export const OutcomeRecordSchema = z.object({
  v: z.literal(1),
  type: z.literal('outcome'),
  ...Where,
  passed: z.boolean(),
  gates: GateResultsSchema.optional(),
  costUsd: z.number().finite().nonnegative().optional(),
  durationMs: z.number().finite().nonnegative().optional(),
});
export type OutcomeRecord = z.infer<typeof OutcomeRecordSchema>;

export const LedgerRecordSchema = z.discriminatedUnion('type', [AssignmentRecordSchema, OutcomeRecordSchema]);
export type LedgerRecord = z.infer<typeof LedgerRecordSchema>;

export const ledgerLog: LogSpec<typeof LedgerRecordSchema> = { label: 'ledger', currentVersion: 1, schema: LedgerRecordSchema };

/** Where a reader stopped, to resume from there. */
export interface LedgerCursor {
  offset: number;
  line: number;
}

export const LEDGER_START: LedgerCursor = { offset: 0, line: 1 };

/** The ledger contract: the file implementation below, a shared database later. */
export interface LedgerStore {
  append(records: readonly LedgerRecord[]): Promise<void>;
  /** Stream records after `from`, returning where to resume; warnings name skipped torn lines. */
  read(from: LedgerCursor, onRecord: (record: LedgerRecord) => void): Promise<{ cursor: LedgerCursor; warnings: string[] }>;
}

export class FileLedger implements LedgerStore {
  constructor(private readonly paths: ProjectPaths) {}

  /** Takes the project lock (reentrant: callers composing a larger transaction may hold it). */
  async append(records: readonly LedgerRecord[]): Promise<void> {
    if (records.length === 0) return;
    await withProjectLock(this.paths, async (lock) => {
      lock.assertHeld();
      await appendRecords(this.paths.ledger, records);
    });
  }

  async read(from: LedgerCursor, onRecord: (record: LedgerRecord) => void) {
    const result = await readRecords(this.paths.ledger, ledgerLog, onRecord, { fromOffset: from.offset, fromLine: from.line });
    return { cursor: { offset: result.endOffset, line: result.nextLine }, warnings: result.warnings };
  }
}

/** What the ledger says about one task: its latest assignment and its outcome, if any. */
export interface TaskEntry {
  assignment: AssignmentRecord;
  outcome: OutcomeRecord | null;
}

/**
 * An in-memory index of the ledger by task id, caught up incrementally from a cursor, so a
 * long-lived process reads each ledger byte once.
 */
export class LedgerIndex {
  private readonly tasks = new Map<string, TaskEntry>();
  private cursor_: LedgerCursor = LEDGER_START;
  readonly warnings: string[] = [];

  constructor(private readonly ledger: LedgerStore) {}

  async catchUp(): Promise<void> {
    const { cursor, warnings } = await this.ledger.read(this.cursor_, (record) => this.apply(record));
    this.cursor_ = cursor;
    for (const warning of warnings) if (!this.warnings.includes(warning)) this.warnings.push(warning);
  }

  /**
   * Append records and fold them in. Call under the project lock, after `catchUp()`, so that the
   * checks made on this index (duplicates, unknown tasks) still hold when the records land.
   */
  async append(records: readonly LedgerRecord[]): Promise<void> {
    await this.ledger.append(records);
    await this.catchUp();
  }

  private apply(record: LedgerRecord): void {
    if (record.type === 'assign') {
      this.tasks.set(record.taskId, { assignment: record, outcome: null });
    } else {
      const entry = this.tasks.get(record.taskId);
      if (entry) entry.outcome = record;
    }
  }

  /** Where the index stopped reading: the ledger's end as of the last catch-up. */
  get cursor(): LedgerCursor {
    return this.cursor_;
  }

  get(taskId: string): TaskEntry | undefined {
    return this.tasks.get(taskId);
  }

  get size(): number {
    return this.tasks.size;
  }

  entries(): IterableIterator<TaskEntry> {
    return this.tasks.values();
  }
}
