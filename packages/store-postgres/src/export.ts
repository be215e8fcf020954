import { existsSync, readdirSync } from 'node:fs';
import { BernsteinError, appendRecords, projectPaths } from '@bernstein/store';
import type { LedgerRecord, Version } from '@bernstein/prompt-versions';
import { canaryStateDocument, type AuditEvent } from '@bernstein/canary-router';
import type { StoreReader, StoreTransaction } from '@bernstein/rollout';
import type { PostgresStore } from './store.js';

/** Records per append while writing the ledger out. */
const APPEND_BATCH = 20_000;

export interface ExportSummary {
  dir: string;
  versions: number;
  records: number;
  auditEvents: number;
  roles: string[];
}

/**
 * How the export writes the registry: through the file adapter's own registration (so the files
 * are exactly what the file store writes), with the clock set to each version's creation time.
 */
export interface FileTarget {
  /** Run `fn` holding the target project's lock. */
  transaction<T>(fn: (tx: Pick<StoreTransaction, 'registerVersion'>) => Promise<T>): Promise<T>;
  /** Set the time the next registration records. */
  setClock(at: Date): void;
}

/**
 * Write the database out in the `.sdd/` file layout under `dir` (a snapshot that can be
 * committed, diffed, or opened by the file-backed CLI): the registry and version contents, the
 * routing state, the ledger and the audit log, all from one consistent snapshot of the database.
 * The outbox is not written: a snapshot must not send alerts again. Refuses a folder that already
 * holds a project, so that nothing is ever overwritten.
 */
export async function exportProject(source: PostgresStore, dir: string, target: FileTarget): Promise<ExportSummary> {
  const paths = projectPaths(dir);
  for (const file of [paths.registry, paths.canaryState, paths.ledger, paths.audit]) {
    if (existsSync(file)) {
      throw new BernsteinError('INVALID_ARGUMENT', `${dir} already holds a project (${file} exists): export into an empty folder; nothing was written`, { dir });
    }
  }
  if (existsSync(paths.versionsDir) && readdirSync(paths.versionsDir).length > 0) {
    throw new BernsteinError('INVALID_ARGUMENT', `${dir} already holds version files (${paths.versionsDir}): export into an empty folder; nothing was written`, { dir });
  }
  return source.snapshot(async (reader: StoreReader) => {
    const summaries = await reader.listVersions();
    const versions: Version[] = [];
    for (const summary of summaries) versions.push(await reader.getVersion(summary.id));
    const state = await reader.loadState();
    const { events } = await reader.readAudit({});
    return target.transaction(async (tx) => {
      for (const version of versions) {
        target.setClock(new Date(version.createdAt));
        const { version: written } = await tx.registerVersion({ role: version.role, files: version.files, model: version.model }, version.origin);
        if (written.id !== version.id) throw new BernsteinError('CONFLICT', `version ${version.id} was written as ${written.id}: its content does not hash to its id`);
      }
      let batch: LedgerRecord[] = [];
      let records = 0;
      const pending: LedgerRecord[][] = [];
      await reader.readLedger(null, (record) => {
        batch.push(record);
        records += 1;
        if (batch.length >= APPEND_BATCH) {
          pending.push(batch);
          batch = [];
        }
      });
      if (batch.length > 0) pending.push(batch);
      for (const chunk of pending) await appendRecords(paths.ledger, chunk);
      await appendAuditEvents(paths.audit, events);
      await canaryStateDocument.save(paths.canaryState, state);
      return { dir, versions: versions.length, records, auditEvents: events.length, roles: Object.keys(state.roles).sort() };
    });
  });
}

async function appendAuditEvents(file: string, events: readonly AuditEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += APPEND_BATCH) await appendRecords(file, events.slice(i, i + APPEND_BATCH));
}
