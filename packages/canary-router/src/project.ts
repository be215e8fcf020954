import { randomBytes } from 'node:crypto';
import { withProjectLock, projectPaths, type ProjectPaths } from '@bernstein/store';
import { FileLedger, FileRegistry, FileTaskIndex, type LedgerStore, type RegistryStore, type TaskIndex } from '@bernstein/prompt-versions';
import { FileAuditLog, type AuditLogStore } from './audit.js';
import {
  applyTransition,
  canaryStateDocument,
  loadProjectConfig,
  type Actor,
  type AuditEvent,
  type CanaryState,
  type ProjectConfig,
  type Transition,
} from './core.js';

/** The state store contract: load the routing state; apply transitions exactly once. */
export interface CanaryStateStore {
  load(): Promise<CanaryState>;
  /**
   * Apply transitions atomically against the latest state and append their audit events.
   * A transition whose preconditions no longer hold (another process got there first) throws
   * CONFLICT and nothing is applied.
   */
  apply(requests: readonly TransitionRequest[], options?: ApplyOptions): Promise<AppliedTransitions>;
}

export interface ApplyOptions {
  /** Also record that routing has acted on this bundle on disk (see CanaryState.disk). */
  observedDisk?: { role: string; versionId: string };
}

export interface TransitionRequest {
  transition: Transition;
  actor: Actor;
  reason: string;
  evidence?: unknown;
}

export interface AppliedTransitions {
  state: CanaryState;
  events: AuditEvent[];
}

export interface ProjectOptions {
  /** Clock, injectable for tests and simulations. */
  now?: () => Date;
  /** Source of new canary ids (12 lowercase hex); injectable so seeded simulations reproduce routing. */
  newCanaryId?: () => string;
}

/**
 * One project's stores under `<root>/.sdd/`: the registry, the ledger, the routing state and the
 * audit log, plus the user's config. Every write happens under the project lock; reads need none.
 * A database-backed project implements the same store interfaces with the same semantics.
 */
export class FileProject implements CanaryStateStore {
  readonly paths: ProjectPaths;
  readonly registry: FileRegistry & RegistryStore;
  readonly ledger: FileLedger;
  readonly audit: AuditLogStore;
  readonly now: () => Date;
  private readonly newCanaryId: () => string;
  private configCache: Promise<ProjectConfig> | undefined;
  private taskIndex: FileTaskIndex | undefined;

  constructor(root: string, options: ProjectOptions = {}) {
    this.paths = projectPaths(root);
    this.now = options.now ?? (() => new Date());
    this.newCanaryId = options.newCanaryId ?? (() => randomBytes(6).toString('hex'));
    this.registry = new FileRegistry(this.paths, this.now);
    this.ledger = new FileLedger(this.paths);
    this.audit = new FileAuditLog(this.paths);
  }

  /** `.sdd/config.yaml`, read once per project object. */
  config(): Promise<ProjectConfig> {
    this.configCache ??= loadProjectConfig(this.paths);
    return this.configCache;
  }

  /** The ledger indexed by task id (.sdd/cache/tasks.idx), caught up with the file. */
  async index(): Promise<TaskIndex> {
    this.taskIndex ??= new FileTaskIndex(this.ledger, this.paths);
    await this.taskIndex.catchUp();
    return this.taskIndex;
  }

  /** Run `fn` as the project's only writer (reentrant). */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return withProjectLock(this.paths, async () => {
      try {
        return await fn();
      } finally {
        // Lookups keep the ledger open; a long-lived process should not hold it between calls.
        this.ledger.closeReader();
      }
    });
  }

  async load(): Promise<CanaryState> {
    return canaryStateDocument.load(this.paths.canaryState);
  }

  async apply(requests: readonly TransitionRequest[], options: ApplyOptions = {}): Promise<AppliedTransitions> {
    return withProjectLock(this.paths, async (lock) => {
      let state = await this.recover();
      const events: AuditEvent[] = [];
      for (const request of requests) {
        const result = applyTransition(state, request.transition, {
          now: this.now().toISOString(),
          actor: request.actor,
          reason: request.reason,
          evidence: request.evidence ?? null,
          newCanaryId: this.newCanaryId(),
        });
        state = result.doc;
        events.push(result.event);
      }
      const observed = options.observedDisk;
      const diskChanged = observed !== undefined && state.disk?.[observed.role] !== observed.versionId;
      if (events.length === 0 && !diskChanged) return { state, events };
      // The state file carries the events of its latest revision, so that a crash between the
      // state write and the audit append is repaired by the next writer (see recover()).
      let next: CanaryState = events.length > 0 ? { ...state, lastEvents: events } : state;
      if (observed && diskChanged) next = { ...next, disk: { ...next.disk, [observed.role]: observed.versionId } };
      lock.assertHeld();
      await canaryStateDocument.save(this.paths.canaryState, next);
      await this.audit.append(events);
      return { state: next, events };
    });
  }

  /**
   * Load the state under the lock (callers hold it) and make sure the audit log holds the events
   * of its latest revision (a crash after the state write but before the audit append leaves them only in
   * the state file).
   */
  async recover(): Promise<CanaryState> {
    const state = await this.load();
    const pending = state.lastEvents ?? [];
    if (pending.length > 0) {
      const { events } = await this.audit.read();
      const lastRevision = events.reduce((max, event) => Math.max(max, event.revision), 0);
      const missing = pending.filter((event) => event.revision > lastRevision);
      if (missing.length > 0) await this.audit.append(missing);
    }
    return state;
  }
}

/**
 * The audit log as it stands, including the events of the state's latest revision if a crash
 * kept them out of the log (the next writer appends them; readers should not wait for that).
 */
export async function readHistory(project: FileProject, filter: { role?: string } = {}): Promise<{ events: AuditEvent[]; warnings: string[] }> {
  const [{ events, warnings }, state] = await Promise.all([project.audit.read(filter), project.load()]);
  const lastRevision = events.reduce((max, event) => Math.max(max, event.revision), 0);
  const pending = (state.lastEvents ?? []).filter((e) => e.revision > lastRevision && (filter.role === undefined || e.role === filter.role));
  return { events: [...events, ...pending], warnings };
}

export function openProject(root: string, options?: ProjectOptions): FileProject {
  return new FileProject(root, options);
}
