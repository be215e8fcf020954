import { hash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { BernsteinError, logFingerprint, MalformedFileError, withProjectLock, writeFileAtomic, type AppendResult, type ProjectPaths } from '@bernstein/store';
import type { AssignmentRecord, LedgerRecord, TaskEntry } from '@bernstein/prompt-versions';
import { LEDGER_START, type FileLedger, type LedgerCursor } from './ledger-file.js';

/**
 * What routing and recording ask of the ledger: the latest assignment of a task, its outcome and its late outcome.
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
  append(records: readonly LedgerRecord[], options?: { durable?: boolean }): Promise<void>;
  get(taskId: string): Promise<TaskEntry | undefined>;
  /** Where the index stopped reading: the ledger's end as of the last catch-up. */
  readonly cursor: LedgerCursor;
  /** Torn lines skipped while catching up, named by file and line. */
  readonly warnings: string[];
}

/*
 * The task index on disk: derived from the ledger and rebuilt from it whenever it is missing,
 * stale or damaged, so a command that routes or records a few tasks reads a few ledger lines
 * instead of the whole ledger (which grows by two lines per task, forever).
 *
 * Log-structured, so that adding tasks costs what they add, not a rewrite of everything saved:
 * - segments `.sdd/cache/tasks-<seq>.seg`: immutable sorted runs. Each holds one 48-byte entry
 *   per task, sorted by key: the first 16 bytes of SHA-256(task id), the byte offset of the
 *   task's latest assignment line, the offset and line of its outcome (-1 and 0 if none), and
 *   the offset of its late outcome (-1 if none). A newer segment's entry for a task replaces an
 *   older one's (a re-route, a later outcome).
 *   A segment is written once, when the ledger folded since the last save passes
 *   SAVE_AFTER_BYTES, and merged with its older neighbour once it has a quarter of its entries
 *   (MERGE_RATIO: each run is over four times the next, so there are about log4(saves) segments,
 *   and the runs after the oldest hold at most a third of its entries).
 * - the manifest `.sdd/cache/tasks.idx`: which segments, in order, make the index, the CRC-32 of
 *   each one's entries, and the ledger offset and line they cover with a fingerprint of the
 *   ledger's last 4 KiB before it (so a replaced or truncated ledger is noticed). It is replaced
 *   atomically after the segments it names are on disk; segments it no longer names are deleted
 *   after it, so a crash at any point leaves either the old index or the new one, plus files the
 *   next save removes.
 * A key of 128 bits makes a collision between task ids as unlikely as one between version ids
 * (which are shorter), and every lookup still reads the lines it points at and checks the id.
 *
 * Little-endian. Manifest: magic "BTIX", format version (u32), ledger offset and line (f64, f64),
 * segment count (u32), reserved (u32), fingerprint (16 bytes), next segment number (f64), then per
 * segment its number (f64), entry count (f64), CRC-32 of its entries (u32), reserved (u32),
 * reserved (f64), and last the CRC-32 of everything before it (u32). Segment: magic "BTIS",
 * format version (u32), its number (f64), entry count (f64), CRC-32 of the entries (u32),
 * reserved (u32), then the entries.
 */
const MANIFEST_MAGIC = Buffer.from('BTIX', 'latin1');
const SEGMENT_MAGIC = Buffer.from('BTIS', 'latin1');
/** 3: entries gained the late outcome's offset (format 2 indexes are rebuilt from the ledger). */
const FORMAT_VERSION = 3;
const MANIFEST_HEADER_BYTES = 56;
const MANIFEST_SEGMENT_BYTES = 32;
const SEGMENT_HEADER_BYTES = 32;
const KEY_BYTES = 16;
const ENTRY_BYTES = 48;
/** Ledger folded past the saved index before a segment is written (about 5,000 tasks). */
const SAVE_AFTER_BYTES = 2 * 1024 * 1024;
/** A run is merged into the one before it once it has a quarter of its entries. */
const MERGE_RATIO = 4;
/** Hashed task ids kept between lookups and the next save (about 2 MB). */
const MAX_KEYS = 20_000;
/** Parsed assignments kept for lookups that follow soon after (about 3 MB). */
const RECENT_ASSIGNMENTS = 10_000;

interface TailEntry {
  assignOffset: number;
  outcomeOffset: number;
  outcomeLine: number;
  lateOffset: number;
}

/** A sorted run in memory: its file's bytes, its entries, and the first 32 bits of each key (for the search). */
interface Segment {
  seq: number;
  file: Buffer;
  entries: Buffer;
  heads: Uint32Array;
  crc: number;
}

export function taskKey(taskId: string): Buffer {
  // The one-shot hash: about half the cost of createHash().update().digest() for a short string.
  return hash('sha256', taskId, 'buffer').subarray(0, KEY_BYTES);
}

export class FileTaskIndex implements TaskIndex {
  /** The saved segments, oldest first, and the ledger prefix they cover. */
  private segments: Segment[] = [];
  private nextSeq = 1;
  private baseCursor: LedgerCursor = LEDGER_START;
  /** Tasks seen in the ledger after baseCursor (and saved tasks they changed), by task id. */
  private readonly tail = new Map<string, TailEntry>();
  /**
   * The latest assignments folded by this object, parsed: a long-lived process that routes a
   * task and records its outcome soon after reads no line back. Two generations, the older
   * dropped whole when the newer fills (dropping entries one by one from the front of a Map
   * makes every drop walk past the ones deleted before it).
   */
  private recent = new Map<string, { offset: number; record: AssignmentRecord }>();
  private olderRecent = new Map<string, { offset: number; record: AssignmentRecord }>();
  private cursor_: LedgerCursor = LEDGER_START;
  /** The inode of the ledger file the last catch-up read (a replaced ledger has another). */
  private ledgerIno = -1;
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

  /**
   * Catch-ups and appends one at a time: a reader's catch-up (outside any unit of work) that ran
   * while an append was between its write and its fold would fold the same records twice.
   */
  private turn: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.turn.then(fn, fn);
    this.turn = result.catch(() => undefined);
    return result;
  }

  catchUp(): Promise<void> {
    return this.exclusive(() => this.catchUpNow());
  }

  private async catchUpNow(): Promise<void> {
    // The same file, and nothing after where we stopped: nothing to read (a long-lived process
    // that is the only writer never reads the ledger back).
    const info = ledgerIdentity(this.paths.ledger);
    if (this.loaded && info !== null && info.ino === this.ledgerIno && info.size === this.cursor_.offset) return;
    // Lookups keep the ledger open; each catch-up starts a new round of them with a fresh handle,
    // so a long-lived process holds at most one, and never one of a ledger that was replaced.
    this.ledger.closeReader();
    if (!this.loaded) this.load();
    const { cursor, warnings } = await this.ledger.read(this.cursor_, (record, line, offset) => this.fold(record, line, offset));
    this.cursor_ = cursor;
    this.ledgerIno = info?.ino ?? -1;
    for (const warning of warnings) if (!this.warnings.includes(warning)) this.warnings.push(warning);
  }

  append(records: readonly LedgerRecord[], options: { durable?: boolean } = {}): Promise<void> {
    return this.exclusive(async () => {
      const before = this.cursor_;
      const written = await this.ledger.appendAt(records, options);
      // Under the lock and caught up, the records land right where this index stopped reading:
      // fold them from memory instead of reading them back. Anything else (a torn tail fenced off,
      // a writer that did not catch up first) is read from the ledger like any other change.
      if (written && this.landedAtCursor(written, before, records.length)) {
        records.forEach((record, i) => this.fold(record, before.line + i, written.recordOffsets[i]!));
        this.cursor_ = { offset: written.endOffset, line: before.line + records.length };
      } else {
        await this.catchUpNow();
      }
      if (this.mustSave || this.cursor_.offset - this.baseCursor.offset >= this.saveAfterBytes) await this.save();
    });
  }

  private landedAtCursor(written: AppendResult, before: LedgerCursor, count: number): boolean {
    return this.loaded && !written.fencedTornTail && written.startOffset === before.offset && written.recordOffsets.length === count;
  }

  async get(taskId: string): Promise<TaskEntry | undefined> {
    const found = this.lookup(taskId);
    if (found === undefined) return undefined;
    const entry = this.resolve(taskId, found);
    if (entry !== null) return entry;
    // The index points at a line that is not this task's: it does not describe this ledger.
    // Rebuild it from the ledger (the source of truth) and answer from that.
    await this.exclusive(async () => {
      this.reset();
      await this.catchUpNow();
    });
    const rebuilt = this.lookup(taskId);
    if (rebuilt === undefined) return undefined;
    const entry2 = this.resolve(taskId, rebuilt);
    if (entry2 === null) throw new MalformedFileError(this.ledger.name, `the lines of task "${taskId}" changed while they were being read (was the ledger edited by hand?)`);
    return entry2;
  }

  private lookup(taskId: string): TailEntry | undefined {
    const inTail = this.tail.get(taskId);
    if (inTail) return inTail;
    const saved = this.findSaved(this.keyOf(taskId));
    if (saved) {
      // Recording looks a task up, then folds its outcome: that fold needs the same entry.
      if (this.found.size >= MAX_KEYS) this.found.clear();
      this.found.set(taskId, saved);
    }
    return saved;
  }

  /** Saved entries looked up since the last save (fresh copies; the segments do not change until then). */
  private readonly found = new Map<string, TailEntry>();

  /** Read the lines an entry points at; null if they are not this task's. */
  private resolve(taskId: string, entry: TailEntry): TaskEntry | null {
    const cached = this.recent.get(taskId) ?? this.olderRecent.get(taskId);
    const assignment = cached?.offset === entry.assignOffset ? cached.record : this.ledger.recordAt(entry.assignOffset);
    if (!assignment || assignment.type !== 'assign' || assignment.taskId !== taskId) return null;
    if (entry.outcomeOffset < 0) return { assignment, outcome: null };
    const outcome = this.ledger.recordAt(entry.outcomeOffset);
    if (!outcome || outcome.type !== 'outcome' || outcome.taskId !== taskId) return null;
    if (entry.lateOffset < 0) return { assignment, outcome, outcomeLine: entry.outcomeLine };
    const late = this.ledger.recordAt(entry.lateOffset);
    if (!late || late.type !== 'late' || late.taskId !== taskId) return null;
    return { assignment, outcome, outcomeLine: entry.outcomeLine, late };
  }

  private fold(record: LedgerRecord, line: number, offset: number): void {
    if (record.type === 'assign') {
      this.tail.set(record.taskId, { assignOffset: offset, outcomeOffset: -1, outcomeLine: 0, lateOffset: -1 });
      this.recent.set(record.taskId, { offset, record });
      if (this.recent.size >= RECENT_ASSIGNMENTS / 2) {
        this.olderRecent = this.recent;
        this.recent = new Map();
      }
      return;
    }
    let entry = this.tail.get(record.taskId);
    if (!entry) {
      entry = this.found.get(record.taskId) ?? this.findSaved(this.keyOf(record.taskId));
      if (!entry) return; // an outcome of a task never routed: not ours to index
      this.tail.set(record.taskId, entry);
    }
    if (record.type === 'late') {
      // Recording writes a late outcome only after a timeout, and one at most.
      if (entry.outcomeOffset < 0 || entry.lateOffset >= 0) {
        throw new MalformedFileError(this.ledger.name, `a late outcome for task "${record.taskId}" that ${entry.outcomeOffset < 0 ? 'has not timed out' : 'already has one'}`, line);
      }
      entry.lateOffset = offset;
      return;
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

  /** The saved entry of `key`, from the newest segment that has one. */
  private findSaved(key: Buffer): TailEntry | undefined {
    const head = key.readUInt32BE(0);
    for (let s = this.segments.length - 1; s >= 0; s--) {
      const segment = this.segments[s]!;
      const at = findKey(segment, key, head);
      if (at >= 0) return entryAt(segment.entries, at);
    }
    return undefined;
  }

  private reset(): void {
    this.segments = [];
    this.baseCursor = LEDGER_START;
    this.cursor_ = LEDGER_START;
    this.tail.clear();
    this.keys.clear();
    this.found.clear();
    this.recent.clear();
    this.olderRecent.clear();
    this.loaded = true;
    this.mustSave = true;
    // New segments never take the name of one on disk (which an old manifest may still name).
    this.nextSeq = Math.max(this.nextSeq, highestSegmentOnDisk(this.paths) + 1);
  }

  /** Load the saved index if it describes this ledger; otherwise start over from the ledger. */
  private load(): void {
    this.loaded = true;
    const manifest = readManifest(this.paths.taskIndex);
    if (!manifest || manifest.offset > ledgerSize(this.paths.ledger) || !logFingerprint(this.paths.ledger, manifest.offset).equals(manifest.fingerprint)) {
      this.reset();
      return;
    }
    const segments: Segment[] = [];
    for (const listed of manifest.segments) {
      const segment = readSegment(segmentFile(this.paths, listed.seq), listed);
      if (!segment) {
        // A segment missing, torn or damaged: the index no longer describes the ledger.
        this.reset();
        return;
      }
      segments.push(segment);
    }
    this.segments = segments;
    this.nextSeq = manifest.nextSeq;
    this.baseCursor = { offset: manifest.offset, line: manifest.line };
    this.cursor_ = this.baseCursor;
  }

  /** Write the folded tail as a new segment, merge segments of equal size, replace the manifest. */
  private async save(): Promise<void> {
    const folded = [...this.tail].map(([taskId, entry]) => {
      const key = this.keyOf(taskId);
      return { key, head: key.readUInt32BE(0), entry };
    });
    // The first 32 bits settle almost every comparison without a call into Buffer#compare.
    folded.sort((a, b) => a.head - b.head || a.key.compare(b.key));
    const file = Buffer.alloc(SEGMENT_HEADER_BYTES + folded.length * ENTRY_BYTES);
    const entries = file.subarray(SEGMENT_HEADER_BYTES);
    folded.forEach(({ key, entry }, i) => writeEntry(entries, i, key, entry));

    const kept = [...this.segments];
    const created: Segment[] = [];
    let newest = entries.length > 0 ? makeSegment(this.nextSeq++, file) : undefined;
    if (newest) {
      created.push(newest);
      // Merge while the newest run is at least a quarter of the one before it: each run is over
      // four times the next, so the runs after the oldest hold at most a third of its size in
      // entries (entries that replace older ones are the index's only waste of memory).
      while (kept.length > 0 && newest.entries.length * MERGE_RATIO >= kept[kept.length - 1]!.entries.length) {
        const older = kept.pop()!;
        newest = makeSegment(this.nextSeq++, mergeSegments(older, newest));
        created.push(newest);
      }
      kept.push(newest);
    }

    const fingerprint = logFingerprint(this.paths.ledger, this.cursor_.offset);
    await withProjectLock(this.paths, async (lock) => {
      await lock.assertHeld();
      // Only the final run of a merge chain is named by the manifest; the steps before it are not written.
      // No fsync: a segment or manifest a power failure leaves short or zeroed fails its checks and
      // the index is rebuilt from the ledger (which is synced).
      for (const segment of kept) if (created.includes(segment)) await writeFileAtomic(segmentFile(this.paths, segment.seq), segment.file, { durable: false });
      await writeFileAtomic(this.paths.taskIndex, manifestBytes(this.cursor_, fingerprint, this.nextSeq, kept), { durable: false });
      removeUnlistedSegments(this.paths, new Set(kept.map((s) => s.seq)));
    });
    this.segments = kept;
    this.baseCursor = this.cursor_;
    this.tail.clear();
    this.keys.clear();
    this.found.clear();
    this.mustSave = false;
  }
}

/** A segment of a file's bytes (header space first), its header filled in. */
function makeSegment(seq: number, file: Buffer): Segment {
  const entries = file.subarray(SEGMENT_HEADER_BYTES);
  const count = entries.length / ENTRY_BYTES;
  const heads = new Uint32Array(count);
  for (let i = 0; i < count; i++) heads[i] = entries.readUInt32BE(i * ENTRY_BYTES);
  const crc = crc32(entries);
  SEGMENT_MAGIC.copy(file, 0);
  file.writeUInt32LE(FORMAT_VERSION, 4);
  file.writeDoubleLE(seq, 8);
  file.writeDoubleLE(count, 16);
  file.writeUInt32LE(crc, 24);
  file.writeUInt32LE(0, 28);
  return { seq, file, entries, heads, crc };
}

/** Position of `key` in a segment, or -1: a binary search on the first 32 bits, then the rest. */
function findKey(segment: Segment, key: Buffer, head: number): number {
  const heads = segment.heads;
  let lo = 0;
  let hi = heads.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (heads[mid]! < head) lo = mid + 1;
    else hi = mid;
  }
  // Compared in 32-bit words: a Buffer#compare with offsets costs more than the whole search.
  const entries = segment.entries;
  for (let at = lo; at < heads.length && heads[at] === head; at++) {
    const start = at * ENTRY_BYTES;
    if (entries.readUInt32BE(start + 4) === key.readUInt32BE(4) && entries.readUInt32BE(start + 8) === key.readUInt32BE(8) && entries.readUInt32BE(start + 12) === key.readUInt32BE(12)) return at;
  }
  return -1;
}

function entryAt(entries: Buffer, at: number): TailEntry {
  const start = at * ENTRY_BYTES + KEY_BYTES;
  return {
    assignOffset: entries.readDoubleLE(start),
    outcomeOffset: entries.readDoubleLE(start + 8),
    outcomeLine: entries.readDoubleLE(start + 16),
    lateOffset: entries.readDoubleLE(start + 24),
  };
}

function writeEntry(out: Buffer, at: number, key: Buffer, entry: TailEntry): void {
  const start = at * ENTRY_BYTES;
  out.set(key.length === KEY_BYTES ? key : key.subarray(0, KEY_BYTES), start);
  out.writeDoubleLE(entry.assignOffset, start + KEY_BYTES);
  out.writeDoubleLE(entry.outcomeOffset, start + KEY_BYTES + 8);
  out.writeDoubleLE(entry.outcomeLine, start + KEY_BYTES + 16);
  out.writeDoubleLE(entry.lateOffset, start + KEY_BYTES + 24);
}

/** Order of two entries' keys after their first 32 bits (the heads), as a sign. */
function compareKeyTails(a: Buffer, at: number, b: Buffer, bt: number): number {
  for (let word = 4; word < KEY_BYTES; word += 4) {
    const order = a.readUInt32BE(at + word) - b.readUInt32BE(bt + word);
    if (order !== 0) return order;
  }
  return 0;
}

const ENTRY_WORDS = ENTRY_BYTES / 4;

/** The bytes of a buffer as 32-bit words (a view when aligned, else a copy). */
function words(bytes: Buffer): Uint32Array {
  if (bytes.byteOffset % 4 === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const copy = new Uint32Array(bytes.length / 4);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/**
 * Merge two sorted runs into a segment file's bytes; on equal keys the newer run's entry wins.
 * Merged runs are within a factor of four of each other, so this is a linear pass: keys compared by
 * their heads (a typed array), entries moved as 32-bit words. A first pass counts the entries
 * the newer run replaces, so the output is allocated at its size (these buffers are the bulk of
 * a large index's memory).
 */
function mergeSegments(older: Segment, newer: Segment): Buffer {
  const heads = [older.heads, newer.heads] as const;
  const order = (a: number, b: number) => heads[0][a]! - heads[1][b]! || compareKeyTails(older.entries, a * ENTRY_BYTES, newer.entries, b * ENTRY_BYTES);
  let replaced = 0;
  for (let a = 0, b = 0; a < heads[0].length && b < heads[1].length; ) {
    const o = order(a, b);
    if (o < 0) a++;
    else {
      b++;
      if (o === 0) {
        a++;
        replaced++;
      }
    }
  }
  const out = Buffer.alloc(SEGMENT_HEADER_BYTES + older.entries.length + newer.entries.length - replaced * ENTRY_BYTES);
  const into = words(out.subarray(SEGMENT_HEADER_BYTES));
  const from = [words(older.entries), words(newer.entries)] as const;
  let o = 0;
  const move = (side: 0 | 1, at: number) => {
    const source = from[side];
    for (let w = 0; w < ENTRY_WORDS; w++) into[o * ENTRY_WORDS + w] = source[at * ENTRY_WORDS + w]!;
    o++;
  };
  let a = 0;
  let b = 0;
  while (a < heads[0].length && b < heads[1].length) {
    const sign = order(a, b);
    if (sign < 0) move(0, a++);
    else {
      move(1, b++);
      if (sign === 0) a++;
    }
  }
  while (a < heads[0].length) move(0, a++);
  while (b < heads[1].length) move(1, b++);
  return out;
}

export function segmentFile(paths: ProjectPaths, seq: number): string {
  return join(dirname(paths.taskIndex), `tasks-${String(seq).padStart(8, '0')}.seg`);
}

const SEGMENT_NAME = /^tasks-(\d{8,})\.seg$/;

function segmentsOnDisk(paths: ProjectPaths): Array<{ name: string; seq: number }> {
  let names: string[];
  try {
    names = readdirSync(dirname(paths.taskIndex));
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const match = SEGMENT_NAME.exec(name);
    return match ? [{ name, seq: Number(match[1]) }] : [];
  });
}

function highestSegmentOnDisk(paths: ProjectPaths): number {
  return segmentsOnDisk(paths).reduce((max, s) => Math.max(max, s.seq), 0);
}

/** Delete segment files the manifest does not name (merged away, or left by a crash). */
function removeUnlistedSegments(paths: ProjectPaths, listed: ReadonlySet<number>): void {
  for (const { name, seq } of segmentsOnDisk(paths)) if (!listed.has(seq)) rmSync(join(dirname(paths.taskIndex), name), { force: true });
}

interface ListedSegment {
  seq: number;
  count: number;
  crc: number;
}

/** A segment as the manifest describes it, or null if it is missing, torn or damaged. */
function readSegment(file: string, listed: ListedSegment): Segment | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`);
  }
  if (bytes.length !== SEGMENT_HEADER_BYTES + listed.count * ENTRY_BYTES || !bytes.subarray(0, 4).equals(SEGMENT_MAGIC) || bytes.readUInt32LE(4) !== FORMAT_VERSION) return null;
  if (bytes.readDoubleLE(8) !== listed.seq || bytes.readDoubleLE(16) !== listed.count || bytes.readUInt32LE(24) !== listed.crc) return null;
  const segment = makeSegment(listed.seq, bytes);
  return segment.crc === listed.crc ? segment : null;
}

function manifestBytes(cursor: LedgerCursor, fingerprint: Buffer, nextSeq: number, segments: readonly Segment[]): Buffer {
  const bytes = Buffer.alloc(MANIFEST_HEADER_BYTES + segments.length * MANIFEST_SEGMENT_BYTES + 4);
  MANIFEST_MAGIC.copy(bytes, 0);
  bytes.writeUInt32LE(FORMAT_VERSION, 4);
  bytes.writeDoubleLE(cursor.offset, 8);
  bytes.writeDoubleLE(cursor.line, 16);
  bytes.writeUInt32LE(segments.length, 24);
  fingerprint.copy(bytes, 32, 0, KEY_BYTES);
  bytes.writeDoubleLE(nextSeq, 48);
  segments.forEach((segment, i) => {
    const start = MANIFEST_HEADER_BYTES + i * MANIFEST_SEGMENT_BYTES;
    bytes.writeDoubleLE(segment.seq, start);
    bytes.writeDoubleLE(segment.entries.length / ENTRY_BYTES, start + 8);
    bytes.writeUInt32LE(segment.crc, start + 16);
  });
  bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
  return bytes;
}

interface Manifest {
  offset: number;
  line: number;
  fingerprint: Buffer;
  nextSeq: number;
  segments: ListedSegment[];
}

/** The manifest, or null if it is missing, of another format, or damaged. */
function readManifest(file: string): Manifest | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`);
  }
  if (bytes.length < MANIFEST_HEADER_BYTES + 4 || !bytes.subarray(0, 4).equals(MANIFEST_MAGIC) || bytes.readUInt32LE(4) !== FORMAT_VERSION) return null;
  const count = bytes.readUInt32LE(24);
  if (bytes.length !== MANIFEST_HEADER_BYTES + count * MANIFEST_SEGMENT_BYTES + 4) return null;
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== bytes.readUInt32LE(bytes.length - 4)) return null;
  const offset = bytes.readDoubleLE(8);
  const line = bytes.readDoubleLE(16);
  const nextSeq = bytes.readDoubleLE(48);
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(line) || line < 1 || !Number.isSafeInteger(nextSeq)) return null;
  const segments: ListedSegment[] = [];
  for (let i = 0; i < count; i++) {
    const start = MANIFEST_HEADER_BYTES + i * MANIFEST_SEGMENT_BYTES;
    const seq = bytes.readDoubleLE(start);
    const entries = bytes.readDoubleLE(start + 8);
    if (!Number.isSafeInteger(seq) || seq < 1 || seq >= nextSeq || !Number.isSafeInteger(entries) || entries < 1) return null;
    segments.push({ seq, count: entries, crc: bytes.readUInt32LE(start + 16) });
  }
  return { offset, line, fingerprint: bytes.subarray(32, 32 + KEY_BYTES), nextSeq, segments };
}

/** The ledger's inode and size, or null if there is no ledger. */
export function ledgerIdentity(file: string): { ino: number; size: number } | null {
  try {
    const info = statSync(file);
    return { ino: info.ino, size: info.size };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`, { file }, { cause: error });
  }
}

function ledgerSize(file: string): number {
  try {
    return statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`);
  }
}

/** For tests: the files of an index (the manifest first, then its segments). */
export function taskIndexFiles(paths: ProjectPaths): string[] {
  const manifest = readManifest(paths.taskIndex);
  return [paths.taskIndex, ...(manifest?.segments ?? []).map((s) => segmentFile(paths, s.seq))];
}
