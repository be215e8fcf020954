import { appendRecords, readRecords, withProjectLock, type ProjectPaths } from '@bernstein/store';
import { auditLogSpec, type AuditEvent } from './core.js';

/** The audit log contract: every transition, with time, actor, reason and evidence. */
export interface AuditLogStore {
  append(events: readonly AuditEvent[]): Promise<void>;
  read(filter?: { role?: string }): Promise<{ events: AuditEvent[]; warnings: string[] }>;
}

/** `.sdd/audit.jsonl`, append-only. */
export class FileAuditLog implements AuditLogStore {
  constructor(private readonly paths: ProjectPaths) {}

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await withProjectLock(this.paths, async (lock) => {
      lock.assertHeld();
      await appendRecords(this.paths.audit, events);
    });
  }

  async read(filter: { role?: string } = {}): Promise<{ events: AuditEvent[]; warnings: string[] }> {
    const events: AuditEvent[] = [];
    const { warnings } = await readRecords(this.paths.audit, auditLogSpec, (event) => {
      if (filter.role === undefined || event.role === filter.role) events.push(event);
    });
    return { events, warnings };
  }
}
