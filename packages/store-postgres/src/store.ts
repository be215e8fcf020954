import type pg from 'pg';
import { insertOutboxEntries } from './outbox-sql.js';
import { BernsteinError } from '@bernstein/store';
import {
  hashBundle,
  resolvePrefix,
  type AssignmentRecord,
  type LateOutcomeRecord,
  type LedgerRecord,
  type OutcomeRecord,
  type RegisterResult,
  type RoleBundle,
  type TaskEntry,
  type Version,
  type VersionOrigin,
  type VersionSummary,
} from '@bernstein/prompt-versions';
import { applyTransition, emptyCanaryState, RoleStateSchema, type AuditEvent, type CanaryState, type RoleState } from '@bernstein/canary-router';
import {
  AGGREGATE_FOLD_VERSION,
  AggregateStateSchema,
  acceptResolution,
  type ResolutionSlot,
  aggregateKey,
  foldInto,
  outboxEntryFor,
  type AggregatesResult,
  type AggregateState,
  type AlertAttempt,
  type AppliedTransitions,
  type ApplyOptions,
  type AuditCursor,
  type AuditReadResult,
  type LedgerPosition,
  type LedgerReadResult,
  type OpenStoreOptions,
  type OutboxEntry,
  type RolloutStore,
  type StoreReader,
  type StoreScope,
  type StoreTransaction,
  type TasksResult,
  type TransitionRequest,
} from '@bernstein/rollout';
import { isConnectionLoss, storeError } from './errors.js';
import { PROJECT_LOCK_KEY, roleLockKey } from './locks.js';
import { assertSchemaVersion, schemaVersionOf } from './migrate.js';
import { createPool, type PoolSettings } from './pool.js';
import { decodeAuditCursor, decodeLedgerPosition, encodeAuditCursor, encodeLedgerPosition, visibleTo, type AuditCursorData, type Seen } from './positions.js';
import { parseStoreUrl, type StoreLocation } from './url.js';

type PostgresLocation = Extract<StoreLocation, { kind: 'postgres' }>;
type Query = <R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>;

/** Rows per page when streaming the ledger, and per statement when writing in bulk. */
const PAGE_ROWS = 5000;

const NOTE_ACTIONS = new Set(['alert-delivered', 'alert-failed']);
const EMPTY: ReadonlySet<string> = new Set();
/** Versions kept in memory per store (a route reads both arms' versions every call). */
const VERSION_CACHE_LIMIT = 256;

export interface PostgresStoreOptions extends OpenStoreOptions {
  /** Open without checking the schema version (only `bernstein store migrate` does). */
  skipSchemaCheck?: boolean;
}

/**
 * Open the PostgreSQL adapter of the storage port on `url` (postgres:// or postgresql://). Checks
 * that the database's schema is the one this package knows (UNSUPPORTED_SCHEMA_VERSION with what to
 * run otherwise). Messages name the store by its URL with the password replaced by `***`.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions): Promise<PostgresStore> {
  const location = parseStoreUrl(url, 'store URL');
  if (location.kind !== 'postgres') throw new BernsteinError('CONFIG_INVALID', `not a PostgreSQL store URL: ${url.startsWith('file:') ? url : '(redacted)'}`);
  const store = new PostgresStore(location, options);
  if (!options.skipSchemaCheck) {
    try {
      await store.checkSchema();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}

/** Reads shared by the store (autocommit statements on the pool) and a transaction (its connection). */
class PgReader implements StoreReader {
  constructor(
    protected readonly location: PostgresLocation,
    protected readonly query: Query,
    /** Verified contents of committed versions (immutable: content-addressed), shared by a store's readers. */
    protected readonly versions: Map<string, Version> = new Map(),
  ) {}

  /** Ids registered by this unit of work and not committed yet: never cached. */
  protected uncommitted(): ReadonlySet<string> {
    return EMPTY;
  }

  /** The snapshot of the current statement plus this unit of work's own transaction if it wrote. */
  protected async seen(): Promise<Seen> {
    const { rows } = await this.query<{ snap: string; self: string | null }>('SELECT pg_current_snapshot()::text AS snap, pg_current_xact_id_if_assigned()::text AS self');
    return { snap: rows[0]!.snap, self: rows[0]!.self };
  }

  async getVersion(id: string): Promise<Version> {
    const cached = this.versions.get(id);
    if (cached) return cached;
    const { rows } = await this.query<{ summary: string; files: string }>('SELECT summary::text AS summary, files::text AS files FROM bernstein.versions WHERE id = $1', [id]);
    const row = rows[0];
    if (!row) throw new BernsteinError('VERSION_NOT_FOUND', `unknown version "${id}"`, { id });
    const summary = JSON.parse(row.summary) as VersionSummary;
    const files = JSON.parse(row.files) as Record<string, string>;
    // Content-addressed: what comes back must still hash to its id.
    const { hash } = hashBundle({ role: summary.role, files, model: summary.model });
    if (hash !== summary.hash) {
      throw new BernsteinError('CONFLICT', `${this.location.display}: the stored content of version ${id} does not hash to it (found ${hash.slice(0, 12)}); the row was edited`, { id });
    }
    const version = { ...summary, files };
    if (!this.uncommitted().has(id)) {
      if (this.versions.size >= VERSION_CACHE_LIMIT) this.versions.clear();
      this.versions.set(id, version);
    }
    return version;
  }

  async resolveVersion(idOrPrefix: string): Promise<VersionSummary> {
    const query = idOrPrefix.trim().toLowerCase();
    // resolvePrefix owns the messages; only hand it what a valid hex query can match.
    if (!/^[0-9a-f]{4,64}$/.test(query)) return resolvePrefix([], idOrPrefix);
    const column = query.length > 12 ? 'hash' : 'id';
    const { rows } = await this.query<{ summary: string }>(
      `SELECT summary::text AS summary FROM bernstein.versions WHERE ${column} LIKE $1 || '%' ORDER BY seq LIMIT 11`,
      [query],
    );
    let candidates = rows.map((r) => JSON.parse(r.summary) as VersionSummary);
    if (candidates.length === 0) {
      const recent = await this.query<{ summary: string }>('SELECT summary::text AS summary FROM bernstein.versions ORDER BY seq DESC LIMIT 10');
      candidates = recent.rows.map((r) => JSON.parse(r.summary) as VersionSummary);
    }
    return resolvePrefix(candidates, idOrPrefix);
  }

  async listVersions(filter: { role?: string } = {}): Promise<VersionSummary[]> {
    const { rows } = await this.query<{ summary: string }>(
      'SELECT summary::text AS summary FROM bernstein.versions WHERE $1::text IS NULL OR role = $1 ORDER BY seq',
      [filter.role ?? null],
    );
    return rows.map((r) => JSON.parse(r.summary) as VersionSummary);
  }

  async loadState(): Promise<CanaryState> {
    const { rows } = await this.query<{ role: string; state: string | null; disk: string | null; revision: string }>(
      'SELECT role, state::text AS state, disk, revision::text AS revision FROM bernstein.roles ORDER BY role',
    );
    return stateFromRows(rows);
  }

  async getTasks(taskIds: readonly string[]): Promise<TasksResult> {
    const found = new Map<string, TaskEntry>();
    if (taskIds.length === 0) return { tasks: found, warnings: [] };
    const unique = [...new Set(taskIds)];
    for (let i = 0; i < unique.length; i += PAGE_ROWS) {
      const { rows } = await this.query<{ task_id: string; assignment: string; outcome: string | null; late: string | null }>(
        'SELECT task_id, assignment::text AS assignment, outcome::text AS outcome, late::text AS late FROM bernstein.tasks WHERE task_id = ANY($1::text[])',
        [unique.slice(i, i + PAGE_ROWS)],
      );
      for (const row of rows) {
        found.set(row.task_id, {
          assignment: JSON.parse(row.assignment) as AssignmentRecord,
          outcome: row.outcome === null ? null : (JSON.parse(row.outcome) as OutcomeRecord),
          ...(row.late !== null ? { late: JSON.parse(row.late) as LateOutcomeRecord } : {}),
        });
      }
    }
    return { tasks: found, warnings: [] };
  }

  async overdueAssignments(filter: { role?: string; canaryId?: string; routedBefore: string; limit?: number }): Promise<AssignmentRecord[]> {
    // Of one canary: the tasks_awaiting_canary index; otherwise tasks_awaiting.
    const { rows } = await this.query<{ assignment: string }>(
      filter.canaryId !== undefined
        ? `SELECT assignment::text AS assignment FROM bernstein.tasks
            WHERE outcome_seq IS NULL AND assignment->>'canaryId' = $4 AND routed_at < $1 AND ($2::text IS NULL OR role = $2)
            ORDER BY routed_at, assignment_seq LIMIT $3`
        : `SELECT assignment::text AS assignment FROM bernstein.tasks
            WHERE outcome_seq IS NULL AND routed_at < $1 AND ($2::text IS NULL OR role = $2)
            ORDER BY routed_at, assignment_seq LIMIT $3`,
      filter.canaryId !== undefined ? [filter.routedBefore, filter.role ?? null, filter.limit ?? null, filter.canaryId] : [filter.routedBefore, filter.role ?? null, filter.limit ?? null],
    );
    return rows.map((r) => JSON.parse(r.assignment) as AssignmentRecord);
  }

  async readLedger(from: LedgerPosition | null, onRecord: (record: LedgerRecord) => void): Promise<LedgerReadResult> {
    const old = from === null ? null : decodeLedgerPosition(from);
    const now = await this.seen();
    let last = 0;
    for (;;) {
      const values: unknown[] = [last, now.snap, now.self, PAGE_ROWS];
      let unseen = '';
      if (old) {
        values.push(old.snap, old.self);
        unseen = `AND txid >= pg_snapshot_xmin($5::pg_snapshot) AND NOT ${visibleTo('$5', '$6')}`;
      }
      const { rows } = await this.query<{ seq: string; record: string }>(
        `SELECT seq::text AS seq, record::text AS record FROM bernstein.ledger
          WHERE seq > $1 AND ${visibleTo('$2', '$3')} ${unseen}
          ORDER BY bernstein.ledger.seq LIMIT $4`,
        values,
      );
      for (const row of rows) onRecord(JSON.parse(row.record) as LedgerRecord);
      if (rows.length < PAGE_ROWS) break;
      last = Number(rows[rows.length - 1]!.seq);
    }
    return { position: encodeLedgerPosition(now) as LedgerPosition, warnings: [] };
  }

  /**
   * Audit events in (revision, seq) order. The cursor says which events were returned: those
   * visible to its snapshot up to its key, plus `extra`. Events that commit after a read with a
   * lower revision than what it returned (another host's transition that took its revision
   * earlier and committed later) come first in the next read, so no event is ever skipped.
   */
  async readAudit(options: { role?: string; after?: AuditCursor | null; limit?: number } = {}): Promise<AuditReadResult> {
    const cursor: AuditCursorData | null = options.after ? decodeAuditCursor(options.after) : null;
    const now = await this.seen();
    const values: unknown[] = [now.snap, now.self, options.role ?? null];
    let returned = 'false';
    if (cursor) {
      const parts: string[] = [];
      if (cursor.seen) {
        values.push(cursor.seen.snap, cursor.seen.self);
        const visibleBefore = visibleTo(`$${values.length - 1}`, `$${values.length}`);
        if (cursor.key) {
          values.push(cursor.key[0], cursor.key[1]);
          parts.push(`(${visibleBefore} AND (revision, seq) <= ($${values.length - 1}::bigint, $${values.length}::bigint))`);
        } else {
          parts.push(visibleBefore);
        }
      }
      if (cursor.extra.length > 0) {
        values.push(cursor.extra);
        parts.push(`seq = ANY($${values.length}::bigint[])`);
      }
      if (parts.length > 0) returned = parts.join(' OR ');
    }
    const limit = options.limit;
    let limitClause = '';
    if (limit !== undefined) {
      values.push(limit + 1);
      limitClause = `LIMIT $${values.length}`;
    }
    const { rows } = await this.query<{ revision: string; seq: string; event: string }>(
      `SELECT revision::text AS revision, seq::text AS seq, event::text AS event FROM bernstein.audit
        WHERE ${visibleTo('$1', '$2')} AND ($3::text IS NULL OR role = $3) AND NOT (${returned})
        ORDER BY bernstein.audit.revision, bernstein.audit.seq ${limitClause}`,
      values,
    );
    const truncated = limit !== undefined && rows.length > limit;
    const taken = truncated ? rows.slice(0, limit) : rows;
    const events = taken.map((r) => JSON.parse(r.event) as AuditEvent);
    let next: AuditCursorData;
    if (!truncated) {
      next = { v: 1, seen: now, key: null, extra: [] };
    } else {
      const lastRow = taken[taken.length - 1];
      const lastKey: [number, number] | null = lastRow ? [Number(lastRow.revision), Number(lastRow.seq)] : null;
      const oldKey = cursor?.key ?? null;
      const beyondOld = cursor === null || (cursor.seen !== null && oldKey !== null && lastKey !== null && compareKeys(lastKey, oldKey) >= 0);
      if (cursor === null || (beyondOld && lastKey !== null)) {
        // Every unreturned event up to lastKey is now returned: one bound describes it all.
        next = { v: 1, seen: now, key: lastKey, extra: [] };
      } else {
        // Still catching up on events that committed late: keep the old bound, list what was returned.
        next = { v: 1, seen: cursor.seen, key: cursor.key, extra: [...cursor.extra, ...taken.map((r) => Number(r.seq))] };
      }
    }
    return { events, cursor: encodeAuditCursor(next) as AuditCursor, warnings: [] };
  }

  async aggregates(keys?: readonly string[]): Promise<AggregatesResult> {
    const { rows } = await this.query<{ key: string; fold_version: number; state: string; snap: string; self: string | null }>(
      `SELECT key, fold_version, state::text AS state, s.snap, s.self
         FROM (SELECT pg_current_snapshot()::text AS snap, pg_current_xact_id_if_assigned()::text AS self) s
         LEFT JOIN bernstein.aggregates a ON ($1::text[] IS NULL OR a.key = ANY($1::text[]))`,
      [keys ? [...keys] : null],
    );
    const seen: Seen = { snap: rows[0]!.snap, self: rows[0]!.self };
    const aggregates = new Map<string, AggregateState>();
    const stale: string[] = [];
    for (const row of rows) {
      if (row.key === null) continue;
      const parsed = row.fold_version === AGGREGATE_FOLD_VERSION ? safeAggregate(row.state) : null;
      if (parsed) aggregates.set(row.key, parsed);
      else stale.push(row.key);
    }
    for (const key of stale) {
      const state = await this.refold(key, seen);
      if (state) aggregates.set(key, state);
    }
    return { aggregates, position: encodeLedgerPosition(seen) as LedgerPosition, warnings: [] };
  }

  /** One key's aggregate folded again from its ledger records (visible to `seen`). */
  protected async refold(key: string, seen: Seen): Promise<AggregateState | undefined> {
    const [kind, ...rest] = key.split(':');
    const id = rest.join(':');
    const filter = kind === 'canary' ? 'canary_id = $1' : 'canary_id IS NULL AND role = $1';
    const states = new Map<string, AggregateState>();
    let last = 0;
    for (;;) {
      const { rows } = await this.query<{ seq: string; record: string }>(
        `SELECT seq::text AS seq, record::text AS record FROM bernstein.ledger WHERE ${filter} AND seq > $2 AND ${visibleTo('$3', '$4')} ORDER BY bernstein.ledger.seq LIMIT $5`,
        [id, last, seen.snap, seen.self, PAGE_ROWS],
      );
      foldInto(
        states,
        rows.map((r) => JSON.parse(r.record) as LedgerRecord),
      );
      if (rows.length < PAGE_ROWS) break;
      last = Number(rows[rows.length - 1]!.seq);
    }
    return states.get(key);
  }

  async listAlerts(filter: { status?: OutboxEntry['status']; role?: string } = {}): Promise<OutboxEntry[]> {
    const { rows } = await this.query<OutboxRow>(
      `SELECT ${OUTBOX_COLUMNS} FROM bernstein.outbox WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR role = $2) ORDER BY bernstein.outbox.revision, bernstein.outbox.id`,
      [filter.status ?? null, filter.role ?? null],
    );
    return rows.map(outboxFromRow);
  }

  async revision(): Promise<string> {
    // Equal snapshots mean the same set of committed transactions, so the same data; any commit
    // anywhere on the server changes it (a memo then misses, never serves stale data).
    const seen = await this.seen();
    return `pg:${seen.snap}${seen.self ? `:${seen.self}` : ''}`;
  }
}

function compareKeys(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

function safeAggregate(text: string): AggregateState | null {
  try {
    const parsed = AggregateStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function stateFromRows(rows: ReadonlyArray<{ role: string; state: string | null; disk: string | null; revision: string }>): CanaryState {
  const state = emptyCanaryState();
  const disk: Record<string, string> = {};
  let revision = 0;
  for (const row of rows) {
    if (row.state !== null) state.roles[row.role] = RoleStateSchema.parse(JSON.parse(row.state));
    if (row.disk !== null) disk[row.role] = row.disk;
    revision = Math.max(revision, Number(row.revision));
  }
  state.revision = revision;
  if (Object.keys(disk).length > 0) state.disk = disk;
  return state;
}

interface AggregateRow {
  key: string;
  fold_version: number;
  state: string;
}

interface OutboxRow {
  id: string;
  revision: string;
  role: string;
  created_at: string;
  payload: string;
  status: OutboxEntry['status'];
  attempts: string;
  claim_holder: string | null;
  claim_until: string | null;
}

const OUTBOX_COLUMNS = `id, revision::text AS revision, role, created_at, payload::text AS payload, status, attempts::text AS attempts, claim_holder,
  to_char(claim_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS claim_until`;

function outboxFromRow(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    revision: Number(row.revision),
    role: row.role,
    createdAt: row.created_at,
    payload: JSON.parse(row.payload),
    status: row.status,
    attempts: JSON.parse(row.attempts),
    claim: row.claim_holder === null || row.claim_until === null ? null : { holder: row.claim_holder, until: row.claim_until },
  };
}

/** A unit of work on one connection, inside BEGIN ... COMMIT, holding its scope's advisory locks. */
class PgTransaction extends PgReader implements StoreTransaction {
  private readonly registered = new Set<string>();

  constructor(
    location: PostgresLocation,
    query: Query,
    private readonly scope: StoreScope,
    private readonly now: () => Date,
    versions: Map<string, Version>,
  ) {
    super(location, query, versions);
  }

  protected override uncommitted(): ReadonlySet<string> {
    return this.registered;
  }

  private assertInScope(role: string, what: string): void {
    if ('project' in this.scope) return;
    if (!this.scope.roles.includes(role)) {
      throw new BernsteinError('INVALID_ARGUMENT', `${what} of role "${role}" outside this unit of work's scope (roles: ${this.scope.roles.map((r) => `"${r}"`).join(', ') || 'none'})`, { role });
    }
  }

  async registerVersion(bundle: RoleBundle, origin: VersionOrigin = { kind: 'disk' }): Promise<RegisterResult> {
    const { hash, id } = hashBundle(bundle);
    const summary: VersionSummary = {
      id,
      hash,
      role: bundle.role,
      createdAt: this.now().toISOString(),
      origin,
      fileNames: Object.keys(bundle.files).sort(),
      model: bundle.model,
    };
    // Most registrations find the version there already: look first, write only when missing.
    const known = await this.query<{ summary: string }>('SELECT summary::text AS summary FROM bernstein.versions WHERE id = $1', [id]);
    if (known.rows[0]) {
      const existing = JSON.parse(known.rows[0].summary) as VersionSummary;
      if (existing.hash !== hash) {
        throw new BernsteinError('CONFLICT', `${this.location.display}: version id ${id} already names different content (hash collision on the 12-char id)`, { id });
      }
      return { version: existing, isNew: false };
    }
    // Two hosts registering the same content: the second waits on the unique index, then does nothing.
    const inserted = await this.query(
      'INSERT INTO bernstein.versions (id, hash, role, summary, files) VALUES ($1, $2, $3, $4::json, $5::json) ON CONFLICT DO NOTHING RETURNING seq',
      [id, hash, bundle.role, JSON.stringify(summary), JSON.stringify(bundle.files)],
    );
    if (inserted.rowCount === 1) {
      this.registered.add(id);
      return { version: summary, isNew: true };
    }
    const { rows } = await this.query<{ summary: string }>('SELECT summary::text AS summary FROM bernstein.versions WHERE id = $1', [id]);
    const existing = rows[0] ? (JSON.parse(rows[0].summary) as VersionSummary) : undefined;
    if (!existing || existing.hash !== hash) {
      throw new BernsteinError('CONFLICT', `${this.location.display}: version id ${id} already names different content (hash collision on the 12-char id)`, { id });
    }
    return { version: existing, isNew: false };
  }

  async applyTransitions(requests: readonly TransitionRequest[], options: ApplyOptions = {}): Promise<AppliedTransitions> {
    for (const request of requests) this.assertInScope(request.transition.role, 'a transition');
    const observed = options.observedDisk;
    if (observed) this.assertInScope(observed.role, 'the bundle on disk');
    let state = await this.loadState();
    const before = state;
    const events: AuditEvent[] = [];
    // Pure first: a request that throws leaves nothing written.
    for (const request of requests) {
      const result = applyTransition(state, request.transition, {
        now: request.at,
        actor: request.actor,
        reason: request.reason,
        evidence: request.evidence ?? null,
        newCanaryId: request.newCanaryId,
      });
      state = result.doc;
      events.push(result.event);
    }
    const diskChanged = observed !== undefined && before.disk?.[observed.role] !== observed.versionId;
    if (events.length === 0 && !diskChanged) return { state: before, events: [], alerts: [] };

    if (events.length > 0) {
      const { rows } = await this.query<{ revision: string }>("SELECT nextval('bernstein.revision')::text AS revision FROM generate_series(1, $1)", [events.length]);
      rows.forEach((row, i) => {
        events[i] = { ...events[i]!, revision: Number(row.revision) };
      });
      state = { ...state, revision: events[events.length - 1]!.revision };
    }
    if (observed && diskChanged) state = { ...state, disk: { ...state.disk, [observed.role]: observed.versionId } };
    const { lastEvents: _lastEvents, ...clean } = state;
    state = clean;

    const lastRevisionOf = new Map<string, number>();
    for (const event of events) lastRevisionOf.set(event.role, event.revision);
    const touched = new Set<string>([...lastRevisionOf.keys(), ...(observed && diskChanged ? [observed.role] : [])]);
    const roles = [...touched];
    await this.query(
      `INSERT INTO bernstein.roles (role, state, disk, revision)
         SELECT r, s::json, d, coalesce(v, 0) FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(r, s, d, v)
       ON CONFLICT (role) DO UPDATE SET state = EXCLUDED.state, disk = EXCLUDED.disk,
         revision = greatest(bernstein.roles.revision, EXCLUDED.revision)`,
      [
        roles,
        roles.map((r) => (state.roles[r] ? JSON.stringify(state.roles[r]) : null)),
        roles.map((r) => state.disk?.[r] ?? null),
        roles.map((r) => lastRevisionOf.get(r) ?? null),
      ],
    );
    await this.insertAudit(events, false);
    const alerts = events.map(outboxEntryFor).filter((entry): entry is OutboxEntry => entry !== null);
    if (alerts.length > 0) {
      await insertOutboxEntries((sql, params) => this.query(sql, params), alerts);
    }
    return { state, events, alerts };
  }

  private async insertAudit(events: readonly AuditEvent[], notes: boolean): Promise<void> {
    if (events.length === 0) return;
    await this.query(
      `INSERT INTO bernstein.audit (revision, role, action, canary_id, is_note, event)
         SELECT rev, r, a, c, $5, e::json FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $6::text[]) WITH ORDINALITY AS u(rev, r, a, c, e, n) ORDER BY n`,
      [events.map((e) => e.revision), events.map((e) => e.role), events.map((e) => e.action), events.map((e) => e.canaryId), notes, events.map((e) => JSON.stringify(e))],
    );
  }

  async appendAssignments(records: readonly AssignmentRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const record of records) this.assertInScope(record.role, 'an assignment');
    const fetch = this.keysToFetch(records);
    let fetched: AggregateRow[] = [];
    for (let i = 0; i < records.length; i += PAGE_ROWS) {
      const page = records.slice(i, i + PAGE_ROWS);
      // Ledger rows in order; then each task's newest assignment becomes its current one; and, in
      // the same round trip, the aggregates this append folds into, locked.
      const { rows } = await this.query<AggregateRow>(
        `WITH input AS (
           SELECT t, r, c, j, at, n FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(t, r, c, j, at, n)
         ), ins AS (
           INSERT INTO bernstein.ledger (kind, task_id, role, canary_id, record)
             SELECT 'assign', t, r, c, j::json FROM input ORDER BY n
           RETURNING seq, task_id, role, record
         ), current AS (
           INSERT INTO bernstein.tasks (task_id, role, routed_at, assignment_seq, assignment)
             SELECT DISTINCT ON (ins.task_id) ins.task_id, ins.role, ins.record->>'at', ins.seq, ins.record FROM ins ORDER BY ins.task_id, ins.seq DESC
           ON CONFLICT (task_id) DO UPDATE SET role = EXCLUDED.role, routed_at = EXCLUDED.routed_at, assignment_seq = EXCLUDED.assignment_seq,
             assignment = EXCLUDED.assignment, outcome_seq = NULL, outcome = NULL, late_seq = NULL, late = NULL
           RETURNING 1
         )
         SELECT key, fold_version, state::text AS state FROM bernstein.aggregates WHERE key = ANY($6::text[]) FOR UPDATE`,
        [page.map((r) => r.taskId), page.map((r) => r.role), page.map((r) => r.canaryId), page.map((r) => JSON.stringify(r)), page.map((r) => r.at), i === 0 ? fetch : []],
      );
      if (i === 0) fetched = rows;
    }
    await this.fold(records, fetched);
  }

  async appendOutcomes(records: readonly (OutcomeRecord | LateOutcomeRecord)[]): Promise<void> {
    if (records.length === 0) return;
    for (const record of records) this.assertInScope(record.role, 'an outcome');
    const ids = [...new Set(records.map((r) => r.taskId))];
    // Lock the tasks' rows: a racing writer of the same task (another role's scope) waits here.
    const slots = new Map<string, ResolutionSlot & { seq: string }>();
    for (let i = 0; i < ids.length; i += PAGE_ROWS) {
      const { rows } = await this.query<{ task_id: string; assignment_seq: string; assignment: string; outcome: string | null; late: string | null }>(
        `SELECT task_id, assignment_seq::text AS assignment_seq, assignment::text AS assignment, outcome::text AS outcome, late::text AS late
           FROM bernstein.tasks WHERE task_id = ANY($1::text[]) FOR UPDATE`,
        [ids.slice(i, i + PAGE_ROWS)],
      );
      for (const row of rows) {
        slots.set(row.task_id, {
          seq: row.assignment_seq,
          assignment: JSON.parse(row.assignment) as AssignmentRecord,
          outcome: row.outcome === null ? null : (JSON.parse(row.outcome) as OutcomeRecord),
          late: row.late === null ? null : (JSON.parse(row.late) as LateOutcomeRecord),
        });
      }
    }
    const seqs: string[] = [];
    for (const record of records) {
      const slot = slots.get(record.taskId);
      acceptResolution(slot, record);
      seqs.push(slot!.seq);
    }
    const fetch = this.keysToFetch(records);
    let fetched: AggregateRow[] = [];
    for (let i = 0; i < records.length; i += PAGE_ROWS) {
      const page = records.slice(i, i + PAGE_ROWS);
      // A task's outcome and late outcome may be in one page: each column is set from its own row.
      const { rows } = await this.query<AggregateRow>(
        `WITH input AS (
           SELECT k, t, r, c, s, j, n FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[]) WITH ORDINALITY AS u(k, t, r, c, s, j, n)
         ), ins AS (
           INSERT INTO bernstein.ledger (kind, task_id, role, canary_id, assignment_seq, record)
             SELECT k, t, r, c, s, j::json FROM input ORDER BY n
           RETURNING seq, kind, task_id, assignment_seq, record
         ), answered AS (
           UPDATE bernstein.tasks SET
               outcome_seq = coalesce(o.seq, tasks.outcome_seq), outcome = coalesce(o.record, tasks.outcome),
               late_seq = coalesce(l.seq, tasks.late_seq), late = coalesce(l.record, tasks.late)
             FROM (SELECT DISTINCT task_id, assignment_seq FROM ins) AS a
             LEFT JOIN ins AS o ON o.task_id = a.task_id AND o.kind = 'outcome'
             LEFT JOIN ins AS l ON l.task_id = a.task_id AND l.kind = 'late'
            WHERE tasks.task_id = a.task_id AND tasks.assignment_seq = a.assignment_seq
           RETURNING 1
         )
         SELECT key, fold_version, state::text AS state FROM bernstein.aggregates WHERE key = ANY($7::text[]) FOR UPDATE`,
        [
          page.map((r) => r.type),
          page.map((r) => r.taskId),
          page.map((r) => r.role),
          page.map((r) => r.canaryId),
          seqs.slice(i, i + PAGE_ROWS),
          page.map((r) => JSON.stringify(r)),
          i === 0 ? fetch : [],
        ],
      );
      if (i === 0) fetched = rows;
    }
    await this.fold(records, fetched);
  }

  /**
   * The aggregates this unit of work has written, after its writes. Their keys belong to roles it
   * holds locked, so nobody else changes them before it commits: later appends and reads of the
   * same keys need no round trip.
   */
  private readonly folded = new Map<string, AggregateState>();

  private keysToFetch(records: readonly LedgerRecord[]): string[] {
    return [...new Set(records.map(aggregateKey))].filter((key) => !this.folded.has(key));
  }

  /** Fold appended records into their keys' aggregates (`rows`: the ones not folded here yet, locked and read by the append), in this unit of work. */
  private async fold(records: readonly LedgerRecord[], rows: readonly AggregateRow[]): Promise<void> {
    const keys = [...new Set(records.map(aggregateKey))];
    const states = new Map<string, AggregateState>();
    for (const key of keys) {
      const mine = this.folded.get(key);
      if (mine) states.set(key, mine);
    }
    const rebuilt = new Set<string>();
    for (const row of rows) {
      const parsed = row.fold_version === AGGREGATE_FOLD_VERSION ? safeAggregate(row.state) : null;
      if (parsed) states.set(row.key, parsed);
      else rebuilt.add(row.key);
    }
    if (rebuilt.size > 0) {
      // A copy of another fold version (or damaged): refold it from the ledger, which already holds these records.
      const seen = await this.seen();
      for (const key of rebuilt) {
        const state = await this.refold(key, seen);
        if (state) states.set(key, state);
      }
      foldInto(
        states,
        records.filter((r) => !rebuilt.has(aggregateKey(r))),
      );
    } else {
      foldInto(states, records);
    }
    const written = keys.map((key) => [key, states.get(key)!] as const);
    for (const [key, state] of written) this.folded.set(key, state);
    await this.query(
      `INSERT INTO bernstein.aggregates (key, role, fold_version, state)
         SELECT k, r, $3, s::json FROM unnest($1::text[], $2::text[], $4::text[]) AS u(k, r, s)
       ON CONFLICT (key) DO UPDATE SET fold_version = EXCLUDED.fold_version, state = EXCLUDED.state`,
      [written.map(([k]) => k), written.map(([, s]) => s.role), AGGREGATE_FOLD_VERSION, written.map(([, s]) => JSON.stringify(s))],
    );
  }

  override async aggregates(keys?: readonly string[]): Promise<AggregatesResult> {
    if (keys && keys.length > 0 && keys.every((key) => this.folded.has(key))) {
      const aggregates = new Map<string, AggregateState>();
      for (const key of keys) aggregates.set(key, structuredClone(this.folded.get(key)!));
      return { aggregates, position: encodeLedgerPosition(await this.seen()) as LedgerPosition, warnings: [] };
    }
    return super.aggregates(keys);
  }

  async appendAuditNotes(events: readonly AuditEvent[]): Promise<void> {
    for (const event of events) {
      if (!NOTE_ACTIONS.has(event.action)) {
        throw new BernsteinError('INVALID_ARGUMENT', `audit note with action "${event.action}": notes are ${[...NOTE_ACTIONS].join(' or ')}; transitions go through applyTransitions`);
      }
    }
    await this.insertAudit(events, true);
  }

  async claimAlerts(options: { holder: string; leaseMs: number; limit?: number }): Promise<OutboxEntry[]> {
    const now = this.now();
    const until = new Date(now.getTime() + options.leaseMs);
    const { rows } = await this.query<OutboxRow>(
      `UPDATE bernstein.outbox SET claim_holder = $1, claim_until = $2::timestamptz
        WHERE id IN (SELECT id FROM bernstein.outbox
                      WHERE status = 'pending' AND (claim_until IS NULL OR claim_until < $3::timestamptz)
                      ORDER BY revision LIMIT $4 FOR UPDATE SKIP LOCKED)
        RETURNING ${OUTBOX_COLUMNS}`,
      [options.holder, until.toISOString(), now.toISOString(), options.limit ?? 100],
    );
    return rows.map(outboxFromRow).sort((a, b) => a.revision - b.revision);
  }

  async completeAlert(id: string, holder: string, result: { attempts: readonly AlertAttempt[]; status: OutboxEntry['status'] }): Promise<OutboxEntry> {
    const { rows } = await this.query<OutboxRow>(`SELECT ${OUTBOX_COLUMNS} FROM bernstein.outbox WHERE id = $1 FOR UPDATE`, [id]);
    const row = rows[0];
    if (!row) throw new BernsteinError('INVALID_ARGUMENT', `no alert "${id}" in the outbox`, { id });
    if (row.claim_holder !== holder) {
      throw new BernsteinError('CONFLICT', `alert "${id}" is no longer claimed by ${holder} (its lease expired and ${row.claim_holder ?? 'nobody'} holds it now)`, { id });
    }
    const attempts = [...(JSON.parse(row.attempts) as AlertAttempt[]), ...result.attempts];
    const updated = await this.query<OutboxRow>(
      `UPDATE bernstein.outbox SET attempts = $2::json, status = $3, claim_holder = NULL, claim_until = NULL WHERE id = $1 RETURNING ${OUTBOX_COLUMNS}`,
      [id, JSON.stringify(attempts), result.status],
    );
    return outboxFromRow(updated.rows[0]!);
  }
}

/**
 * The PostgreSQL adapter. Units of work are READ COMMITTED transactions serialised per role by
 * transaction-level advisory locks (see locks.ts): a role's state is read after its lock is
 * held, so every compare-and-swap sees the latest commit, and two roles never wait on each other.
 */
export class PostgresStore extends PgReader implements RolloutStore {
  readonly kind = 'postgres';
  readonly name: string;
  readonly settings: PoolSettings;
  private readonly pool: pg.Pool;
  private readonly now: () => Date;
  private readonly versionCache: Map<string, Version>;
  private closed = false;

  constructor(location: PostgresLocation, options: OpenStoreOptions) {
    const { pool, settings } = createPool(location);
    const query: Query = async (text, values) => {
      try {
        return await pool.query(text, values as unknown[]);
      } catch (error) {
        throw storeError(location, error, 'read');
      }
    };
    const versionCache = new Map<string, Version>();
    super(location, query, versionCache);
    this.versionCache = versionCache;
    this.pool = pool;
    this.settings = settings;
    this.name = location.display;
    this.now = options.now ?? (() => new Date());
  }

  /** The URL with the password replaced by `***`. */
  get display(): string {
    return this.location.display;
  }

  async checkSchema(): Promise<void> {
    const client = await this.connect('check the schema version');
    try {
      assertSchemaVersion(await schemaVersionOf(client), this.location.display);
    } catch (error) {
      throw storeError(this.location, error, 'check the schema version');
    } finally {
      client.release();
    }
  }

  /** A pooled connection, for migrations and bulk work (import, export). */
  async connect(doing: string): Promise<pg.PoolClient> {
    if (this.closed) throw new BernsteinError('INVALID_ARGUMENT', `${this.location.display}: the store was closed`);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw storeError(this.location, error, doing);
    }
    // A checked-out connection that dies (server restart) emits 'error' besides failing its query;
    // the failed query is where it is handled, so the event must not crash the process.
    const ignore = () => undefined;
    client.on('error', ignore);
    const release = client.release.bind(client);
    client.release = (error?: Error | boolean) => {
      client.removeListener('error', ignore);
      return release(error);
    };
    return client;
  }

  async transaction<T>(scope: StoreScope, fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const client = await this.connect('start a transaction');
    let broken: Error | undefined;
    let committing = false;
    const query: Query = async (text, values) => {
      try {
        return await client.query(text, values as unknown[]);
      } catch (error) {
        if (isConnectionLoss(error)) broken = error as Error;
        throw storeError(this.location, error, committing ? 'commit' : 'write');
      }
    };
    try {
      // One round trip for BEGIN and the project key (a constant), one for the roles' keys.
      await query('project' in scope ? `BEGIN; SELECT pg_advisory_xact_lock(${PROJECT_LOCK_KEY})` : `BEGIN; SELECT pg_advisory_xact_lock_shared(${PROJECT_LOCK_KEY})`);
      if (!('project' in scope)) {
        const keys = [...new Set(scope.roles)].sort().map(roleLockKey);
        if (keys.length > 0) await query('SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, n) ORDER BY n', [keys]);
      }
      const tx = new PgTransaction(this.location, query, scope, this.now, this.versionCache);
      const result = await fn(tx);
      committing = true;
      await query('COMMIT');
      return result;
    } catch (error) {
      if (!broken) await client.query('ROLLBACK').catch(() => undefined);
      if (committing && broken) {
        throw new BernsteinError(
          'IO_ERROR',
          `the connection to ${this.location.display} was lost while committing: the last batch may or may not have been written (running the command again is safe: recorded outcomes are refused as duplicates)`,
          { store: this.location.display },
        );
      }
      throw storeError(this.location, error, 'write');
    } finally {
      client.release(broken);
    }
  }

  /**
   * Run `fn` on one consistent snapshot of the whole database (REPEATABLE READ, read only): it
   * sees no commit made after it started, and blocks no writer (export).
   */
  async snapshot<T>(fn: (reader: StoreReader) => Promise<T>): Promise<T> {
    const client = await this.connect('read a snapshot');
    const query: Query = async (text, values) => {
      try {
        return await client.query(text, values as unknown[]);
      } catch (error) {
        throw storeError(this.location, error, 'read');
      }
    };
    try {
      await query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await fn(new PgReader(this.location, query, this.versionCache));
      await query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }
}
