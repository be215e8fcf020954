import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { BernsteinError, projectPaths, withProjectLock, type LockHandle, type ProjectPaths } from '@bernstein/store';
import type { AssignmentRecord, LateOutcomeRecord, LedgerRecord, OutcomeRecord, RegisterResult, RoleBundle, TaskEntry, Version, VersionOrigin, VersionSummary } from '@bernstein/prompt-versions';
import { applyTransition, canaryStateDocument, type AuditEvent, type CanaryState } from '@bernstein/canary-router';
import {
  acceptResolution,
  foldInto,
  openRollout,
  type ResolutionSlot,
  type Rollout,
  type RolloutOptions,
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
import { FileAggregates, type LoadedAggregates } from './aggregates-file.js';
import { FileMemo } from './file-memo.js';
import { FileAuditLog } from './audit-file.js';
import { FileLedger, LEDGER_START, type LedgerCursor } from './ledger-file.js';
import { FileOutbox } from './outbox-file.js';
import { FileRegistry } from './registry-file.js';
import { FileTaskIndex, ledgerIdentity } from './task-index.js';

/**
 * The `.sdd/` file adapter of the storage port. Byte offsets live here and nowhere else: ledger
 * positions and audit cursors handed out are `<offset>:<line>` strings that only this adapter
 * reads back. Every transaction takes the one project lock (`.sdd/lock`, inter-process), whatever
 * its scope; reads take none (every replace is atomic and logs tolerate a torn tail).
 */
export class FileStore implements RolloutStore {
  readonly kind = 'file';
  readonly name: string;
  readonly paths: ProjectPaths;
  private readonly now: () => Date;
  private readonly registry: FileRegistry;
  private readonly ledger: FileLedger;
  private readonly audit: FileAuditLog;
  private readonly outbox: FileOutbox;
  private readonly aggregateCache: FileAggregates;
  private taskIndex: FileTaskIndex | undefined;
  /** The routing state, parsed once per change of its file. */
  private readonly state: FileMemo<CanaryState>;
  /** Set inside this store's transactions (to refuse nesting, which would deadlock). */
  private readonly current = new AsyncLocalStorage<true>();
  private active = 0;

  private get inTransaction(): boolean {
    return this.active > 0;
  }

  constructor(root: string, options: Omit<OpenStoreOptions, 'root'> = {}) {
    this.paths = projectPaths(root);
    this.name = this.paths.sdd;
    this.now = options.now ?? (() => new Date());
    this.registry = new FileRegistry(this.paths, this.now);
    this.ledger = new FileLedger(this.paths);
    this.audit = new FileAuditLog(this.paths);
    this.outbox = new FileOutbox(this.paths);
    this.aggregateCache = new FileAggregates(this.paths, this.ledger);
    this.state = new FileMemo(this.paths.canaryState, () => canaryStateDocument.load(this.paths.canaryState));
  }

  async transaction<T>(scope: StoreScope, fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    void scope; // one project lock serves every scope
    if (this.current.getStore()) throw new BernsteinError('INVALID_ARGUMENT', 'a file store transaction is not reentrant: pass the transaction down instead of opening another');
    return new Promise<T>((resolve, reject) => {
      this.units.push({
        run: async (lock) => {
          let durable: Promise<void> | null = null;
          let result: T;
          try {
            result = await this.current.run(true, async () => {
              this.active += 1;
              const tx = new FileTransaction(this, lock);
              try {
                const value = await fn(tx);
                await tx.commit();
                // Issued now, under the lock and after every append of this unit of work.
                if (tx.appendedToLedger) durable = this.ledger.sync();
                return value;
              } finally {
                this.active -= 1;
                // Lookups keep the ledger open; a long-lived process should not hold it between calls.
                this.ledger.closeReader();
              }
            });
          } catch (error) {
            reject(error);
            return;
          }
          // Answered once durable, while the next unit of work already runs.
          if (durable === null) resolve(result);
          else (durable as Promise<void>).then(() => resolve(result), reject);
        },
        fail: reject,
      });
      this.runUnits();
    });
  }

  /** Units of work of this process waiting for their turn, in order. */
  private readonly units: Array<{ run: (lock: LockHandle) => Promise<void>; fail: (error: unknown) => void }> = [];
  private runningUnits = false;
  /** Settles when the queue has run dry and the lock is released. */
  private unitsRunning: Promise<void> = Promise.resolve();

  /**
   * Run the queued units of work one after another. Units that queue while one runs take the
   * project lock over from it instead of releasing and taking it again (a lease of at most
   * LOCK_LEASE_MS), and the ledger's fsync of one runs while the next already works: a busy
   * server pays one lock per lease and hides the disk's latency, and is answered only once
   * durable. After a full lease the lock is left free for LOCK_YIELD_MS, so that other processes
   * (the CLI) get their turn.
   */
  private runUnits(): void {
    if (this.runningUnits) return;
    this.runningUnits = true;
    this.unitsRunning = (async () => {
      try {
        while (this.units.length > 0) {
          const leased = performance.now();
          try {
            await withProjectLock(this.paths, async (lock) => {
              do await this.units.shift()!.run(lock);
              while (this.units.length > 0 && performance.now() - leased < LOCK_LEASE_MS);
            });
          } catch (error) {
            // The lock could not be taken (LOCK_TIMEOUT, IO_ERROR): the unit whose turn it was fails.
            this.units.shift()?.fail(error);
            continue;
          }
          if (this.units.length > 0) await new Promise((resolve) => setTimeout(resolve, LOCK_YIELD_MS));
        }
      } finally {
        this.runningUnits = false;
      }
    })();
  }

  async close(): Promise<void> {
    // Best effort: a busy lock or a read-only folder leaves the derived copy behind, not wrong.
    await this.flushAggregates().catch(() => undefined);
    this.ledger.closeReader();
  }

  // ---- reads -------------------------------------------------------------------------------

  getVersion(id: string): Promise<Version> {
    return this.registry.get(id);
  }

  resolveVersion(idOrPrefix: string): Promise<VersionSummary> {
    return this.registry.resolve(idOrPrefix);
  }

  listVersions(filter: { role?: string } = {}): Promise<VersionSummary[]> {
    return this.registry.list(filter);
  }

  async loadState(): Promise<CanaryState> {
    // A copy: the memo outlives the caller, who may build on what it gets.
    return structuredClone(await this.state.get());
  }

  /** The ledger indexed by task id (.sdd/cache/tasks.idx), caught up with the file. */
  async index(): Promise<FileTaskIndex> {
    this.taskIndex ??= new FileTaskIndex(this.ledger, this.paths);
    await this.taskIndex.catchUp();
    return this.taskIndex;
  }

  async getTasks(taskIds: readonly string[]): Promise<TasksResult> {
    const index = await this.index();
    const found = new Map<string, TaskEntry>();
    try {
      for (const taskId of taskIds) {
        if (found.has(taskId)) continue;
        const entry = await index.get(taskId);
        if (entry) found.set(taskId, entry);
      }
    } finally {
      if (!this.inTransaction) this.ledger.closeReader();
    }
    return { tasks: found, warnings: [...index.warnings] };
  }

  async overdueAssignments(filter: { role?: string; canaryId?: string; routedBefore: string; limit?: number }): Promise<AssignmentRecord[]> {
    const open = new Map<string, AssignmentRecord>();
    await this.ledger.read(LEDGER_START, (record) => {
      if (filter.role !== undefined && record.role !== filter.role) return;
      if (filter.canaryId !== undefined && record.canaryId !== filter.canaryId) {
        // The task's latest assignment is in another window now: not this canary's.
        if (record.type === 'assign') open.delete(record.taskId);
        return;
      }
      if (record.type === 'assign') {
        open.delete(record.taskId);
        open.set(record.taskId, record);
      } else open.delete(record.taskId);
    });
    const due = [...open.values()].filter((a) => a.at < filter.routedBefore).sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    return filter.limit === undefined ? due : due.slice(0, filter.limit);
  }

  async readLedger(from: LedgerPosition | null, onRecord: (record: LedgerRecord) => void): Promise<LedgerReadResult> {
    const { cursor, warnings } = await this.ledger.read(from === null ? LEDGER_START : decodePosition(from, this.paths.ledger), (record) => onRecord(record));
    return { position: encodePosition(cursor) as LedgerPosition, warnings };
  }

  async readAudit(options: { role?: string; after?: AuditCursor | null; limit?: number } = {}): Promise<AuditReadResult> {
    const from = options.after ? decodePosition(options.after, this.paths.audit) : undefined;
    const [read, state] = await Promise.all([
      this.audit.read({ ...(options.role !== undefined ? { role: options.role } : {}), ...(from ? { from } : {}), ...(options.limit !== undefined ? { limit: options.limit } : {}) }),
      this.loadState(),
    ]);
    let events = read.events;
    if (read.complete) {
      // The events of the state's latest revision, if a crash kept them out of the log (the next
      // writer appends them; readers should not wait for that).
      const lastRevision = await this.lastAuditRevision();
      const pending = (state.lastEvents ?? []).filter((e) => e.revision > lastRevision && (options.role === undefined || e.role === options.role));
      if (pending.length > 0) events = [...events, ...pending];
    }
    return { events, cursor: encodePosition(read.cursor) as AuditCursor, warnings: read.warnings };
  }

  /** The highest revision in the audit log, read incrementally (the log only grows). */
  private auditHigh: { cursor: LedgerCursor; revision: number } = { cursor: LEDGER_START, revision: 0 };

  private async lastAuditRevision(): Promise<number> {
    let size = 0;
    try {
      size = statSync(this.paths.audit).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    // Shorter than where we were: the log was replaced; start over.
    if (size < this.auditHigh.cursor.offset) this.auditHigh = { cursor: LEDGER_START, revision: 0 };
    if (size === this.auditHigh.cursor.offset) return this.auditHigh.revision;
    const { events, cursor } = await this.audit.read({ from: this.auditHigh.cursor });
    const revision = events.reduce((max, event) => Math.max(max, event.revision), this.auditHigh.revision);
    this.auditHigh = { cursor, revision };
    return revision;
  }

  async aggregates(keys?: readonly string[]): Promise<AggregatesResult> {
    return toAggregatesResult(await this.caughtUpAggregates(), keys);
  }

  /**
   * The aggregates as this process last folded them, with the ledger file (inode) and offset they
   * cover: the next unit of work folds only what the ledger gained since (nothing, when this
   * process is the only writer) instead of parsing aggregates.json and its tail again. Always a
   * consistent pair: a unit of work folds its appends and moves the cursor in one synchronous step.
   */
  private aggregatesMemo: { loaded: LoadedAggregates; ino: number } | undefined;
  /** Where and when this process last saved aggregates.json. */
  private aggregatesSaved: { offset: number; at: number } | undefined;

  /**
   * The aggregates caught up with the ledger. Callers copy before folding into them, except a unit
   * of work, which folds its own appends into the memo (see FileTransaction.append).
   */
  private async caughtUpAggregates(): Promise<LoadedAggregates> {
    const ledger = ledgerIdentity(this.paths.ledger);
    const memo = this.aggregatesMemo;
    const usable = memo !== undefined && ledger !== null && ledger.ino === memo.ino && ledger.size >= memo.loaded.cursor.offset;
    if (usable && ledger.size === memo.loaded.cursor.offset) return memo.loaded;
    const loaded = await this.aggregateCache.current({ saveIfFarBehind: !this.inTransaction, ...(usable ? { after: memo.loaded } : {}) });
    // Keep the furthest fold (a reader outside a unit of work may race one that appends).
    if (ledger !== null && (this.aggregatesMemo === undefined || this.aggregatesMemo.ino !== ledger.ino || loaded.cursor.offset >= this.aggregatesMemo.loaded.cursor.offset)) {
      this.aggregatesMemo = { loaded, ino: ledger.ino };
    }
    return loaded;
  }

  /**
   * aggregates.json is derived (readers fold the ledger after its cursor), so a busy process saves
   * it at most every AGGREGATES_SAVE_MS or AGGREGATES_SAVE_BYTES of ledger (at a commit), and on
   * close(); a short-lived one (the CLI) saves at its first commit, as before. Call under the lock.
   */
  private async saveAggregatesIfDue(loaded: LoadedAggregates, lock: LockHandle, force: boolean): Promise<void> {
    const saved = this.aggregatesSaved;
    const now = Date.now();
    if (saved !== undefined && saved.offset === loaded.cursor.offset) return;
    if (!force && saved !== undefined && loaded.cursor.offset - saved.offset < AGGREGATES_SAVE_BYTES && now - saved.at < AGGREGATES_SAVE_MS) {
      this.aggregatesDeferred = true;
      return;
    }
    // writeFileAtomic checks that the lock is still ours right before it replaces the file.
    await this.aggregateCache.save(loaded);
    this.aggregatesSaved = { offset: loaded.cursor.offset, at: now };
    this.aggregatesDeferred = false;
  }

  /** A commit left its fold unsaved (see saveAggregatesIfDue): close() saves it. */
  private aggregatesDeferred = false;

  /**
   * Save the folded aggregates now, if this process holds a fold newer than what it saved (on
   * close). Best effort and bounded: a lock another process holds leaves the derived copy behind.
   */
  private async flushAggregates(): Promise<void> {
    await this.unitsRunning;
    if (!this.aggregatesDeferred || this.aggregatesMemo === undefined) return;
    await withProjectLock(this.paths, async (lock) => this.saveAggregatesIfDue(await this.caughtUpAggregates(), lock, true), { timeoutMs: 250 });
  }

  async listAlerts(filter: { status?: OutboxEntry['status']; role?: string } = {}): Promise<OutboxEntry[]> {
    const { entries } = await this.outbox.entries();
    return [...entries.values()]
      .filter((e) => (filter.status === undefined || e.status === filter.status) && (filter.role === undefined || e.role === filter.role))
      .sort((a, b) => a.revision - b.revision);
  }

  async revision(): Promise<string> {
    const hash = createHash('sha256');
    for (const file of [this.paths.canaryState, this.paths.registry, this.paths.ledger, this.paths.audit, this.paths.outbox]) {
      try {
        const info = await stat(file);
        hash.update(`${file}\0${info.size}\0${info.mtimeMs}\0${info.ino}\0`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new BernsteinError('IO_ERROR', `${file}: ${(error as Error).message}`);
        hash.update(`${file}\0missing\0`);
      }
    }
    return hash.digest('hex');
  }

  // ---- used by FileTransaction (under the lock) ---------------------------------------------

  /** @internal */
  get internals() {
    return {
      registry: this.registry,
      ledger: this.ledger,
      audit: this.audit,
      outbox: this.outbox,
      aggregateCache: this.aggregateCache,
      now: this.now,
      forgetState: () => this.state.invalidate(),
      caughtUpAggregates: () => this.caughtUpAggregates(),
      saveAggregatesIfDue: (loaded: LoadedAggregates, lock: LockHandle, force: boolean) => this.saveAggregatesIfDue(loaded, lock, force),
    };
  }

  /**
   * Load the state (the caller holds the lock) and make sure the audit log and the outbox hold
   * what its latest revision wrote: a crash after the state write leaves them only in the state file.
   */
  /** @internal */
  async recover(lock: LockHandle): Promise<CanaryState> {
    const state = await this.loadState();
    const pending = state.lastEvents ?? [];
    // A revision's events, once found in (or repaired into) the logs, stay there: check each once.
    if (pending.length === 0 || state.revision === this.recoveredRevision) return state;
    const lastRevision = await this.lastAuditRevision();
    const missing = pending.filter((event) => event.revision > lastRevision);
    if (missing.length > 0) {
      await lock.assertHeld();
      await this.audit.append(missing);
    }
    const { entries } = await this.outbox.entries();
    const alerts = pending.map(outboxEntryFor).filter((e): e is OutboxEntry => e !== null && !entries.has(e.id));
    if (alerts.length > 0) {
      await lock.assertHeld();
      await this.outbox.append(alerts.map(FileOutbox.alertLine));
    }
    this.recoveredRevision = state.revision;
    return state;
  }

  /** The state revision whose events recover() last found complete in the audit log and the outbox. */
  private recoveredRevision: number | undefined;
}

function toAggregatesResult(loaded: LoadedAggregates, keys: readonly string[] | undefined): AggregatesResult {
  // Copies: callers fold into what they get (decisions see an outcome before it is written).
  const pick = keys === undefined ? [...loaded.states.keys()] : keys.filter((k) => loaded.states.has(k));
  const aggregates = new Map(pick.map((k) => [k, structuredClone(loaded.states.get(k)!)] as const));
  return { aggregates, position: encodePosition(loaded.cursor) as LedgerPosition, warnings: loaded.warnings };
}

/** A unit of work under the project lock. Reads see its own writes (they go straight to the files). */
class FileTransaction implements StoreTransaction {
  /** Records were appended to the ledger without an fsync: the commit syncs them (FileStore.transaction). */
  appendedToLedger = false;
  private loadedAggregates: LoadedAggregates | undefined;
  private aggregatesDirty = false;
  private recovered = false;

  constructor(
    private readonly store: FileStore,
    private readonly lock: LockHandle,
  ) {}

  /** Save the derived aggregates the appends changed (when due: see FileStore.saveAggregatesIfDue). */
  async commit(): Promise<void> {
    if (this.loadedAggregates && this.aggregatesDirty) await this.store.internals.saveAggregatesIfDue(this.loadedAggregates, this.lock, false);
  }


  getVersion(id: string) {
    return this.store.getVersion(id);
  }
  resolveVersion(idOrPrefix: string) {
    return this.store.resolveVersion(idOrPrefix);
  }
  listVersions(filter?: { role?: string }) {
    return this.store.listVersions(filter);
  }
  async loadState() {
    if (!this.recovered) {
      this.recovered = true;
      return this.store.recover(this.lock);
    }
    return this.store.loadState();
  }
  getTasks(taskIds: readonly string[]) {
    return this.store.getTasks(taskIds);
  }
  overdueAssignments(filter: { role?: string; canaryId?: string; routedBefore: string; limit?: number }) {
    return this.store.overdueAssignments(filter);
  }
  readLedger(from: LedgerPosition | null, onRecord: (record: LedgerRecord) => void) {
    return this.store.readLedger(from, onRecord);
  }
  readAudit(options?: { role?: string; after?: AuditCursor | null; limit?: number }) {
    return this.store.readAudit(options);
  }
  async aggregates(keys?: readonly string[]): Promise<AggregatesResult> {
    return toAggregatesResult(await this.currentAggregates(), keys);
  }
  listAlerts(filter?: { status?: OutboxEntry['status']; role?: string }) {
    return this.store.listAlerts(filter);
  }
  revision() {
    return this.store.revision();
  }

  private async currentAggregates(): Promise<LoadedAggregates> {
    this.loadedAggregates ??= await this.store.internals.caughtUpAggregates();
    return this.loadedAggregates;
  }

  // ---- writes ------------------------------------------------------------------------------

  registerVersion(bundle: RoleBundle, origin?: VersionOrigin): Promise<RegisterResult> {
    return this.store.internals.registry.register(bundle, origin);
  }

  async applyTransitions(requests: readonly TransitionRequest[], options: ApplyOptions = {}): Promise<AppliedTransitions> {
    let state = await this.store.recover(this.lock);
    this.recovered = true;
    const events: AuditEvent[] = [];
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
    const observed = options.observedDisk;
    const diskChanged = observed !== undefined && state.disk?.[observed.role] !== observed.versionId;
    if (events.length === 0 && !diskChanged) return { state, events, alerts: [] };
    // The state file carries the events of its latest revision, so that a crash between the
    // state write and the audit / outbox appends is repaired by the next writer (see recover()).
    let next: CanaryState = events.length > 0 ? { ...state, lastEvents: events } : state;
    if (observed && diskChanged) next = { ...next, disk: { ...next.disk, [observed.role]: observed.versionId } };
    const alerts = events.map(outboxEntryFor).filter((e): e is OutboxEntry => e !== null);
    const { audit, outbox } = this.store.internals;
    await this.lock.assertHeld();
    await canaryStateDocument.save(this.store.paths.canaryState, next);
    this.store.internals.forgetState();
    await audit.append(events);
    await outbox.append(alerts.map(FileOutbox.alertLine));
    return { state: next, events, alerts };
  }

  async appendAssignments(records: readonly AssignmentRecord[]): Promise<void> {
    await this.append(records);
  }

  async appendOutcomes(records: readonly (OutcomeRecord | LateOutcomeRecord)[]): Promise<void> {
    if (records.length === 0) return;
    const index = await this.store.index();
    const slots = new Map<string, ResolutionSlot | undefined>();
    for (const record of records) {
      if (!slots.has(record.taskId)) {
        const entry = await index.get(record.taskId);
        slots.set(record.taskId, entry && { assignment: entry.assignment, outcome: entry.outcome, late: entry.late ?? null });
      }
      acceptResolution(slots.get(record.taskId), record);
    }
    await this.append(records);
  }

  /** Append to the ledger through the task index, and fold the records into the aggregates. */
  private async append(records: readonly LedgerRecord[]): Promise<void> {
    if (records.length === 0) return;
    const aggregates = await this.currentAggregates();
    const index = await this.store.index();
    // The lock is checked by appendRecords right before it writes (once: each check reads lock.owner).
    this.appendedToLedger = true;
    await index.append(records, { durable: false });
    // One synchronous step: the fold (shared with later units of work) and its cursor move together.
    foldInto(aggregates.states, records);
    aggregates.cursor = index.cursor;
    this.aggregatesDirty = true;
  }

  async appendAuditNotes(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.lock.assertHeld();
    await this.store.internals.audit.append(events);
  }

  async claimAlerts(options: { holder: string; leaseMs: number; limit?: number }): Promise<OutboxEntry[]> {
    const { outbox, now } = this.store.internals;
    const { entries } = await outbox.entries();
    const at = now();
    const until = new Date(at.getTime() + options.leaseMs).toISOString();
    const claimable = [...entries.values()]
      .filter((e) => e.status === 'pending' && (e.claim === null || Date.parse(e.claim.until) < at.getTime()))
      .sort((a, b) => a.revision - b.revision)
      .slice(0, options.limit ?? Number.POSITIVE_INFINITY);
    if (claimable.length === 0) return [];
    await this.lock.assertHeld();
    await outbox.append(claimable.map((e) => FileOutbox.claimLine(e.id, options.holder, until)));
    return claimable.map((e) => ({ ...e, claim: { holder: options.holder, until } }));
  }

  async completeAlert(id: string, holder: string, result: { attempts: readonly AlertAttempt[]; status: OutboxEntry['status'] }): Promise<OutboxEntry> {
    const { outbox } = this.store.internals;
    const { entries } = await outbox.entries();
    const entry = entries.get(id);
    if (!entry) throw new BernsteinError('INVALID_ARGUMENT', `no alert ${id} in the outbox`, { id });
    if (entry.claim?.holder !== holder) {
      throw new BernsteinError('CONFLICT', `alert ${id} is no longer claimed by ${holder} (its lease expired and ${entry.claim ? `${entry.claim.holder} took it over` : 'it was released'})`, { id });
    }
    await this.lock.assertHeld();
    await outbox.append([FileOutbox.completeLine(id, holder, result.attempts, result.status)]);
    return { ...entry, attempts: [...entry.attempts, ...result.attempts], status: result.status, claim: null };
  }
}

/** Units of work of this process that queue behind each other share one hold of the project lock for at most this long... */
const LOCK_LEASE_MS = 100;
/** ...and then leave it free this long before taking it again, so that other processes get their turn. */
const LOCK_YIELD_MS = 10;

/** A busy process saves aggregates.json at most this often (it is derived: readers fold the ledger after it)... */
const AGGREGATES_SAVE_MS = 1000;
/** ...or when this much ledger was folded since its last save. */
const AGGREGATES_SAVE_BYTES = 1024 * 1024;

function encodePosition(cursor: LedgerCursor): string {
  return `${cursor.offset}:${cursor.line}`;
}

function decodePosition(position: string, file: string): LedgerCursor {
  const match = /^(\d+):(\d+)$/.exec(position);
  if (!match) throw new BernsteinError('INVALID_ARGUMENT', `invalid position "${position}" for ${file}: expected one this store handed out`);
  return { offset: Number(match[1]), line: Number(match[2]) };
}

/** The adapter's opener (StoreOpener): the `.sdd/` folder of `root`. */
export async function openFileStore(root: string, options: Partial<OpenStoreOptions> = {}): Promise<FileStore> {
  return new FileStore(root, options.now ? { now: options.now } : {});
}

export type { AggregateState };

/**
 * The services over the `.sdd/` files of `root` in one call: what a library user on one machine
 * wants (`routeTasks(openFileRollout('.'), 'backend', ['T-1'])`).
 */
export function openFileRollout(root: string, options: Omit<RolloutOptions, 'root' | 'store'> = {}): Rollout {
  return openRollout({ root, store: new FileStore(root, options.now ? { now: options.now } : {}), ...options });
}
