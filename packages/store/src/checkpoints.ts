import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from './atomic.js';
import { logFingerprint } from './log.js';

/**
 * Checkpoints of a fold over an append-only log: the fold's state as it stood at a line
 * boundary of the log, so that rebuilding the state (its cache deleted, damaged or far behind)
 * reads only the log after the newest checkpoint instead of the whole log. Nothing here knows
 * what the fold computes: the state is any value its schema describes.
 *
 * One file per checkpoint, `<dir>/<name>-<offset>.json`: `{schemaVersion, fold, cursor,
 * logFingerprint, state}`, written atomically once the log has grown `everyBytes` past the newest
 * one; the newest `keep` are kept. Checkpoints are derived data: one that does not parse, was
 * made by another version of the fold (its schema refuses the state), lies beyond the end of the
 * log or does not match the log's bytes before its offset (the log was replaced) is passed over.
 */
export interface LogCursor {
  offset: number;
  line: number;
}

export interface Checkpoint<State> {
  cursor: LogCursor;
  state: State;
}

export interface CheckpointSpec<Schema extends z.ZodType> {
  /** Names the files and is recorded in them. */
  name: string;
  /** The fold's state, as saved. */
  schema: Schema;
  /** Log bytes between checkpoints (default 8 MiB: at most that much log to fold on a rebuild). */
  everyBytes?: number;
  /** Checkpoints kept (default 2: the newest, and one in case it is damaged). */
  keep?: number;
}

export interface LogCheckpoints<State> {
  /** The newest usable checkpoint with `after < offset <= upTo`, or null. */
  latest(dir: string, logFile: string, range: { after: number; upTo: number }): Promise<Checkpoint<State> | null>;
  /**
   * Save `checkpoint` if the newest one is `everyBytes` or more behind it, and drop old ones.
   * Call under the project lock, with a state that is exactly the fold of the log up to its cursor.
   */
  saveIfDue(dir: string, logFile: string, checkpoint: Checkpoint<State>, options?: { everyBytes?: number }): Promise<boolean>;
}

const DEFAULT_EVERY_BYTES = 8 * 1024 * 1024;
const OFFSET_DIGITS = 15;

export function defineLogCheckpoints<Schema extends z.ZodType>(spec: CheckpointSpec<Schema>): LogCheckpoints<z.output<Schema>> {
  const fileSchema = z.object({
    schemaVersion: z.literal(1),
    fold: z.literal(spec.name),
    cursor: z.object({ offset: z.number().int().min(0), line: z.number().int().min(1) }),
    logFingerprint: z.string().regex(/^[0-9a-f]{32}$/),
    state: spec.schema,
  });
  if (!/^[a-z][a-z0-9-]*$/.test(spec.name)) throw new Error(`checkpoint name "${spec.name}": use lowercase letters, digits and dashes`);
  const pattern = new RegExp(`^${spec.name}-(\\d{${OFFSET_DIGITS}})\\.json$`);
  const fileOf = (dir: string, offset: number) => join(dir, `${spec.name}-${String(offset).padStart(OFFSET_DIGITS, '0')}.json`);

  /** The offsets of the checkpoint files in `dir`, newest first. */
  const listed = async (dir: string): Promise<number[]> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names
      .map((name) => pattern.exec(name)?.[1])
      .filter((offset): offset is string => offset !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
  };

  const read = async (dir: string, logFile: string, offset: number): Promise<Checkpoint<z.output<Schema>> | null> => {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(fileOf(dir, offset), 'utf8'));
    } catch {
      return null;
    }
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success || parsed.data.cursor.offset !== offset) return null;
    if (logFingerprint(logFile, offset).toString('hex') !== parsed.data.logFingerprint) return null;
    return { cursor: parsed.data.cursor, state: (parsed.data as { state: z.output<Schema> }).state };
  };

  return {
    async latest(dir, logFile, { after, upTo }) {
      for (const offset of await listed(dir)) {
        if (offset > upTo) continue;
        if (offset <= after) return null;
        const checkpoint = await read(dir, logFile, offset);
        if (checkpoint) return checkpoint;
      }
      return null;
    },

    async saveIfDue(dir, logFile, checkpoint, options = {}) {
      const everyBytes = options.everyBytes ?? spec.everyBytes ?? DEFAULT_EVERY_BYTES;
      const offsets = await listed(dir);
      // One past the log's end cannot describe it (the log only grows): left by a replaced log.
      for (const offset of offsets.filter((o) => o > checkpoint.cursor.offset)) await rm(fileOf(dir, offset), { force: true });
      const older = offsets.filter((o) => o <= checkpoint.cursor.offset);
      if (checkpoint.cursor.offset - (older[0] ?? 0) < everyBytes || checkpoint.cursor.offset === 0) return false;
      // No fsync: a checkpoint lost or torn by a power failure does not parse and is passed over.
      await writeJsonAtomic(
        fileOf(dir, checkpoint.cursor.offset),
        { schemaVersion: 1, fold: spec.name, cursor: checkpoint.cursor, logFingerprint: logFingerprint(logFile, checkpoint.cursor.offset).toString('hex'), state: checkpoint.state },
        { durable: false },
      );
      for (const offset of older.slice(Math.max(0, (spec.keep ?? 2) - 1))) await rm(fileOf(dir, offset), { force: true });
      return true;
    },
  };
}
