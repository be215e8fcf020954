import { close, fsync, openSync } from 'node:fs';
import { appendRecords, BernsteinError, LogRecordReader, MalformedFileError, readRecords, withProjectLock, type AppendResult, type LogSpec, type ProjectPaths } from '@bernstein/store';
import { isLedgerRecord, LedgerRecordSchema, type AssignmentRecord, type LedgerRecord, type TaskEntry } from '@bernstein/prompt-versions';
import type { TaskIndex } from './task-index.js';

export const ledgerLog: LogSpec<typeof LedgerRecordSchema> = { label: 'ledger', currentVersion: 1, schema: LedgerRecordSchema, accepts: isLedgerRecord };

/** Where a reader stopped, to resume from there. */
export interface LedgerCursor {
  offset: number;
  line: number;
}

export const LEDGER_START: LedgerCursor = { offset: 0, line: 1 };

/** The ledger contract: the file implementation below, a shared database later. */
export interface LedgerStore {
  append(records: readonly LedgerRecord[]): Promise<void>;
  /**
   * Stream records after `from`, returning where to resume; warnings name skipped torn lines.
   * `line` is 1-based, for messages; `offset` is where the record starts in the store.
   */
  read(from: LedgerCursor, onRecord: (record: LedgerRecord, line: number, offset: number) => void): Promise<{ cursor: LedgerCursor; warnings: string[] }>;
  /** What to call the ledger in messages (a file path, a table name). */
  readonly name: string;
}

export class FileLedger implements LedgerStore {
  readonly name: string;

  constructor(private readonly paths: ProjectPaths) {
    this.name = paths.ledger;
    this.reader = new LogRecordReader(paths.ledger, ledgerLog);
  }

  /** Takes the project lock (reentrant: callers composing a larger transaction may hold it). */
  async append(records: readonly LedgerRecord[]): Promise<void> {
    await this.appendAt(records);
  }

  /**
   * `append`, saying where the records landed (null when there was nothing to write).
   * `durable: false` leaves the fsync to a later `sync()` (a unit of work's commit).
   */
  async appendAt(records: readonly LedgerRecord[], options: { durable?: boolean } = {}): Promise<AppendResult | null> {
    if (records.length === 0) return null;
    // appendRecords checks that the lock is still ours right before it writes.
    return withProjectLock(this.paths, () => appendRecords(this.paths.ledger, records, options));
  }

  /**
   * Make everything appended so far durable. The descriptor is opened at once (by the caller's
   * clock: under the lock, right after its appends) and the fsync runs in the background, so the
   * caller can let the next unit of work write while the disk syncs; an fsync covers every write
   * made to the file before it, whoever made it.
   */
  sync(): Promise<void> {
    let fd: number;
    try {
      fd = openSync(this.paths.ledger, 'a');
    } catch (error) {
      return Promise.reject(new BernsteinError('IO_ERROR', `${this.paths.ledger}: cannot open to sync (${(error as Error).message})`, { file: this.paths.ledger }, { cause: error }));
    }
    return new Promise<void>((resolve, reject) => {
      fsync(fd, (syncError) => {
        close(fd, () => {
          if (syncError) reject(new BernsteinError('IO_ERROR', `${this.paths.ledger}: fsync failed (${syncError.message})`, { file: this.paths.ledger }, { cause: syncError }));
          else resolve();
        });
      });
    });
  }

  async read(from: LedgerCursor, onRecord: (record: LedgerRecord, line: number, offset: number) => void) {
    const result = await readRecords(this.paths.ledger, ledgerLog, onRecord, { fromOffset: from.offset, fromLine: from.line });
    return { cursor: { offset: result.endOffset, line: result.nextLine }, warnings: result.warnings };
  }

  /** Kept open between recordAt calls, until closeReader(). */
  private readonly reader: LogRecordReader<typeof LedgerRecordSchema>;

  /**
   * The record whose line starts at `offset` (from `read`), or null if there is none there.
   * Keeps the ledger open for the next call; closeReader() closes it.
   */
  recordAt(offset: number): LedgerRecord | null {
    return this.reader.recordAt(offset);
  }

  /** Close what recordAt keeps open (a later call opens the ledger again, e.g. after it was replaced). */
  closeReader(): void {
    this.reader.close();
  }

}

/**
 * An in-memory index of the ledger by task id, caught up incrementally from a cursor, so a
 * long-lived process reads each ledger byte once. It holds every task in memory and reads the
 * whole ledger on first use; FileTaskIndex (task-index.ts) keeps a sorted index on disk instead.
 */
export class LedgerIndex implements TaskIndex {
  private readonly tasks = new Map<string, TaskEntry>();
  private cursor_: LedgerCursor = LEDGER_START;
  readonly warnings: string[] = [];

  constructor(private readonly ledger: LedgerStore) {}

  async catchUp(): Promise<void> {
    const { cursor, warnings } = await this.ledger.read(this.cursor_, (record, line) => this.apply(record, line));
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

  /**
   * One copy of each repeated string (roles, version and canary ids, batch timestamps): a ledger
   * of a million tasks repeats a handful of them, and JSON.parse makes a new string every time.
   */
  private readonly strings = new Map<string, string>();

  private intern(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    if (this.strings.size < 100_000) this.strings.set(value, value);
    return value;
  }

  private apply(record: LedgerRecord, line: number): void {
    if (record.type === 'assign') {
      const assignment: AssignmentRecord = {
        ...record,
        role: this.intern(record.role),
        versionId: this.intern(record.versionId),
        canaryId: record.canaryId === null ? null : this.intern(record.canaryId),
        at: this.intern(record.at),
      };
      this.tasks.set(record.taskId, { assignment, outcome: null });
      return;
    }
    const entry = this.tasks.get(record.taskId);
    if (!entry) return;
    if (record.type === 'late') {
      // Recording writes a late outcome only after a timeout, and one at most.
      if (!entry.outcome || entry.late) {
        throw new MalformedFileError(this.ledger.name, `a late outcome for task "${record.taskId}" that ${entry.outcome ? 'already has one' : 'has not timed out'}`, line);
      }
      entry.late = record;
      return;
    }
    // Recording refuses a second outcome, so one in the file was written by hand or by a writer
    // that lost its lock: refuse to guess which one counts.
    if (entry.outcome) {
      throw new MalformedFileError(this.ledger.name, `a second outcome for task "${record.taskId}" (the first is on line ${entry.outcomeLine ?? '?'})`, line);
    }
    entry.outcome = {
      ...record,
      role: this.intern(record.role),
      versionId: this.intern(record.versionId),
      canaryId: record.canaryId === null ? null : this.intern(record.canaryId),
      at: this.intern(record.at),
    };
    entry.outcomeLine = line;
  }

  /** Where the index stopped reading: the ledger's end as of the last catch-up. */
  get cursor(): LedgerCursor {
    return this.cursor_;
  }

  async get(taskId: string): Promise<TaskEntry | undefined> {
    return this.tasks.get(taskId);
  }

  get size(): number {
    return this.tasks.size;
  }

  entries(): IterableIterator<TaskEntry> {
    return this.tasks.values();
  }
}
