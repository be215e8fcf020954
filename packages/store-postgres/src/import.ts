import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertOutboxEntries } from './outbox-sql.js';
import { BernsteinError } from '@bernstein/store';
import type { LedgerRecord, Version } from '@bernstein/prompt-versions';
import type { AuditEvent, CanaryState } from '@bernstein/canary-router';
import { AGGREGATE_FOLD_VERSION, foldInto, type AggregateState, type OutboxEntry, type StoreReader } from '@bernstein/rollout';
import type pg from 'pg';
import { PROJECT_LOCK_KEY } from './locks.js';
import type { PostgresStore } from './store.js';

/** Rows per INSERT statement: large enough to be fast, small enough to stay far under the statement timeout. */
const BATCH = 5_000;
/** Bytes of spooled ledger text buffered before a write to the spool file. */
const SPOOL_WRITE_BYTES = 1 << 20;
/** Bytes per read of the spool file. */
const SPOOL_READ_BYTES = 4 << 20;

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

/** What a project holds besides its ledger, read through the port from the source store (small next to the ledger). */
interface Snapshot {
  versions: Version[];
  state: CanaryState;
  audit: AuditEvent[];
  alerts: OutboxEntry[];
}

async function readSource(source: StoreReader): Promise<Snapshot> {
  const summaries = await source.listVersions();
  const versions: Version[] = [];
  for (const summary of summaries) versions.push(await source.getVersion(summary.id));
  const state = await source.loadState();
  const { events: audit } = await source.readAudit({});
  const alerts = await source.listAlerts();
  return { versions, state, audit, alerts };
}

/**
 * The copied roles' ledger records as JSON lines in a temporary file. The port streams the
 * source ledger to a synchronous callback, which cannot wait for the database; the spool takes
 * the records at the reader's pace (synchronous, buffered writes), and the copy then reads it
 * back a page at a time, each page inserted before the next is read. Memory stays bounded by a
 * page, whatever the ledger's size.
 */
class Spool {
  private readonly fd: number;
  private buffer: string[] = [];
  private bytes = 0;
  count = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w', 0o600);
  }

  push(line: string): void {
    this.buffer.push(line);
    this.bytes += line.length + 1;
    this.count += 1;
    if (this.bytes >= SPOOL_WRITE_BYTES) this.flush();
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    try {
      const bytes = Buffer.from(`${this.buffer.join('\n')}\n`, 'utf8');
      // A short write (a full disk) must not leave records out of the copy.
      for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done);
    } catch (error) {
      throw new BernsteinError(
        'IO_ERROR',
        `${this.file}: cannot write the import's spool (${(error as Error).message}); it needs about the ledger's size: set TMPDIR to a folder with room (nothing was imported)`,
        { file: this.file },
        { cause: error },
      );
    }
    this.buffer = [];
    this.bytes = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  /** The spooled lines, in order, `size` at a time. */
  async *pages(size: number): AsyncGenerator<string[]> {
    const handle = await open(this.file, 'r');
    try {
      const chunk = Buffer.allocUnsafe(SPOOL_READ_BYTES);
      let carry: Buffer = Buffer.alloc(0);
      let page: string[] = [];
      for (;;) {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        // Split on newline bytes, so that a character cut by the chunk boundary is decoded whole
        // with the rest of its line; the spool is ours, so every line ends in a newline.
        const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
        const last = data.lastIndexOf(0x0a);
        if (last === -1) {
          carry = Buffer.from(data);
          continue;
        }
        carry = Buffer.from(data.subarray(last + 1));
        for (const line of data.toString('utf8', 0, last).split('\n')) {
          page.push(line);
          if (page.length === size) {
            yield page;
            page = [];
          }
        }
      }
      if (page.length > 0) yield page;
    } finally {
      await handle.close();
    }
  }
}

/** Canonical JSON (sorted keys, undefined members left out), so that two stores' copies of one record compare equal. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  // Loops rather than map/filter/join: this runs for every ledger record of an import.
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + canonical(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  out = '{';
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonical(member)}`;
    first = false;
  }
  return `${out}}`;
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

/** The source's histories per role, fed record by record as the ledger streams by. */
class SourceHistories {
  private readonly byRole = new Map<string, RoleHistory>();

  constructor(snapshot: Snapshot) {
    for (const v of snapshot.versions) this.of(v.role).version(v.id);
  }

  of(role: string): RoleHistory {
    let h = this.byRole.get(role);
    if (!h) this.byRole.set(role, (h = new RoleHistory()));
    return h;
  }

  /** Audit events go in after the ledger (the digest hashes each part separately, so order across parts is free). */
  finish(snapshot: Snapshot): this {
    for (const e of snapshot.audit) this.of(e.role).event(e);
    return this;
  }

  get(role: string): RoleHistory | undefined {
    return this.byRole.get(role);
  }
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

/** A task's latest assignment while the copy runs: its ledger seq, and its outcome's seq once one is copied. */
interface TaskCursor {
  seq: number;
  outcomeSeq: number | null;
  lateSeq: number | null;
}

/** What one page of the copy writes to `tasks`: the row of a task assigned in the page, or only the outcome of one assigned earlier. */
interface TaskRow {
  seq: number;
  /** Set when the page holds the task's latest assignment (the row is written whole). */
  assignment: { role: string; at: string; text: string } | null;
  outcome: { seq: number; text: string } | null;
  /** A real outcome that arrived after the task's timeout (the outcome). */
  late: { seq: number; text: string } | null;
}

/**
 * Insert the spooled records into the ledger in order, with seqs reserved up front (one range,
 * under the project lock), so that each outcome row names the assignment it answers; and keep
 * `tasks` (each task's latest assignment and that assignment's outcome) up to date page by page.
 */
async function copyLedger(client: pg.ClientBase, spool: Spool, sourceName: string, display: string): Promise<{ assignments: number; outcomes: number }> {
  const counts = { assignments: 0, outcomes: 0 };
  if (spool.count === 0) return counts;
  const sequence = (await client.query<{ name: string }>("SELECT pg_get_serial_sequence('bernstein.ledger', 'seq') AS name")).rows[0]!.name;
  const base = Number((await client.query<{ n: string }>('SELECT nextval($1::regclass)::text AS n', [sequence])).rows[0]!.n);
  await client.query('SELECT setval($1::regclass, $2::bigint)', [sequence, base + spool.count - 1]);

  let index = 0;
  for await (const lines of spool.pages(BATCH)) {
    const records = lines.map((line) => JSON.parse(line) as LedgerRecord);
    // The page's tasks as earlier pages left them. A row older than this import belongs to the
    // database's own history: task ids are global, and taking it over would change that task's
    // latest assignment.
    const known = await client.query<{ task_id: string; role: string; assignment_seq: string; outcome_seq: string | null; late_seq: string | null }>(
      'SELECT task_id, role, assignment_seq::text AS assignment_seq, outcome_seq::text AS outcome_seq, late_seq::text AS late_seq FROM bernstein.tasks WHERE task_id = ANY($1::text[])',
      [[...new Set(records.map((r) => r.taskId))]],
    );
    const cursors = new Map<string, TaskCursor>();
    for (const row of known.rows) {
      const seq = Number(row.assignment_seq);
      if (seq < base) {
        throw new BernsteinError('CONFLICT', `task "${row.task_id}" of ${sourceName} is already in ${display} (role "${row.role}"): refusing to merge (nothing was imported)`);
      }
      cursors.set(row.task_id, { seq, outcomeSeq: row.outcome_seq === null ? null : Number(row.outcome_seq), lateSeq: row.late_seq === null ? null : Number(row.late_seq) });
    }
    const rows = new Map<string, TaskRow>();
    const assignmentSeqs: Array<number | null> = [];
    records.forEach((record, j) => {
      const seq = base + index + j;
      if (record.type === 'assign') {
        cursors.set(record.taskId, { seq, outcomeSeq: null, lateSeq: null });
        rows.set(record.taskId, { seq, assignment: { role: record.role, at: record.at, text: lines[j]! }, outcome: null, late: null });
        assignmentSeqs.push(null);
        counts.assignments += 1;
        return;
      }
      const current = cursors.get(record.taskId);
      if (record.type === 'late') {
        // A late outcome answers the timeout of the same assignment.
        if (!current || current.outcomeSeq === null || current.lateSeq !== null) {
          throw new BernsteinError('MALFORMED_FILE', `${sourceName}: ledger record ${index + j + 1} is a late outcome of task "${record.taskId}" with no timeout awaiting it`);
        }
        current.lateSeq = seq;
        assignmentSeqs.push(current.seq);
        const row = rows.get(record.taskId);
        if (row) row.late = { seq, text: lines[j]! };
        else rows.set(record.taskId, { seq: current.seq, assignment: null, outcome: null, late: { seq, text: lines[j]! } });
        counts.outcomes += 1;
        return;
      }
      if (!current || current.outcomeSeq !== null) {
        throw new BernsteinError('MALFORMED_FILE', `${sourceName}: ledger record ${index + j + 1} is an outcome of task "${record.taskId}" with no assignment awaiting it`);
      }
      current.outcomeSeq = seq;
      assignmentSeqs.push(current.seq);
      const row = rows.get(record.taskId);
      if (row) row.outcome = { seq, text: lines[j]! };
      else rows.set(record.taskId, { seq: current.seq, assignment: null, outcome: { seq, text: lines[j]! }, late: null });
      counts.outcomes += 1;
    });

    await client.query(
      `INSERT INTO bernstein.ledger (seq, kind, task_id, role, canary_id, assignment_seq, record) OVERRIDING SYSTEM VALUE
         SELECT s, k, t, r, c, a, j::json FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], string_to_array($7::text, E'\\n')) AS u(s, k, t, r, c, a, j)`,
      [
        records.map((_, j) => base + index + j),
        records.map((r) => r.type),
        records.map((r) => r.taskId),
        records.map((r) => r.role),
        records.map((r) => r.canaryId),
        assignmentSeqs,
        // The records' JSON as one text, a line each (JSON text has no raw newline): the driver
        // sends it as is, where an array of JSON strings would be escaped element by element.
        lines.join('\n'),
      ],
    );
    const whole = [...rows].filter(([, row]) => row.assignment !== null);
    if (whole.length > 0) {
      await client.query(
        `INSERT INTO bernstein.tasks (task_id, role, routed_at, assignment_seq, assignment, outcome_seq, outcome, late_seq, late)
           SELECT t, r, at, s, a::json, os, nullif(o, '')::json, ls, nullif(l, '')::json
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], string_to_array($5::text, E'\\n'), $6::bigint[], string_to_array($7::text, E'\\n'), $8::bigint[], string_to_array($9::text, E'\\n')) AS u(t, r, at, s, a, os, o, ls, l)
         ON CONFLICT (task_id) DO UPDATE SET role = EXCLUDED.role, routed_at = EXCLUDED.routed_at, assignment_seq = EXCLUDED.assignment_seq,
           assignment = EXCLUDED.assignment, outcome_seq = EXCLUDED.outcome_seq, outcome = EXCLUDED.outcome, late_seq = EXCLUDED.late_seq, late = EXCLUDED.late`,
        [
          whole.map(([taskId]) => taskId),
          whole.map(([, row]) => row.assignment!.role),
          whole.map(([, row]) => row.assignment!.at),
          whole.map(([, row]) => row.seq),
          whole.map(([, row]) => row.assignment!.text).join('\n'),
          whole.map(([, row]) => row.outcome?.seq ?? null),
          // No outcome yet: an empty line (a JSON text is never empty).
          whole.map(([, row]) => row.outcome?.text ?? '').join('\n'),
          whole.map(([, row]) => row.late?.seq ?? null),
          whole.map(([, row]) => row.late?.text ?? '').join('\n'),
        ],
      );
    }
    const answered = [...rows].filter(([, row]) => row.assignment === null && row.outcome !== null);
    if (answered.length > 0) {
      await client.query(
        `UPDATE bernstein.tasks AS t SET outcome_seq = u.os, outcome = u.o::json
           FROM unnest($1::text[], $2::bigint[], string_to_array($3::text, E'\\n')) AS u(t, os, o) WHERE t.task_id = u.t`,
        [answered.map(([taskId]) => taskId), answered.map(([, row]) => row.outcome!.seq), answered.map(([, row]) => row.outcome!.text).join('\n')],
      );
    }
    const lateOnes = [...rows].filter(([, row]) => row.assignment === null && row.late !== null);
    if (lateOnes.length > 0) {
      await client.query(
        `UPDATE bernstein.tasks AS t SET late_seq = u.ls, late = u.l::json
           FROM unnest($1::text[], $2::bigint[], string_to_array($3::text, E'\\n')) AS u(t, ls, l) WHERE t.task_id = u.t`,
        [lateOnes.map(([taskId]) => taskId), lateOnes.map(([, row]) => row.late!.seq), lateOnes.map(([, row]) => row.late!.text).join('\n')],
      );
    }
    index += records.length;
  }
  return counts;
}

/**
 * Copy a project (read through the port from `source`, e.g. the `.sdd/` file store) into the
 * database, in one transaction holding the project lock: all of it or nothing.
 * - A role the database already holds must hold exactly the same history (versions, ledger and
 *   audit, revisions aside): then it is skipped, so a second import changes nothing; a different
 *   history is refused, naming the role, and nothing is written.
 * - Roles the database does not hold are added; their revisions are renumbered after the
 *   database's own, keeping their order.
 * - The ledger streams: read once from the source (digests and aggregates folded on the way,
 *   the copied records spooled to a temporary file), then inserted in order, BATCH rows per
 *   statement. Each outcome names the assignment it answers and each task's latest assignment
 *   goes to `tasks`; what an earlier page wrote is looked up in `tasks` (by its primary key), so
 *   no per-task map of the whole ledger is kept in memory.
 */
export async function importProject(target: PostgresStore, source: StoreReader, sourceName: string): Promise<ImportSummary> {
  const snapshot = await readSource(source);
  const roles = rolesOf(snapshot);
  const wanted = new Set(roles);

  const spoolDir = await mkdtemp(join(tmpdir(), 'bernstein-import-')).catch((error: unknown) => {
    throw new BernsteinError('IO_ERROR', `cannot make the import's spool folder under ${tmpdir()} (${(error as Error).message}): set TMPDIR to a writable folder (nothing was imported)`, {}, { cause: error });
  });
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
    const copy = roles.filter((role) => !existing.has(role));
    const copying = new Set(copy);

    // One pass over the source ledger: digests of every role, the fold and the spool of the copied ones.
    const histories = new SourceHistories(snapshot);
    const folded = new Map<string, AggregateState>();
    const spool = new Spool(join(spoolDir, 'ledger.jsonl'));
    try {
      await source.readLedger(null, (record) => {
        if (!wanted.has(record.role)) return;
        histories.of(record.role).record(record);
        if (!copying.has(record.role)) return;
        foldInto(folded, [record]);
        spool.push(JSON.stringify(record));
      });
    } finally {
      spool.close();
    }
    histories.finish(snapshot);

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
    const summary: ImportSummary = { alreadyImported: copy.length === 0, roles: copy, versions: 0, assignments: 0, outcomes: 0, auditEvents: 0, alerts: 0, revisionOffset: 0 };
    if (copy.length === 0) {
      await client.query('ROLLBACK');
      return summary;
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

    const copied = await copyLedger(client, spool, sourceName, target.display);
    summary.assignments = copied.assignments;
    summary.outcomes = copied.outcomes;

    // Aggregates: the fold of the copied records.
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
    await rm(spoolDir, { recursive: true, force: true });
  }
}
