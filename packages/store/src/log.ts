import { closeSync, openSync, readSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { BernsteinError, MalformedFileError } from './errors.js';
import { assertLocksHeld } from './lock.js';
import { formatZodIssues } from './zod-format.js';

/**
 * Append-only JSONL logs (the ledger, the audit log).
 *
 * Every record carries `v`, its schema version. Appends happen under the project lock as one
 * write() of whole lines ending in "\n", so a complete append always leaves the file ending in a
 * newline. A crash mid-append leaves an unterminated fragment at the tail:
 * - readers skip an unterminated last line with a warning (it was never acknowledged);
 * - the next appender terminates the fragment and writes a marker line `{"$tornTail":...}`
 *   after it, so the fragment is skipped (with a warning) forever after instead of turning into
 *   "corruption in the middle of the file". Nothing is deleted or rewritten.
 * Any other unparseable or invalid line is a MalformedFileError naming the file and line.
 */
export interface LogSpec<Schema extends z.ZodType> {
  label: string;
  currentVersion: number;
  schema: Schema;
  /** migrations[v] upgrades a record of version v to v + 1. */
  migrations?: Record<number, (record: Record<string, unknown>) => Record<string, unknown>>;
}

export const TORN_TAIL_KEY = '$tornTail';

export interface AppendResult {
  /** Byte offset where the appended records start. */
  startOffset: number;
  /** Byte offset after the last appended record (the new file size). */
  endOffset: number;
  /** A torn tail from an earlier crash was found and fenced off with a marker line. */
  fencedTornTail: boolean;
}

/** Append records as JSON lines. Call under the project lock. `durable` fsyncs before returning. */
export async function appendRecords(file: string, records: readonly unknown[], options: { durable?: boolean } = {}): Promise<AppendResult> {
  await mkdir(dirname(file), { recursive: true });
  const handle = await open(file, 'a+');
  try {
    const { size } = await handle.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        prefix = `\n${JSON.stringify({ [TORN_TAIL_KEY]: { at: new Date().toISOString(), offset: size } })}\n`;
      }
    }
    if (records.length === 0 && !prefix) return { startOffset: size, endOffset: size, fencedTornTail: false };
    let body = prefix;
    for (const record of records) body += `${JSON.stringify(record)}\n`;
    const bytes = Buffer.from(body, 'utf8');
    await assertLocksHeld();
    await handle.write(bytes, 0, bytes.length, null);
    if (options.durable !== false) await handle.sync();
    return { startOffset: size + Buffer.byteLength(prefix), endOffset: size + bytes.length, fencedTornTail: prefix !== '' };
  } finally {
    await handle.close();
  }
}

export interface ReadLogOptions {
  /** Start at this byte offset (a line boundary returned by an earlier read). */
  fromOffset?: number;
  /** The line number of the line at fromOffset, for error messages. */
  fromLine?: number;
  /** Bytes per read; small values are for tests. */
  chunkBytes?: number;
}

export interface ReadLogResult {
  /** Offset just after the last complete, accepted line: the place to resume from. */
  endOffset: number;
  /** Line number of the line at endOffset. */
  nextLine: number;
  warnings: string[];
}

/**
 * Stream the records of a log to `onRecord` with bounded memory. A missing file is an empty log.
 * `offset` is the byte offset where the record's line starts (see readRecordAt).
 */
export async function readRecords<Schema extends z.ZodType>(
  file: string,
  spec: LogSpec<Schema>,
  onRecord: (record: z.output<Schema>, line: number, offset: number) => void,
  options: ReadLogOptions = {},
): Promise<ReadLogResult> {
  const warnings: string[] = [];
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { endOffset: options.fromOffset ?? 0, nextLine: options.fromLine ?? 1, warnings };
    }
    throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`, { file }, { cause: error });
  }
  try {
    const chunkBytes = options.chunkBytes ?? 8 * 1024 * 1024;
    let position = options.fromOffset ?? 0;
    let lineNo = options.fromLine ?? 1;
    let consumedOffset = position;
    let carry: Buffer = Buffer.alloc(0);
    // One-line lookahead: a line is only accepted once we know the next line is not a torn-tail
    // marker that disowns it.
    let pending: { line: number; startOffset: number; endOffset: number; record?: z.output<Schema>; error?: string } | undefined;
    let acceptedOffset = position;
    let acceptedLine = lineNo;

    const flushPending = () => {
      if (!pending) return;
      if (pending.error !== undefined) throw new MalformedFileError(file, pending.error, pending.line);
      onRecord(pending.record as z.output<Schema>, pending.line, pending.startOffset);
      acceptedOffset = pending.endOffset;
      acceptedLine = pending.line + 1;
      pending = undefined;
    };

    const handleLine = (text: string, startOffset: number, endOffset: number) => {
      const line = lineNo++;
      if (text.trim() === '') {
        flushPending();
        acceptedOffset = endOffset;
        acceptedLine = line + 1;
        return;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (error) {
        flushPending();
        pending = { line, startOffset, endOffset, error: `not valid JSON (${(error as Error).message})` };
        return;
      }
      if (raw && typeof raw === 'object' && TORN_TAIL_KEY in raw) {
        if (pending) warnings.push(`${file}:${pending.line}: skipped a record torn by an earlier crash`);
        pending = undefined;
        acceptedOffset = endOffset;
        acceptedLine = line + 1;
        return;
      }
      flushPending();
      const checked = checkRecord(spec, raw);
      pending = typeof checked === 'string' ? { line, startOffset, endOffset, error: checked } : { line, startOffset, endOffset, record: checked.record };
    };

    // Most reads are short tails of a long log: size the buffer to what is there to read.
    const { size } = await handle.stat();
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, size - position)));
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const chunk = carry.length > 0 ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
      let start = 0;
      for (;;) {
        const newline = chunk.indexOf(0x0a, start);
        if (newline === -1) break;
        const lineStart = consumedOffset;
        consumedOffset += newline + 1 - start;
        handleLine(chunk.toString('utf8', start, newline), lineStart, consumedOffset);
        start = newline + 1;
      }
      carry = Buffer.from(chunk.subarray(start));
    }
    flushPending();
    if (carry.length > 0) {
      warnings.push(`${file}:${lineNo}: skipped an unterminated last line (a write interrupted by a crash)`);
    }
    return { endOffset: acceptedOffset, nextLine: acceptedLine, warnings };
  } finally {
    await handle.close();
  }
}

/** Lines longer than this are not records this toolkit wrote: readRecordAt refuses them. */
const MAX_RECORD_AT_BYTES = 16 * 1024 * 1024;

/**
 * Read the one record whose line starts at byte `offset` (as reported by readRecords), checked
 * against the schema like any other. Synchronous: it is one or two small reads, made by lookups
 * in the middle of a command. Returns null when there is no complete, valid record there (the
 * offset is not a line start of this log, or the log was replaced): callers treat their pointer
 * as stale. `openFd`: a descriptor of `file` the caller keeps open across many reads (opening
 * the file costs more than reading a line).
 */
export function readRecordAt<Schema extends z.ZodType>(file: string, spec: LogSpec<Schema>, offset: number, openFd?: number): z.output<Schema> | null {
  let fd: number;
  if (openFd !== undefined) fd = openFd;
  else {
    try {
      fd = openSync(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`, { file }, { cause: error });
    }
  }
  try {
    if (offset > 0) {
      // A record starts right after a newline.
      const before = Buffer.alloc(1);
      if (readSync(fd, before, 0, 1, offset - 1) !== 1 || before[0] !== 0x0a) return null;
    }
    let buffer = Buffer.allocUnsafe(4096);
    let filled = 0;
    for (;;) {
      const bytesRead = readSync(fd, buffer, filled, buffer.length - filled, offset + filled);
      if (bytesRead === 0) return null;
      const newline = buffer.indexOf(0x0a, filled);
      filled += bytesRead;
      if (newline !== -1 && newline < filled) {
        let raw: unknown;
        try {
          raw = JSON.parse(buffer.toString('utf8', 0, newline));
        } catch {
          return null;
        }
        const checked = checkRecord(spec, raw);
        return typeof checked === 'string' ? null : checked.record;
      }
      if (filled === buffer.length) {
        if (buffer.length >= MAX_RECORD_AT_BYTES) return null;
        const bigger = Buffer.allocUnsafe(buffer.length * 4);
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
    }
  } finally {
    if (openFd === undefined) closeSync(fd);
  }
}

function checkRecord<Schema extends z.ZodType>(spec: LogSpec<Schema>, raw: unknown): { record: z.output<Schema> } | string {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return `expected a JSON object (${spec.label} record)`;
  let record = raw as Record<string, unknown>;
  const version = record.v;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return `missing or invalid "v" (${spec.label} record)`;
  if (version > spec.currentVersion) {
    return `record version ${version} is newer than this tool understands (${spec.currentVersion}); upgrade @bernstein packages`;
  }
  for (let v = version; v < spec.currentVersion; v++) {
    const migrate = spec.migrations?.[v];
    if (!migrate) return `no migration for ${spec.label} record version ${v}`;
    record = { ...migrate(record), v: v + 1 };
  }
  const result = spec.schema.safeParse(record);
  if (!result.success) return `invalid ${spec.label} record: ${formatZodIssues(result.error.issues)}`;
  return { record: result.data };
}
