/**
 * The storage port: everything a project persists, as one interface that the service layer is
 * written against. Adapters (the `.sdd/` files in @bernstein/store-file, PostgreSQL in
 * @bernstein/store-postgres) implement it; the service layer never imports one, and the shells
 * (CLI, server, demo, bench) pick one.
 *
 * Semantics every adapter must keep (checked by `describeStoreContract` in ./contract.ts):
 * - Reads outside a transaction see the latest committed data; reads inside one also see its own
 *   writes. Positions and cursors are opaque strings: only the adapter that made one reads it.
 * - Writes happen only inside `transaction(scope, fn)`. A transaction is all or nothing as far as
 *   the adapter can make it (the file adapter repairs a crash between its files on the next write),
 *   and a thrown error leaves nothing of its writes visible to the state (see `applyTransitions`).
 * - The scope says what the unit of work may change: `{ roles: [...] }` locks those roles only
 *   (a database serialises per role; two roles' transactions never wait on each other), `{ roles: [] }`
 *   locks no role (registry, outbox, and ledger lookups only), `{ project: true }` locks everything.
 *   The file adapter takes its one project lock for every scope; that is allowed, not required.
 */
import type { AssignmentRecord, LateOutcomeRecord, LedgerRecord, OutcomeRecord, RegisterResult, RoleBundle, TaskEntry, Version, VersionOrigin, VersionSummary } from '@bernstein/prompt-versions';
import type { Actor, AuditEvent, CanaryState, Transition } from '@bernstein/canary-router';
import type { AggregateState } from './core/aggregate.js';
import type { AlertAttempt, OutboxEntry } from './core/outbox.js';

/** Where a reader of the ledger stopped. Opaque: made and read by one adapter only. */
export type LedgerPosition = string & { readonly __brand: 'LedgerPosition' };
/** Where a reader of the audit log stopped. Opaque: made and read by one adapter only. */
export type AuditCursor = string & { readonly __brand: 'AuditCursor' };

/** What a unit of work may change (see the module comment). */
export type StoreScope = { readonly roles: readonly string[] } | { readonly project: true };

export interface TransitionRequest {
  transition: Transition;
  actor: Actor;
  reason: string;
  evidence?: unknown;
  /** ISO time of the transition (the service's clock). */
  at: string;
  /** The id a `start` transition gives its canary (12 lowercase hex); ignored by other transitions. */
  newCanaryId: string;
}

export interface ApplyOptions {
  /** Also record that routing has acted on this bundle on disk (CanaryState.disk[role]). */
  observedDisk?: { role: string; versionId: string };
}

export interface AppliedTransitions {
  /** The state after the transitions (the whole document, every role). */
  state: CanaryState;
  /** One audit event per applied transition, in order, with the revision the store gave it. */
  events: AuditEvent[];
  /** The outbox entries written with them (one per event that alerts: promote, rollback, instant-rollback). */
  alerts: OutboxEntry[];
}

export interface TasksResult {
  tasks: Map<string, TaskEntry>;
  /** Torn lines and similar the lookup stepped over, one sentence each. */
  warnings: string[];
}

export interface LedgerReadResult {
  /** Where to resume: the end of what was read. */
  position: LedgerPosition;
  /** Skipped torn lines and similar, one sentence each. */
  warnings: string[];
}

export interface AuditReadResult {
  events: AuditEvent[];
  /** Pass as `after` to read only what comes later. */
  cursor: AuditCursor;
  warnings: string[];
}

export interface AggregatesResult {
  /** Per aggregate key (see `aggregateKey`): the fold of every ledger record with that key. */
  aggregates: Map<string, AggregateState>;
  /** The ledger position the aggregates cover (the whole ledger as of the read). */
  position: LedgerPosition;
  warnings: string[];
}

/** Reads: available on the store and, seeing the transaction's own writes, on a transaction. */
export interface StoreReader {
  /** A version with its full content. VERSION_NOT_FOUND if unknown. */
  getVersion(id: string): Promise<Version>;
  /** By id, full hash or unique prefix of >= 4 hex chars. VERSION_NOT_FOUND / VERSION_AMBIGUOUS (candidates in the message). */
  resolveVersion(idOrPrefix: string): Promise<VersionSummary>;
  /** Registered versions (optionally of one role), oldest first. */
  listVersions(filter?: { role?: string }): Promise<VersionSummary[]>;

  /** The routing state document (every role). Empty state when nothing was ever written. */
  loadState(): Promise<CanaryState>;

  /** Per task id: its latest assignment, that assignment's outcome and late outcome. Unknown ids are absent. */
  getTasks(taskIds: readonly string[]): Promise<TasksResult>;
  /**
   * Assignments with no outcome yet (a timeout is one), routed before `routedBefore` (ISO), of
   * `role` and of `canaryId` if given, oldest first, at most `limit`. (The timeout sweep finds a
   * running canary's overdue tasks in its aggregate, without a query; this answers any other question.)
   */
  overdueAssignments(filter: { role?: string; canaryId?: string; routedBefore: string; limit?: number }): Promise<AssignmentRecord[]>;
  /** Stream ledger records after `from` (null: from the start), in ledger order. */
  readLedger(from: LedgerPosition | null, onRecord: (record: LedgerRecord) => void): Promise<LedgerReadResult>;

  /**
   * Audit events after `after` (null: from the start), in revision order, of `role` if given, at
   * most `limit` (then `cursor` points after the last one returned). Includes events of a
   * committed transition even if a crash kept them out of the log proper (adapter repair).
   */
  readAudit(options?: { role?: string; after?: AuditCursor | null; limit?: number }): Promise<AuditReadResult>;

  /**
   * The aggregates (the pure `foldLedger` of the whole ledger, per key), of `keys` if given.
   * Caught up with the ledger on every call; a missing, stale or damaged persisted copy is rebuilt
   * by refolding (never an error).
   */
  aggregates(keys?: readonly string[]): Promise<AggregatesResult>;

  /** Outbox entries, oldest first; `status` filters. */
  listAlerts(filter?: { status?: OutboxEntry['status']; role?: string }): Promise<OutboxEntry[]>;

  /**
   * An opaque token that changes with every committed write (state, registry, ledger, audit,
   * outbox). Equal tokens mean nothing changed: derived caches (the status memo) key on it.
   */
  revision(): Promise<string>;
}

/** A unit of work: reads plus writes; everything it writes commits when `fn` resolves. */
export interface StoreTransaction extends StoreReader {
  /** Content-addressed and idempotent: the same bundle again returns the existing version, `isNew: false`, and writes nothing. Allowed in every scope. */
  registerVersion(bundle: RoleBundle, origin?: VersionOrigin): Promise<RegisterResult>;

  /**
   * Compare-and-swap transitions: against the latest committed state of the roles named, apply
   * each request with the pure `applyTransition` of @bernstein/canary-router, in order; assign each
   * event a store-wide increasing `revision`; append the events to the audit log; write one outbox
   * entry per alerting event (`alertPayload(event) !== null`, id `eventId(event)`). A request whose
   * preconditions no longer hold throws what `applyTransition` throws (CONFLICT, CANARY_EXISTS, ...)
   * and none of the requests is applied. Nothing to apply (and no disk change): writes nothing.
   * Every request's role must be in scope.
   */
  applyTransitions(requests: readonly TransitionRequest[], options?: ApplyOptions): Promise<AppliedTransitions>;

  /**
   * Append assignments. A task's newest assignment replaces its older one for lookups (a re-route
   * in a new canary window); the ledger keeps both. Folded into the aggregates in the same unit of work.
   */
  appendAssignments(records: readonly AssignmentRecord[]): Promise<void>;
  /**
   * Append outcomes (real ones and the timeouts the sweep writes) and late outcomes, checked with
   * `acceptResolution` (core/resolution.ts): each must belong to its task's latest assignment
   * (same role, arm, version, canary, epoch); TASK_UNKNOWN for a task never routed;
   * DUPLICATE_OUTCOME when that assignment already has an outcome, or a late outcome, or a late
   * one answers a real outcome (also within the same call); nothing of the call is written then.
   * `getTasks` then shows the outcome and the late one. Folded into the aggregates in the same unit of work.
   */
  appendOutcomes(records: readonly (OutcomeRecord | LateOutcomeRecord)[]): Promise<void>;

  /** Audit lines that are not transitions (`alert-delivered`, `alert-failed`): no state change, no new revision. */
  appendAuditNotes(events: readonly AuditEvent[]): Promise<void>;

  /**
   * Claim up to `limit` pending outbox entries whose claim is free or expired, for `holder`, until
   * `now + leaseMs`. Two concurrent claimers never get the same entry. Allowed in every scope.
   */
  claimAlerts(options: { holder: string; leaseMs: number; limit?: number }): Promise<OutboxEntry[]>;
  /**
   * Record delivery attempts of a claimed entry and its new status (`pending` again to retry later,
   * `delivered`, or `failed` = given up); releases the claim. CONFLICT if `holder` lost the claim.
   */
  completeAlert(id: string, holder: string, result: { attempts: readonly AlertAttempt[]; status: OutboxEntry['status'] }): Promise<OutboxEntry>;
}

export interface RolloutStore extends StoreReader {
  /** 'file', 'postgres', ... */
  readonly kind: string;
  /** What to call the store in messages (a folder, a URL without its password). */
  readonly name: string;
  /**
   * Run `fn` as a unit of work over `scope`. Not reentrant: pass `tx` down instead of opening a
   * nested transaction. Waits for the scope's locks (LOCK_TIMEOUT when that takes too long).
   */
  transaction<T>(scope: StoreScope, fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Release connections, file handles and timers. The store is unusable afterwards. */
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** The project root: where `.sdd/` lives (file adapter) and what messages name. */
  root: string;
  /** Clock for outbox leases and timestamps the adapter writes itself; injectable for tests. */
  now?: () => Date;
}

/** How a shell opens an adapter: `openFileStore(root, options)`, `openPostgresStore(url, options)`. */
export type StoreOpener = (target: string, options: OpenStoreOptions) => Promise<RolloutStore>;
