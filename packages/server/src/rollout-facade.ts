/**
 * ServiceFacade over the rollout service layer (@bernstein/rollout) on whatever store the CLI's
 * picker opened (the .sdd/ files or a database), with group commit: the server writes one batch
 * at a time, and concurrent routes of a role (and stratum), concurrent outcomes and concurrent
 * manual transitions each become one service call: one unit of work, one fsync or commit.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { BernsteinError } from '@bernstein/store';
import { diffVersions, type Version } from '@bernstein/prompt-versions';
import { decideRoute, type AuditEvent, type RoleState } from '@bernstein/canary-router';
import {
  canaryRole,
  canaryStatus,
  collectReport,
  promoteCanary,
  readHistory,
  recordOutcomes,
  renderReport,
  rollbackCanary,
  routeTasks,
  startCanaryOfVersion,
  sweepTimeouts,
  type AuditCursor,
  type LateLine,
  type LifecycleResult,
  type OutcomeInput,
  type Rollout,
  type SkippedLine,
} from '@bernstein/rollout';
import { GroupCommitQueue } from './group-commit.js';
import type { AlertOutcome, OutcomeVerdict, RecordOutput, RoutedTask, RouteRequest, ServiceEvent, ServiceFacade, StartCanaryInput, VersionListEntry } from './facade.js';

export interface RolloutFacadeOptions {
  /** Called with each alert delivery report (failures are in the audit log too). */
  onAlert?: (outcome: AlertOutcome) => void;
  /** Items per batch at most (bounds one unit of work). */
  maxBatch?: number;
  /** Close the rollout (drain alerts, release the store) in close(); false when the caller shares it. Default true. */
  closeRollout?: boolean;
  /**
   * How often to write timeouts for tasks of running canaries past `canary.outcome_timeout`
   * (and apply the decisions they bring) when no route or outcome does it. Default 30 s; 0: never.
   */
  sweepIntervalMs?: number;
  /** Told when a periodic sweep fails (it is tried again at the next tick). */
  onSweepError?: (error: unknown) => void;
}

export function createRolloutFacade(rollout: Rollout, options: RolloutFacadeOptions = {}): ServiceFacade {
  const { store } = rollout;
  const queue = new GroupCommitQueue();
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const emit = (event: ServiceEvent) => emitter.emit('event', event);
  const maxBatch = options.maxBatch ?? 1000;
  const filesHashes = new Map<string, string>();
  let auditCursor: AuditCursor | null | undefined;
  const stopAlertReports = rollout.alerts.onReport((report) =>
    options.onAlert?.({ event: report.payload.event, role: report.payload.role, deliveries: report.deliveries.map((d) => ({ channel: d.channel, ok: d.ok, ...(d.error !== undefined ? { error: d.error } : {}) })) }),
  );

  const filesHashOf = (version: Pick<Version, 'id' | 'files'>): string => {
    let hash = filesHashes.get(version.id);
    if (hash === undefined) {
      const pairs = Object.keys(version.files)
        .sort()
        .map((name) => [name, version.files[name]]);
      hash = createHash('sha256').update(JSON.stringify(pairs)).digest('hex');
      filesHashes.set(version.id, hash);
    }
    return hash;
  };

  /** The state revision the audit log was last read at: every transition bumps it. */
  let noticedRevision: number | undefined;

  /**
   * Announce transitions committed since we last looked (ours or another process's). `revision`:
   * the state's revision now, when the caller has it; unchanged means nothing to read.
   */
  const noticeTransitions = async (revision?: number): Promise<void> => {
    const current = revision ?? (await store.loadState()).revision;
    if (auditCursor !== undefined && current === noticedRevision) return;
    noticedRevision = current;
    if (auditCursor === undefined) {
      // First look: everything so far is history, not news.
      let after: AuditCursor | null = null;
      for (;;) {
        const page = await readHistory(rollout, { after, limit: 10_000 });
        after = page.cursor;
        if (page.events.length < 10_000) break;
      }
      auditCursor = after;
      return;
    }
    const { events, cursor } = await readHistory(rollout, { after: auditCursor });
    auditCursor = cursor;
    for (const event of events) if (event.action !== 'alert-failed' && event.action !== ('alert-delivered' as AuditEvent['action'])) emit({ type: 'transition', event });
  };

  const runRoutes =
    (role: string, stratum: string | undefined) =>
    async (requests: RouteRequest[]): Promise<RoutedTask[]> => {
      const results = await routeTasks(
        rollout,
        role,
        requests.map((r) => r.taskId),
        stratum !== undefined ? { stratum } : {},
      );
      const state = await store.loadState();
      const canary = state.roles[role]?.canary ?? null;
      const routed = results.map((r) => ({
        taskId: r.taskId,
        role: r.role,
        arm: r.arm,
        versionId: r.versionId,
        canaryId: r.canaryId,
        percentage: canary !== null && canary.id === r.canaryId ? canary.percentage : 0,
        model: r.model,
        filesHash: filesHashOf({ id: r.versionId, files: r.files }),
        sticky: r.sticky,
      }));
      const fresh = routed.filter((r) => !r.sticky).length;
      if (fresh > 0) emit({ type: 'routed', role, tasks: fresh });
      await noticeTransitions(state.revision);
      return routed;
    };

  const runPreviews = async (taskIds: string[]): Promise<RoutedTask[][]> => {
    const [state, { tasks }] = await Promise.all([store.loadState(), store.getTasks(taskIds)]);
    const out: RoutedTask[][] = [];
    for (const taskId of taskIds) {
      const previous = tasks.get(taskId)?.assignment;
      const flags: RoutedTask[] = [];
      for (const [role, roleState] of Object.entries(state.roles).sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (roleState.stable === null) continue;
        const canary = roleState.canary;
        const recorded = previous !== undefined && isSameWindow(previous, role, roleState);
        const decision = recorded ? { arm: previous.arm, versionId: previous.versionId, canaryId: previous.canaryId } : decideRoute(roleState, taskId);
        const version = await store.getVersion(decision.versionId);
        flags.push({
          taskId,
          role,
          arm: decision.arm,
          versionId: decision.versionId,
          canaryId: decision.canaryId,
          percentage: canary !== null && canary.id === decision.canaryId ? canary.percentage : 0,
          model: version.model,
          filesHash: filesHashOf(version),
          sticky: recorded,
        });
      }
      out.push(flags);
    }
    return out;
  };

  const runOutcomes = async (outcomes: OutcomeInput[]): Promise<Array<{ verdict: OutcomeVerdict; transitions: AuditEvent[] }>> => {
    const skipped = new Map<number, SkippedLine>();
    const late = new Map<number, LateLine>();
    const result = await recordOutcomes(
      rollout,
      outcomes.map((value, i) => ({ line: i + 1, value })),
      { onSkipped: (skip) => skipped.set(skip.line, skip), onLate: (line) => late.set(line.line, line) },
    );
    // A duplicate is an idempotent retry when it says what the ledger says, else a conflict.
    const duplicates = [...skipped.values()].filter((s) => s.code === 'DUPLICATE_OUTCOME');
    const recordedOutcomes = duplicates.length > 0 ? (await store.getTasks(duplicates.map((d) => outcomes[d.line - 1]!.taskId))).tasks : new Map();
    const verdicts = outcomes.map((outcome, i): OutcomeVerdict => {
      const skip = skipped.get(i + 1);
      if (!skip) {
        // An outcome after its task timed out: recorded (kept, shown as late), not evidence.
        const lateLine = late.get(i + 1);
        return lateLine ? { taskId: outcome.taskId, status: 'recorded', reason: lateLine.reason } : { taskId: outcome.taskId, status: 'recorded' };
      }
      if (skip.code === 'TASK_UNKNOWN') return { taskId: outcome.taskId, status: 'unknown-task', reason: skip.message };
      if (skip.code === 'DUPLICATE_OUTCOME') {
        // After a timeout the task's own outcome is its late one.
        const entry = recordedOutcomes.get(outcome.taskId);
        const recorded = entry?.late ?? entry?.outcome;
        return recorded && sameOutcome(outcome, recorded)
          ? { taskId: outcome.taskId, status: 'duplicate', reason: 'this outcome was recorded before (an idempotent retry)' }
          : { taskId: outcome.taskId, status: 'conflict', reason: `task "${outcome.taskId}" already has a different outcome` };
      }
      // Inputs are validated before they are queued; a malformed one here is a bug, reported as such.
      throw new BernsteinError('INVALID_ARGUMENT', `outcome ${i + 1}: ${skip.message}`);
    });
    if (result.recorded > 0) emit({ type: 'outcomes', recorded: result.recorded });
    await noticeTransitions();
    return verdicts.map((verdict) => ({ verdict, transitions: result.transitions }));
  };

  const lifecycle = async (fn: () => Promise<LifecycleResult>): Promise<AuditEvent[]> => {
    // Manual transitions take their turn among the batches, so they see every acknowledged write.
    const result = await queue.submit('control', fn, async (fns: Array<() => Promise<LifecycleResult>>) => {
      const outputs: Array<LifecycleResult | { error: unknown }> = [];
      for (const run of fns) outputs.push(await run().catch((error: unknown) => ({ error })));
      await noticeTransitions();
      return outputs;
    });
    if ('error' in result) throw result.error;
    return result.events;
  };

  // The timeout sweep on a timer: tasks of a running canary whose outcome never comes count as
  // failed even while no route or outcome arrives. It takes its turn among the batches.
  const sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
  const runSweep = async (ticks: null[]): Promise<null[]> => {
    const result = await sweepTimeouts(rollout);
    if (result.timedOut > 0) emit({ type: 'outcomes', recorded: result.timedOut });
    if (result.transitions.length > 0) await noticeTransitions();
    return ticks;
  };
  const sweepTimer =
    sweepIntervalMs > 0
      ? setInterval(() => {
          queue.submit('sweep', null, runSweep).catch((error: unknown) => options.onSweepError?.(error));
        }, sweepIntervalMs)
      : null;
  sweepTimer?.unref();

  const facade: ServiceFacade = {
    storeLabel: `${store.kind}:${store.name}`,

    route(role, tasks) {
      return Promise.all(tasks.map((task) => queue.submit(`route:${role}:${task.stratum ?? ''}`, task, runRoutes(role, task.stratum), maxBatch)));
    },

    preview(taskId) {
      return queue.submit('preview', taskId, runPreviews, maxBatch);
    },

    async record(outcomes) {
      const items = await Promise.all(outcomes.map((outcome) => queue.submit('outcomes', outcome, runOutcomes, maxBatch)));
      const seen = new Set<string>();
      return {
        verdicts: items.map((item) => item.verdict),
        // The transitions applied by the batches this request's outcomes were written in, once each.
        transitions: items
          .flatMap((item) => item.transitions)
          .filter((event) => {
            const key = `${event.revision}:${event.action}`;
            if (seen.has(key)) return false;
            seen.add(key);
            return true;
          }),
      } satisfies RecordOutput;
    },

    async status(role) {
      const { roles } = await canaryStatus(rollout, role === undefined ? {} : { role });
      return roles;
    },

    async history({ role, cursor, limit }) {
      const page = await readHistory(rollout, { ...(role !== undefined ? { role } : {}), after: (cursor ?? null) as AuditCursor | null, limit });
      return { events: page.events, cursor: page.cursor, more: page.events.length === limit };
    },

    async listVersions(role) {
      const [versions, state] = await Promise.all([store.listVersions(role === undefined ? {} : { role }), store.loadState()]);
      return versions.map((v) => {
        const roleState = state.roles[v.role];
        let status: string | null = null;
        if (roleState?.stable === v.id) status = 'stable';
        else if (roleState?.canary?.versionId === v.id) status = `canary ${roleState.canary.percentage} %`;
        else if (roleState?.rejected.includes(v.id)) status = 'rejected';
        return { ...v, status } satisfies VersionListEntry;
      });
    },

    async version(ref) {
      const summary = await store.resolveVersion(ref);
      return store.getVersion(summary.id);
    },

    async diff(a, b) {
      const [left, right] = await Promise.all([facade.version(a), facade.version(b)]);
      const result = diffVersions(left, right);
      return { a: left.id, b: right.id, changedFiles: result.changedFiles, modelChanged: result.modelChanged, patch: result.patch };
    },

    startCanary(input: StartCanaryInput) {
      const start = {
        actor: 'api' as const,
        ...(input.percentage !== undefined ? { percentage: input.percentage } : {}),
        ...(input.steps ? { steps: input.steps } : {}),
        ...(input.policy ? { policy: input.policy } : {}),
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
      };
      if (input.versionId !== undefined) return lifecycle(() => startCanaryOfVersion(rollout, input.versionId!, start));
      return lifecycle(() => canaryRole(rollout, input.role!, { ...start, ...(input.model !== undefined ? { model: input.model } : {}) }));
    },

    promote(role, reason) {
      return lifecycle(() => promoteCanary(rollout, { role, actor: 'api', ...(reason !== undefined ? { reason } : {}) }));
    },

    rollback(role, reason) {
      return lifecycle(() => rollbackCanary(rollout, { role, actor: 'api', ...(reason !== undefined ? { reason } : {}) }));
    },

    reportData(role) {
      return collectReport(rollout, role === undefined ? {} : { role });
    },

    async reportHtml(role) {
      return renderReport(await facade.reportData(role));
    },

    alertsFor(events) {
      return rollout.alerts.reportsFor(events).map((report) => ({
        event: report.payload.event,
        role: report.payload.role,
        deliveries: report.deliveries.map((d) => ({ channel: d.channel, ok: d.ok, ...(d.error !== undefined ? { error: d.error } : {}) })),
      }));
    },

    subscribe(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },

    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      await queue.idle();
      stopAlertReports();
      if (options.closeRollout === false) return;
      const config = await rollout.config().catch(() => null);
      // Pending alerts stay in the outbox for the next process if they cannot go out in time.
      await rollout.close({ timeoutMs: config?.canary.alerts.timeoutMs ?? 5000 });
    },
  };
  void noticeTransitions().catch(() => {});
  return facade;
}

/** The router's stickiness rule, applied to a preview. */
function isSameWindow(previous: { role: string; canaryId: string | null; versionId: string }, role: string, state: RoleState): boolean {
  if (previous.role !== role) return false;
  if (state.canary) return previous.canaryId === state.canary.id;
  return previous.canaryId === null && previous.versionId === state.stable;
}

function sameOutcome(input: OutcomeInput, recorded: { passed: boolean; gates?: Record<string, boolean> | undefined; costUsd?: number | undefined; durationMs?: number | undefined }): boolean {
  const gates = (g: Record<string, boolean> | undefined) =>
    JSON.stringify(
      Object.keys(g ?? {})
        .sort()
        .map((k) => [k, g![k]]),
    );
  return input.passed === recorded.passed && gates(input.gates) === gates(recorded.gates) && input.costUsd === recorded.costUsd && input.durationMs === recorded.durationMs;
}
