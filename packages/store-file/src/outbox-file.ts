import { appendRecords, BernsteinError, readRecords, type LogSpec, type ProjectPaths } from '@bernstein/store';
import { AlertAttemptSchema, OutboxEntrySchema, type AlertAttempt, type OutboxEntry } from '@bernstein/rollout';
import { z } from 'zod';
import { fileSignature } from './file-memo.js';

/**
 * `.sdd/outbox.jsonl`: the alert outbox as an append-only log. An `alert` line is written with
 * its transition; `claim` and `complete` lines follow as deliveries run. The current entries are
 * the fold of the lines, so a crash at any point leaves a readable outbox.
 */
const OutboxLineSchema = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('alert'), entry: OutboxEntrySchema }),
  z.object({ v: z.literal(1), type: z.literal('claim'), id: z.string(), holder: z.string(), until: z.string() }),
  z.object({
    v: z.literal(1),
    type: z.literal('complete'),
    id: z.string(),
    holder: z.string(),
    attempts: z.array(AlertAttemptSchema),
    status: OutboxEntrySchema.shape.status,
  }),
]);
type OutboxLine = z.infer<typeof OutboxLineSchema>;

const outboxLog: LogSpec<typeof OutboxLineSchema> = { label: 'alert outbox', currentVersion: 1, schema: OutboxLineSchema };

export class FileOutbox {
  /** The fold of the file as of its signature: alert delivery looks at the outbox after every commit, and it rarely changes. */
  private memo: { signature: string; entries: Map<string, OutboxEntry>; warnings: string[] } | undefined;

  constructor(private readonly paths: ProjectPaths) {}

  get file(): string {
    return this.paths.outbox;
  }

  async entries(): Promise<{ entries: Map<string, OutboxEntry>; warnings: string[] }> {
    const signature = fileSignature(this.paths.outbox);
    if (this.memo?.signature !== signature) {
      const entries = new Map<string, OutboxEntry>();
      const { warnings } = await readRecords(this.paths.outbox, outboxLog, (line) => apply(entries, line));
      this.memo = { signature, entries, warnings };
    }
    // Copies: callers build on the entries they get.
    return { entries: structuredClone(this.memo.entries), warnings: [...this.memo.warnings] };
  }

  /** Append lines (the caller holds the project lock and has checked them against `entries()`). */
  async append(lines: readonly OutboxLine[]): Promise<void> {
    if (lines.length > 0) await appendRecords(this.paths.outbox, lines);
  }

  static alertLine(entry: OutboxEntry): OutboxLine {
    return { v: 1, type: 'alert', entry };
  }

  static claimLine(id: string, holder: string, until: string): OutboxLine {
    return { v: 1, type: 'claim', id, holder, until };
  }

  static completeLine(id: string, holder: string, attempts: readonly AlertAttempt[], status: OutboxEntry['status']): OutboxLine {
    return { v: 1, type: 'complete', id, holder, attempts: [...attempts], status };
  }
}

function apply(entries: Map<string, OutboxEntry>, line: OutboxLine): void {
  if (line.type === 'alert') {
    // The same alert written twice (crash repair racing a retry) is one entry.
    if (!entries.has(line.entry.id)) entries.set(line.entry.id, line.entry);
    return;
  }
  const entry = entries.get(line.id);
  if (!entry) throw new BernsteinError('MALFORMED_FILE', `alert outbox: a ${line.type} line for unknown alert ${line.id}`);
  if (line.type === 'claim') {
    entry.claim = { holder: line.holder, until: line.until };
    return;
  }
  entry.attempts = [...entry.attempts, ...line.attempts];
  entry.status = line.status;
  entry.claim = null;
}
