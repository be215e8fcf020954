import type { AuditEvent } from '@bernstein/canary-router';
import { recordOutcomes, routeTasks, type AlertReport, type AuditCursor, type OutcomeInput, type Rollout, type RouteResult, type SkippedLine } from '@bernstein/rollout';

/**
 * The orchestrator's single door to the toolkit. Workers call `route` and `record` concurrently;
 * the gateway runs one toolkit call at a time (the toolkit serialises writers with a file lock
 * anyway, and contending for it from one process only adds back-off sleeps) and coalesces what
 * piles up meanwhile: all outcomes waiting are recorded in one `recordOutcomes` call (which still
 * evaluates after every outcome), all tasks of a role waiting for a route are routed in one
 * `routeTasks` call. Outcomes go first, so a decision lands before more tasks are routed.
 *
 * After every call it reads the audit log's new events and hands them to `onAudit` before the
 * callers resume: every transition (automatic canary starts during routing, steps, promotions,
 * rollbacks, alert failures) is seen in order, whoever caused it. Alerts are delivered by the
 * service layer after each commit (the outbox); `onAlert` hears what each delivery did.
 */
export interface ToolkitHooks {
  onAudit?: (events: readonly AuditEvent[]) => void;
  onWarning?: (message: string) => void;
  onAlert?: (delivered: readonly AlertReport[]) => void;
}

export interface RecordedOutcome {
  recorded: boolean;
  skipped?: SkippedLine;
}

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export class Toolkit {
  private records: Array<Pending<RecordedOutcome> & { input: OutcomeInput }> = [];
  private routes = new Map<string, Array<Pending<RouteResult> & { taskId: string }>>();
  private jobs: Array<Pending<unknown> & { run: () => Promise<unknown> }> = [];
  private pumping = false;
  private scheduled = false;
  private auditCursor: AuditCursor | null = null;
  private readonly warned = new Set<string>();
  /** Toolkit calls made, tasks they carried, and time spent in them. */
  readonly calls = { route: 0, record: 0, jobs: 0, routedTasks: 0, recordedTasks: 0, busyMs: 0 };

  constructor(
    readonly rollout: Rollout,
    private readonly hooks: ToolkitHooks = {},
  ) {
    rollout.alerts.onReport((report) => this.hooks.onAlert?.([report]));
    rollout.alerts.onError((error) => this.warn(`alerts could not be delivered: ${(error as Error).message}`));
  }

  /** Skip audit events written before now (a kept workspace's history). */
  async skipExistingAudit(): Promise<void> {
    await this.readAudit(false);
  }

  route(role: string, taskId: string): Promise<RouteResult> {
    return new Promise((resolve, reject) => {
      const list = this.routes.get(role);
      const entry = { taskId, resolve, reject };
      if (list) list.push(entry);
      else this.routes.set(role, [entry]);
      this.schedule();
    });
  }

  record(input: OutcomeInput): Promise<RecordedOutcome> {
    return new Promise((resolve, reject) => {
      this.records.push({ input, resolve, reject });
      this.schedule();
    });
  }

  /** Run `fn` between toolkit calls (nothing else runs meanwhile), then read the audit log. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({ run: fn, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Wait for alert deliveries in flight (each is bounded by alerts.timeout_ms), then read the audit log. */
  async drain(): Promise<void> {
    await this.rollout.alerts.drain();
    await this.exclusive(async () => undefined);
  }

  private warn(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.hooks.onWarning?.(message);
  }

  private schedule(): void {
    if (this.pumping || this.scheduled) return;
    this.scheduled = true;
    // Let every worker that is ready in this turn queue its request first.
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.records.length > 0 || this.routes.size > 0 || this.jobs.length > 0) {
        const started = performance.now();
        if (this.records.length > 0) await this.recordBatch(this.records.splice(0));
        else if (this.jobs.length > 0) await this.runJob(this.jobs.shift()!);
        else {
          const routes = this.routes;
          this.routes = new Map();
          // One lock for all roles' batches (routeTasks takes it reentrantly).
          for (const [role, entries] of routes) await this.routeBatch(role, entries);
        }
        this.calls.busyMs += performance.now() - started;
      }
    } finally {
      this.pumping = false;
    }
  }

  private async recordBatch(batch: Array<Pending<RecordedOutcome> & { input: OutcomeInput }>): Promise<void> {
    this.calls.record += 1;
    this.calls.recordedTasks += batch.length;
    try {
      const result = await recordOutcomes(
        this.rollout,
        batch.map((entry, i) => ({ line: i + 1, value: entry.input })),
      );
      for (const warning of result.warnings) this.warn(warning);
      await this.readAudit(true);
      const skipped = new Map(result.skipped.map((s) => [s.line, s]));
      batch.forEach((entry, i) => {
        const skip = skipped.get(i + 1);
        entry.resolve(skip ? { recorded: false, skipped: skip } : { recorded: true });
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }

  private async routeBatch(role: string, entries: Array<Pending<RouteResult> & { taskId: string }>): Promise<void> {
    this.calls.route += 1;
    this.calls.routedTasks += entries.length;
    try {
      const results = await routeTasks(this.rollout, role, entries.map((e) => e.taskId));
      await this.readAudit(true);
      entries.forEach((entry, i) => entry.resolve(results[i]!));
    } catch (error) {
      for (const entry of entries) entry.reject(error);
    }
  }

  private async runJob(job: Pending<unknown> & { run: () => Promise<unknown> }): Promise<void> {
    this.calls.jobs += 1;
    try {
      const value = await job.run();
      await this.readAudit(true);
      job.resolve(value);
    } catch (error) {
      job.reject(error);
    }
  }

  private async readAudit(emit: boolean): Promise<void> {
    const result = await this.rollout.store.readAudit({ after: this.auditCursor });
    this.auditCursor = result.cursor;
    for (const warning of result.warnings) this.warn(warning);
    // Deliveries are told by onAlert; the audit hook gets transitions and failed alerts.
    const events = result.events.filter((e) => e.action !== 'alert-delivered');
    if (emit && events.length > 0) this.hooks.onAudit?.(events);
  }
}
