import { appendRecords, readRecords, type LogSpec, type ProjectPaths } from '@bernstein/store';
import { AuditEventSchema, AUDIT_EVENT_VERSION, type AuditEvent } from '@bernstein/canary-router';
import type { LedgerCursor } from './ledger-file.js';

/** `.sdd/audit.jsonl`'s record spec, for @bernstein/store's appendRecords / readRecords. */
export const auditLogSpec: LogSpec<typeof AuditEventSchema> = {
  label: 'audit log',
  currentVersion: AUDIT_EVENT_VERSION,
  schema: AuditEventSchema,
};

/** `.sdd/audit.jsonl`, append-only: every transition, with time, actor, reason and evidence. */
export class FileAuditLog {
  constructor(private readonly paths: ProjectPaths) {}

  get file(): string {
    return this.paths.audit;
  }

  /** Append (the caller holds the project lock). */
  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length > 0) await appendRecords(this.paths.audit, events);
  }

  /**
   * Events after `from`, of `role` if given, at most `limit`; `cursor` is where the next read
   * starts (after the last event returned, or the end of the log).
   */
  async read(options: { role?: string; from?: LedgerCursor; limit?: number } = {}): Promise<{ events: AuditEvent[]; cursor: LedgerCursor; warnings: string[]; complete: boolean }> {
    const events: AuditEvent[] = [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let stop: LedgerCursor | null = null;
    const result = await readRecords(
      this.paths.audit,
      auditLogSpec,
      (event, line, offset) => {
        if (stop) return;
        if (options.role !== undefined && event.role !== options.role) return;
        if (events.length >= limit) {
          stop = { offset, line };
          return;
        }
        events.push(event);
      },
      options.from ? { fromOffset: options.from.offset, fromLine: options.from.line } : {},
    );
    const cursor: LedgerCursor = stop ?? { offset: result.endOffset, line: result.nextLine };
    return { events, cursor, warnings: result.warnings, complete: stop === null };
  }
}
