import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { BernsteinError, MalformedFileError, withProjectLock, writeFileAtomic, type ProjectPaths } from '@bernstein/store';
import type { AssignmentRecord, LedgerRecord, TaskEntry } from '@bernstein/prompt-versions';
import { LEDGER_START, type FileLedger, type LedgerCursor } from './ledger-file.js';

/**
 * What routing and recording ask of the ledger: the latest assignment of a task and its outcome.
 * The file project answers from `.sdd/cache/tasks.idx` (below); a database answers with a query.
 */
export interface TaskIndex {
  /** Fold in what was appended to the ledger since the last call (by this or any process). */
  catchUp(): Promise<void>;
  /**
   * Append records to the ledger and fold them in. Call under the project lock, after
   * `catchUp()`, so that checks made on this index (duplicates, unknown tasks) still hold when
   * the records land.
   */
  append(records: readonly LedgerRecord[]): Promise<void>;
  get(taskId: string): Promise<TaskEntry | undefined>;
  /** Where the index stopped reading: the ledger's end as of the last catch-up. */
  readonly cursor: LedgerCursor;
  /** Torn lines skipped while catching up, named by file and line. */
  readonly warnings: string[];
}

/*
 * `.sdd/cache/tasks.idx`: derived from the ledger and rebuilt from it whenever it is missing,
 * stale or damaged, so a command that routes or records a few tasks reads a few ledger lines
 * instead of the whole ledger (which grows by two lines per task, forever).
 *
 * Layout, little-endian. Header (64 bytes): magic "BTIX", format version (u32), the ledger
 * offset and line it covers (f64, f64), the entry count (f64), and a fingerprint of the ledger's
 * last 4 KiB before that offset (16 bytes) so a replaced or truncated ledger is noticed. Then one
 * 40-byte entry per task, sorted by key: the first 16 bytes of SHA-256(task id), the byte offset
 * of the task's latest assignment line, the offset and line of its outcome (-1 and 0 if none).
 * A key of 128 bits makes a collision between task ids as unlikely as one between version ids
 * (which are shorter), and every lookup still reads the line it points at and checks the id.
 */
const MAGIC = Buffer.from('BTIX', 'latin1');
const FORMAT_VERSION = 1;
const HEADER_BYTES = 64;
const KEY_BYTES = 16;
const ENTRY_BYTES = 40;
const FINGERPRINT_SPAN = 4096;
/** Ledger folded past the saved index before it is saved again (about 5,000 tasks). */
const SAVE_AFTER_BYTES = 2 * 1024 * 1024;
/** Hashed task ids kept between lookups and the next save (about 2 MB). */
const MAX_KEYS = 20_000;
/** Parsed assignments kept for lookups that follow soon after (about 3 MB). */
const RECENT_ASSIGNMENTS = 10_000;

interface TailEntry {
  assignOffset: number;
  outcomeOffset: number;
  outcomeLine: number;
}

export function taskKey(taskId: string): Buffer {
  return createHash('sha256').update(taskId, 'utf8').digest().subarray(0, KEY_BYTES);
}

export class FileTaskIndex implements TaskIndex {
  /** Entries of the saved index (sorted by key), and the ledger prefix they cover. */
  private base: Buffer = Buffer.alloc(0);
  private baseCursor: LedgerCursor = LEDGER_START;
  /** Tasks seen in the ledger after baseCursor (and base tasks they changed), by task id. */
  private readonly tail = new Map<string, TailEntry>();
  /**
   * The latest assignments folded by this object, parsed: a long-lived process that routes a
   * task and records its outcome soon after reads no line back. Oldest dropped first.
   */
  private readonly recent = new Map<string, { offset: number; record: AssignmentRecord }>();
  private cursor_: LedgerCursor = LEDGER_START;
  private loaded = false;
  private mustSave = false;
  readonly warnings: string[] = [];

  private readonly saveAfterBytes: number;

  constructor(
    private readonly ledger: FileLedger,
    private readonly paths: ProjectPaths,
    options: { saveAfterBytes?: number } = {},
  ) {
    this.saveAfterBytes = options.saveAfterBytes ?? SAVE_AFTER_BYTES;
  }

  get cursor(): LedgerCursor {
    return this.cursor_;
  }

  async catchUp(): Promise<void> {
    // Lookups keep the ledger open; each catch-up starts a new round of them with a fresh handle,
    // so a long-lived process holds at most one, and never one of a ledger that was replaced.
    this.ledger.closeReader();
    if (!this.loaded) this.load();
    const { cursor, warnings } = await this.ledger.read(this.cursor_, (record, line, offset) => this.fold(record, line, offset));
    this.cursor_ = cursor;
    for (const warning of warnings) if (!this.warnings.includes(warning)) this.warnings.push(warning);
  }

  async append(records: readonly LedgerRecord[]): Promise<void> {
    await this.ledger.append(records);
    await this.catchUp();
    if (this.mustSave || this.cursor_.offset - this.baseCursor.offset >= this.saveAfterBytes) await this.save();
  }

  async get(taskId: string): Promise<TaskEntry | undefined> {
    const found = this.lookup(taskId);
    if (found === undefined) return undefined;
    const entry = this.resolve(taskId, found);
    if (entry !== null) return entry;
    // The index points at a line that is not this task's: it does not describe this ledger.
    // Rebuild it from the ledger (the source of truth) and answer from that.
    this.reset();
    await this.catchUp();
    const rebuilt = this.lookup(taskId);
    if (rebuilt === undefined) return undefined;
    const entry2 = this.resolve(taskId, rebuilt);
    if (entry2 === null) throw new MalformedFileError(this.ledger.name, `the lines of task "${taskId}" changed while they were being read (was the ledger edited by hand?)`);
    return entry2;
  }

  private lookup(taskId: string): TailEntry | undefined {
    const fromTail = this.tail.get(taskId);
    if (fromTail) return fromTail;
    const at = this.findInBase(this.keyOf(taskId));
    return at < 0 ? undefined : this.baseEntry(at);
  }

  /** Read the lines an entry points at; null if they are not this task's. */
  private resolve(taskId: string, entry: TailEntry): TaskEntry | null {
    const cached = this.recent.get(taskId);
    const assignment = cached?.offset === entry.assignOffset ? cached.record : this.ledger.recordAt(entry.assignOffset);
    if (!assignment || assignment.type !== 'assign' || assignment.taskId !== taskId) return null;
    if (entry.outcomeOffset < 0) return { assignment, outcome: null };
    const outcome = this.ledger.recordAt(entry.outcomeOffset);
    if (!outcome || outcome.type !== 'outcome' || outcome.taskId !== taskId) return null;
    return { assignment, outcome, outcomeLine: entry.outcomeLine };
  }

  private fold(record: LedgerRecord, line: number, offset: number): void {
    if (record.type === 'assign') {
      this.tail.set(record.taskId, { assignOffset: offset, outcomeOffset: -1, outcomeLine: 0 });
      this.recent.delete(record.taskId);
      this.recent.set(record.taskId, { offset, record });
      if (this.recent.size > RECENT_ASSIGNMENTS) this.recent.delete(this.recent.keys().next().value!);
      return;
    }
    let entry = this.tail.get(record.taskId);
    if (!entry) {
      const at = this.findInBase(this.keyOf(record.taskId));
      if (at < 0) return; // an outcome of a task never routed: not ours to index
      entry = this.baseEntry(at);
      this.tail.set(record.taskId, entry);
    }
    // Recording refuses a second outcome, so one in the file was written by hand or by a writer
    // that lost its lock: refuse to guess which one counts.
    if (entry.outcomeOffset >= 0) {
      throw new MalformedFileError(this.ledger.name, `a second outcome for task "${record.taskId}" (the first is on line ${entry.outcomeLine || '?'})`, line);
    }
    entry.outcomeOffset = offset;
    entry.outcomeLine = line;
  }

  /**
   * Keys hashed since the last save (a routed task is looked up, folded, then saved), at most
   * MAX_KEYS of them: a command that looks up a million unknown tasks saves nothing.
   */
  private readonly keys = new Map<string, Buffer>();

  private keyOf(taskId: string): Buffer {
    let key = this.keys.get(taskId);
    if (key === undefined) {
      key = taskKey(taskId);
      if (this.keys.size >= MAX_KEYS) this.keys.clear();
      this.keys.set(taskId, key);
    }
    return key;
  }

  /** Position of `key` among the saved entries, or -1. */
  private findInBase(key: Buffer): number {
    let lo = 0;
    let hi = this.base.length / ENTRY_BYTES - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const order = this.compareToBase(key, mid);
      if (order === 0) return mid;
      if (order > 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The first saved entry at or after `from` whose key is not below `key`. */
  private lowerBound(key: Buffer, from: number): number {
    let lo = from;
    let hi = this.base.length / ENTRY_BYTES;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareToBase(key, mid) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sign of (key - key of saved entry `at`), bytewise. */
  private compareToBase(key: Buffer, at: number): number {
    const start = at * ENTRY_BYTES;
    const head = key.readUInt32BE(0) - this.base.readUInt32BE(start);
    if (head !== 0) return head;
    return key.compare(this.base, start, start + KEY_BYTES, 0, KEY_BYTES);
  }

  private baseEntry(at: number): TailEntry {
    const start = at * ENTRY_BYTES + KEY_BYTES;
    return {
      assignOffset: this.base.readDoubleLE(start),
      outcomeOffset: this.base.readDoubleLE(start + 8),
      outcomeLine: this.base.readDoubleLE(start + 16),
    };
  }

  private reset(): void {
    this.base = Buffer.alloc(0);
    this.baseCursor = LEDGER_START;
    this.cursor_ = LEDGER_START;
    this.tail.clear();
    this.keys.clear();
    this.recent.clear();
    this.loaded = true;
    this.mustSave = true;
  }

  /** Load the saved index if it describes this ledger; otherwise start over from the ledger. */
  private load(): void {
    this.loaded = true;
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.paths.taskIndex);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new BernsteinError('IO_ERROR', `${this.paths.taskIndex}: cannot read (${(error as Error).message})`);
      this.reset();
      return;
    }
    const header = readHeader(bytes);
    if (!header || header.offset > ledgerSize(this.paths.ledger) || !fingerprint(this.paths.ledger, header.offset).equals(header.fingerprint)) {
      this.reset();
      return;
    }
    this.base = bytes.subarray(HEADER_BYTES);
    this.baseCursor = { offset: header.offset, line: header.line };
    this.cursor_ = this.baseCursor;
  }

  /** Merge the folded tail into the sorted entries and replace the index file. */
  private async save(): Promise<void> {
    const folded = [...this.tail].map(([taskId, entry]) => ({ key: this.keyOf(taskId), entry }));
    // The first 32 bits settle almost every comparison without a call into Buffer#compare.
    folded.sort((a, b) => a.key.readUInt32BE(0) - b.key.readUInt32BE(0) || a.key.compare(b.key));
    const baseCount = this.base.length / ENTRY_BYTES;
    const out = Buffer.alloc(HEADER_BYTES + (baseCount + folded.length) * ENTRY_BYTES);
    let written = 0;
    // Saved entries between folded keys are copied in runs (one memcpy each), so a save costs a
    // binary search per folded task plus a copy of the file, not work per saved entry.
    const copyBase = (from: number, to: number) => {
      if (to <= from) return;
      this.base.copy(out, HEADER_BYTES + written * ENTRY_BYTES, from * ENTRY_BYTES, to * ENTRY_BYTES);
      written += to - from;
    };
    let b = 0;
    for (const { key, entry } of folded) {
      const at = this.lowerBound(key, b);
      copyBase(b, at);
      // A folded entry replaces the saved entry of the same task.
      b = at < baseCount && this.compareToBase(key, at) === 0 ? at + 1 : at;
      const start = HEADER_BYTES + written * ENTRY_BYTES;
      key.copy(out, start, 0, KEY_BYTES);
      out.writeDoubleLE(entry.assignOffset, start + KEY_BYTES);
      out.writeDoubleLE(entry.outcomeOffset, start + KEY_BYTES + 8);
      out.writeDoubleLE(entry.outcomeLine, start + KEY_BYTES + 16);
      written += 1;
    }
    copyBase(b, baseCount);

    const file = out.subarray(0, HEADER_BYTES + written * ENTRY_BYTES);
    MAGIC.copy(file, 0);
    file.writeUInt32LE(FORMAT_VERSION, 4);
    file.writeDoubleLE(this.cursor_.offset, 8);
    file.writeDoubleLE(this.cursor_.line, 16);
    file.writeDoubleLE(written, 24);
    fingerprint(this.paths.ledger, this.cursor_.offset).copy(file, 32);
    await withProjectLock(this.paths, async (lock) => {
      await lock.assertHeld();
      await writeFileAtomic(this.paths.taskIndex, file);
    });
    this.base = file.subarray(HEADER_BYTES);
    this.baseCursor = this.cursor_;
    this.tail.clear();
    this.keys.clear();
    this.mustSave = false;
  }
}

function readHeader(bytes: Buffer): { offset: number; line: number; fingerprint: Buffer } | null {
  if (bytes.length < HEADER_BYTES || !bytes.subarray(0, 4).equals(MAGIC) || bytes.readUInt32LE(4) !== FORMAT_VERSION) return null;
  const offset = bytes.readDoubleLE(8);
  const line = bytes.readDoubleLE(16);
  const count = bytes.readDoubleLE(24);
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(line) || line < 1 || !Number.isSafeInteger(count)) return null;
  if (bytes.length !== HEADER_BYTES + count * ENTRY_BYTES) return null;
  return { offset, line, fingerprint: bytes.subarray(32, 32 + KEY_BYTES) };
}

function ledgerSize(file: string): number {
  try {
    return statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`);
  }
}

/** SHA-256 (first 16 bytes) of the ledger's last FINGERPRINT_SPAN bytes before `offset`. */
function fingerprint(file: string, offset: number): Buffer {
  const span = Math.min(offset, FINGERPRINT_SPAN);
  const bytes = Buffer.alloc(span);
  if (span > 0) {
    const fd = openSync(file, 'r');
    try {
      let done = 0;
      while (done < span) {
        const n = readSync(fd, bytes, done, span - done, offset - span + done);
        if (n === 0) break;
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return createHash('sha256').update(bytes).digest().subarray(0, KEY_BYTES);
}
