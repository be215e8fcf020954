import { createHash } from 'node:crypto';
import { insertOutboxEntries } from './outbox-sql.js';
import { BernsteinError } from '@bernstein/store';
import type { LedgerRecord, Version } from '@bernstein/prompt-versions';
import type { AuditEvent, CanaryState } from '@bernstein/canary-router';
import { AGGREGATE_FOLD_VERSION, foldInto, type AggregateState, type OutboxEntry, type StoreReader } from '@bernstein/rollout';
import type pg from 'pg';
import { PROJECT_LOCK_KEY } from './locks.js';
import type { PostgresStore } from './store.js';

/** Rows per INSERT statement: large enough to be fast, small enough to stay far under the statement timeout. */
const BATCH = 10_000;

export interface ImportSummary {
  /** True when the database already held exactly this history: nothing was written. */
  alreadyImported: boolean;
  roles: string[];
  versions: number;
  assignments: number;
  outcomes: number;
  auditEvents: number;
  alerts: number;
  /** Added to every imported revision (0 into an empty database). */
  revisionOffset: number;
}

/** Everything a project holds, read through the port from the source store. */
interface Snapshot {
  versions: Version[];
  state: CanaryState;
  /** Ledger records as their JSON text (a million records as objects would not fit the memory budget). */
  ledger: string[];
  audit: AuditEvent[];
  alerts: OutboxEntry[];
}

async function readSource(source: StoreReader): Promise<Snapshot> {
  const summaries = await source.listVersions();
  const versions: Version[] = [];
  for (const summary of summaries) versions.push(await source.getVersion(summary.id));
  const state = await source.loadState();
  const ledger: string[] = [];
  await source.readLedger(null, (record) => ledger.push(JSON.stringify(record)));
  const { events: audit } = await source.readAudit({});
  const alerts = await source.listAlerts();
  return { versions, state, ledger, audit, alerts };
}

/** Canonical JSON (sorted keys), so that two stores' copies of one record compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What identifies one role's history, revisions aside (an import into a busy database renumbers them). */
class RoleHistory {
  private readonly hashes = { versions: createHash('sha256'), ledger: createHash('sha256'), audit: createHash('sha256') };
  counts = { versions: 0, ledger: 0, audit: 0 };
  version(id: string): void {
    this.hashes.versions.update(`${id}\n`);
    this.counts.versions += 1;
  }
  record(record: unknown): void {
    this.hashes.ledger.update(`${canonical(record)}\n`);
    this.counts.ledger += 1;
  }
  event(event: AuditEvent): void {
    const { revision: _revision, ...rest } = event;
    this.hashes.audit.update(`${canonical(rest)}\n`);
    this.counts.audit += 1;
  }
  digest(): string {
    return `${this.hashes.versions.digest('hex')}:${this.hashes.ledger.digest('hex')}:${this.hashes.audit.digest('hex')}`;
  }
}

function rolesOf(snapshot: Snapshot): string[] {
  const roles = new Set<string>(Object.keys(snapshot.state.roles));
  for (const v of snapshot.versions) roles.add(v.role);
  for (const e of snapshot.audit) roles.add(e.role);
  return [...roles].sort();
}

function sourceHistories(snapshot: Snapshot, records: LedgerRecord[]): Map<string, RoleHistory> {
  const histories = new Map<string, RoleHistory>();
  const of = (role: string) => {
    let h = histories.get(role);
    if (!h) histories.set(role, (h = new RoleHistory()));
    return h;
  };
  for (const v of snapshot.versions) of(v.role).version(v.id);
  for (const r of records) of(r.role).record(r);
  for (const e of snapshot.audit) of(e.role).event(e);
  return histories;
}

async function databaseHistory(client: pg.ClientBase, role: string): Promise<RoleHistory> {
  const history = new RoleHistory();
  const versions = await client.query<{ id: string }>('SELECT id FROM bernstein.versions WHERE role = $1 ORDER BY seq', [role]);
  for (const row of versions.rows) history.version(row.id);
  let last = 0;
  for (;;) {
    const { rows } = await client.query<{ seq: string; record: string }>(
      'SELECT seq::text AS seq, record::text AS record FROM bernstein.ledger WHERE role = $1 AND seq > $2 ORDER BY bernstein.ledger.seq LIMIT $3',
      [role, last, BATCH],
    );
    for (const row of rows) history.record(JSON.parse(row.record));
    if (rows.length < BATCH) break;
    last = Number(rows[rows.length - 1]!.seq);
  }
  const audit = await client.query<{ event: string }>('SELECT event::text AS event FROM bernstein.audit WHERE role = $1 ORDER BY revision, seq', [role]);
  for (const row of audit.rows) history.event(JSON.parse(row.event) as AuditEvent);
  return history;
}

/**
 * Copy a project (read through the port from `source`, e.g. the `.sdd/` file store) into the
 * database, in one transaction holding the project lock: all of it or nothing.
 * - A role the database already holds must hold exactly the same history (versions, ledger and
 *   audit, revisions aside): then it is skipped, so a second import changes nothing; a different
 *   history is refused, naming the role, and nothing is written.
 * - Roles the database does not hold are added; their revisions are renumbered after the
 *   database's own, keeping their order.
 */
export async function importProject(target: PostgresStore, source: StoreReader, sourceName: string): Promise<ImportSummary> {
  const snapshot = await readSource(source);
  const records = snapshot.ledger.map((text) => JSON.parse(text) as LedgerRecord);
  const roles = rolesOf(snapshot);
  const histories = sourceHistories(snapshot, records);

  const client = await target.connect('import');
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [PROJECT_LOCK_KEY]);
    const present = await client.query<{ role: string }>(
      `SELECT role FROM bernstein.roles WHERE role = ANY($1::text[])
       UNION SELECT role FROM bernstein.versions WHERE role = ANY($1::text[])
       UNION SELECT role FROM bernstein.audit WHERE role = ANY($1::text[])
       UNION SELECT role FROM bernstein.tasks WHERE role = ANY($1::text[])`,
      [roles],
    );
    const existing = new Set(present.rows.map((r) => r.role));
    for (const role of [...existing].sort()) {
      const mine = (await databaseHistory(client, role)).digest();
      const theirs = (histories.get(role) ?? new RoleHistory()).digest();
      if (mine !== theirs) {
        throw new BernsteinError(
          'CONFLICT',
          `${target.display} already holds a different history for role "${role}" than ${sourceName}: refusing to merge (nothing was imported)`,
          { role },
        );
      }
    }
    const copy = roles.filter((role) => !existing.has(role));
    const summary: ImportSummary = { alreadyImported: copy.length === 0, roles: copy, versions: 0, assignments: 0, outcomes: 0, auditEvents: 0, alerts: 0, revisionOffset: 0 };
    if (copy.length === 0) {
      await client.query('ROLLBACK');
      return summary;
    }
    const copying = new Set(copy);
    const ledger = records.filter((r) => copying.has(r.role));
    const ledgerText = snapshot.ledger.filter((_, i) => copying.has(records[i]!.role));
    // Task ids are global: one the database routed for another role would change that task's latest assignment.
    const taskIds = [...new Set(ledger.map((r) => r.taskId))];
    for (let i = 0; i < taskIds.length; i += BATCH) {
      const clash = await client.query<{ task_id: string; role: string }>('SELECT task_id, role FROM bernstein.tasks WHERE task_id = ANY($1::text[]) LIMIT 1', [
        taskIds.slice(i, i + BATCH),
      ]);
      if (clash.rows[0]) {
        throw new BernsteinError(
          'CONFLICT',
          `task "${clash.rows[0].task_id}" of ${sourceName} is already in ${target.display} (role "${clash.rows[0].role}"): refusing to merge (nothing was imported)`,
        );
      }
    }

    const maxRevision = await client.query<{ n: string }>('SELECT coalesce(max(revision), 0)::text AS n FROM bernstein.audit');
    const offset = Number(maxRevision.rows[0]!.n);
    summary.revisionOffset = offset;

    // Versions (content-addressed: an id already present holds the same content).
    const versions = snapshot.versions.filter((v) => copying.has(v.role));
    for (let i = 0; i < versions.length; i += 500) {
      const page = versions.slice(i, i + 500);
      const inserted = await client.query(
        `INSERT INTO bernstein.versions (id, hash, role, summary, files)
           SELECT id, hash, role, s::json, f::json FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(id, hash, role, s, f, n)
           ORDER BY n ON CONFLICT DO NOTHING`,
        [
          page.map((v) => v.id),
          page.map((v) => v.hash),
          page.map((v) => v.role),
          page.map(({ files: _files, ...s }) => JSON.stringify(s)),
          page.map((v) => JSON.stringify(v.files)),
        ],
      );
      summary.versions += inserted.rowCount ?? 0;
    }

    // Ledger, in order, with seqs reserved up front so that each outcome row can name the
    // assignment it answers; then each task's latest assignment and that assignment's outcome.
    const sequence = (await client.query<{ name: string }>("SELECT pg_get_serial_sequence('bernstein.ledger', 'seq') AS name")).rows[0]!.name;
    let base = 0;
    if (ledger.length > 0) {
      base = Number((await client.query<{ n: string }>('SELECT nextval($1::regclass)::text AS n', [sequence])).rows[0]!.n);
      await client.query('SELECT setval($1::regclass, $2::bigint)', [sequence, base + ledger.length - 1]);
    }
    const latest = new Map<string, { seq: number; index: number; outcome: number | null; late: number | null }>();
    const assignmentSeqs: Array<number | null> = [];
    ledger.forEach((record, index) => {
      const seq = base + index;
      if (record.type === 'assign') {
        latest.set(record.taskId, { seq, index, outcome: null, late: null });
        assignmentSeqs.push(null);
        summary.assignments += 1;
        return;
      }
      const current = latest.get(record.taskId);
      if (record.type === 'late') {
        // A late outcome answers the timeout of the same assignment.
        if (!current || current.outcome === null || current.late !== null) {
          throw new BernsteinError('MALFORMED_FILE', `${sourceName}: ledger record ${index + 1} is a late outcome of task "${record.taskId}" with no timeout awaiting it`);
        }
        current.late = index;
        assignmentSeqs.push(current.seq);
        summary.outcomes += 1;
        return;
      }
      if (!current || current.outcome !== null) {
        throw new BernsteinError('MALFORMED_FILE', `${sourceName}: ledger record ${index + 1} is an outcome of task "${record.taskId}" with no assignment awaiting it`);
      }
      current.outcome = index;
      assignmentSeqs.push(current.seq);
      summary.outcomes += 1;
    });
    for (let i = 0; i < ledger.length; i += BATCH) {
      const page = ledger.slice(i, i + BATCH);
      await client.query(
        `INSERT INTO bernstein.ledger (seq, kind, task_id, role, canary_id, assignment_seq, record) OVERRIDING SYSTEM VALUE
           SELECT s, k, t, r, c, a, j::json FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) AS u(s, k, t, r, c, a, j)`,
        [
          page.map((_, j) => base + i + j),
          page.map((r) => r.type),
          page.map((r) => r.taskId),
          page.map((r) => r.role),
          page.map((r) => r.canaryId),
          assignmentSeqs.slice(i, i + BATCH),
          ledgerText.slice(i, i + BATCH),
        ],
      );
    }
    const tasks = [...latest.entries()];
    for (let i = 0; i < tasks.length; i += BATCH) {
      const page = tasks.slice(i, i + BATCH);
      await client.query(
        `INSERT INTO bernstein.tasks (task_id, role, routed_at, assignment_seq, assignment, outcome_seq, outcome, late_seq, late)
           SELECT t, r, at, s, a::json, os, o::json, ls, l::json FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::bigint[], $9::text[]) AS u(t, r, at, s, a, os, o, ls, l)`,
        [
          page.map(([taskId]) => taskId),
          page.map(([, e]) => ledger[e.index]!.role),
          page.map(([, e]) => ledger[e.index]!.at),
          page.map(([, e]) => e.seq),
          page.map(([, e]) => ledgerText[e.index]!),
          page.map(([, e]) => (e.outcome === null ? null : base + e.outcome)),
          page.map(([, e]) => (e.outcome === null ? null : ledgerText[e.outcome]!)),
          page.map(([, e]) => (e.late === null ? null : base + e.late)),
          page.map(([, e]) => (e.late === null ? null : ledgerText[e.late]!)),
        ],
      );
    }

    // Aggregates: the fold of the copied records.
    const folded = foldInto(new Map<string, AggregateState>(), ledger);
    const keys = [...folded.keys()];
    if (keys.length > 0) {
      await client.query(
        `INSERT INTO bernstein.aggregates (key, role, fold_version, state)
           SELECT k, r, $3, s::json FROM unnest($1::text[], $2::text[], $4::text[]) AS u(k, r, s)
         ON CONFLICT (key) DO UPDATE SET fold_version = EXCLUDED.fold_version, state = EXCLUDED.state`,
        [keys, keys.map((k) => folded.get(k)!.role), AGGREGATE_FOLD_VERSION, keys.map((k) => JSON.stringify(folded.get(k)))],
      );
    }

    // Audit events, renumbered after the database's own.
    const audit = snapshot.audit.filter((e) => copying.has(e.role)).map((e) => ({ ...e, revision: e.revision + offset }));
    const NOTES = new Set(['alert-delivered', 'alert-failed']);
    for (let i = 0; i < audit.length; i += BATCH) {
      const page = audit.slice(i, i + BATCH);
      await client.query(
        `INSERT INTO bernstein.audit (revision, role, action, canary_id, is_note, event)
           SELECT rev, r, a, c, note, e::json FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[]) WITH ORDINALITY AS u(rev, r, a, c, note, e, n) ORDER BY n`,
        [page.map((e) => e.revision), page.map((e) => e.role), page.map((e) => e.action), page.map((e) => e.canaryId), page.map((e) => NOTES.has(e.action)), page.map((e) => JSON.stringify(e))],
      );
    }
    summary.auditEvents = audit.length;

    // Routing state per role, with its last revision.
    const lastRevision = new Map<string, number>();
    for (const e of audit) if (!NOTES.has(e.action)) lastRevision.set(e.role, Math.max(lastRevision.get(e.role) ?? 0, e.revision));
    const stateRoles = copy.filter((role) => snapshot.state.roles[role] || snapshot.state.disk?.[role]);
    if (stateRoles.length > 0) {
      await client.query(
        `INSERT INTO bernstein.roles (role, state, disk, revision) SELECT r, s::json, d, v FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(r, s, d, v)`,
        [
          stateRoles,
          stateRoles.map((r) => (snapshot.state.roles[r] ? JSON.stringify(snapshot.state.roles[r]) : null)),
          stateRoles.map((r) => snapshot.state.disk?.[r] ?? null),
          stateRoles.map((r) => lastRevision.get(r) ?? 0),
        ],
      );
    }
    const highest = audit.reduce((max, e) => Math.max(max, e.revision), offset);
    if (highest > 0) await client.query("SELECT setval('bernstein.revision', greatest($1::bigint, (SELECT last_value FROM bernstein.revision)))", [highest]);

    // The outbox: alerts keep their status (a delivered alert is not sent again).
    const alerts = snapshot.alerts
      .filter((a) => copying.has(a.role))
      .map((a) => {
        const revision = a.revision + offset;
        const id = offset === 0 ? a.id : `rev-${revision}`;
        return { ...a, id, revision, payload: { ...a.payload, eventId: id }, claim: null };
      });
    if (alerts.length > 0) {
      await insertOutboxEntries((sql, params) => client.query(sql, params), alerts);
    }
    summary.alerts = alerts.length;

    const fingerprint = createHash('sha256')
      .update(copy.map((role) => `${role}\u0000${histories.get(role)?.digest() ?? ''}`).join('\n'))
      .digest('hex');
    await client.query('INSERT INTO bernstein.imports (fingerprint, roles, counts, source) VALUES ($1, $2::json, $3::json, $4) ON CONFLICT DO NOTHING', [
      fingerprint,
      JSON.stringify(copy),
      JSON.stringify({ versions: summary.versions, assignments: summary.assignments, outcomes: summary.outcomes, auditEvents: summary.auditEvents, alerts: summary.alerts }),
      sourceName,
    ]);
    await client.query('COMMIT');
    return summary;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
