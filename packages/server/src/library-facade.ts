/**
 * ServiceFacade over the toolkit's libraries (canary-router, quality-compare, prompt-versions) on
 * a FileProject, with group commit: the server is this process's only writer, and concurrent
 * routes of a role, concurrent outcomes and concurrent previews are each written as one batch
 * (one lock, one ledger append, one fsync).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BernsteinError } from '@bernstein/store';
import { diffVersions, type Version } from '@bernstein/prompt-versions';
import {
  canaryRole,
  decideRoute,
  promoteCanary,
  readHistory,
  rollbackCanary,
  routeTasks,
  startCanaryOfVersion,
  type AuditEvent,
  type FileProject,
  type LifecycleResult,
  type RoleState,
} from '@bernstein/canary-router';
import { alertTransitions, canaryStatus, collectReport, recordOutcomes, renderReport, type OutcomeInput, type SkippedLine } from '@bernstein/quality-compare';
import { GroupCommitQueue } from './group-commit.js';
import type { AlertOutcome, OutcomeVerdict, RecordOutput, RoutedTask, RouteRequest, ServiceEvent, ServiceFacade, StartCanaryInput, VersionListEntry } from './facade.js';

export interface LibraryFacadeOptions {
  /** Called with alert deliveries that failed (they are in the audit log too). */
  onAlert?: (outcome: AlertOutcome) => void;
  /** Items per batch at most (bounds one lock hold). */
  maxBatch?: number;
}

export function createLibraryFacade(project: FileProject, options: LibraryFacadeOptions = {}): ServiceFacade {
  const queue = new GroupCommitQueue();
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const emit = (event: ServiceEvent) => emitter.emit('event', event);
  const maxBatch = options.maxBatch ?? 1000;
  const alertsInFlight = new Set<Promise<unknown>>();
  const filesHashes = new Map<string, string>();
  let lastRevision: number | null = null;

  const filesHashOf = (version: Pick<Version, 'id' | 'files'>): string => {
    let hash = filesHashes.get(version.id);
    if (hash === undefined) {
      // Names sorted: the same files give the same hash whatever order they were read in.
      const pairs = Object.keys(version.files)
        .sort()
        .map((name) => [name, version.files[name]]);
      hash = createHash('sha256').update(JSON.stringify(pairs)).digest('hex');
      filesHashes.set(version.id, hash);
    }
    return hash;
  };

  /** Announce transitions that any write (ours or another process's) applied since we last looked. */
  const noticeTransitions = async (): Promise<void> => {
    const state = await project.load();
    if (lastRevision === null) {
      lastRevision = state.revision;
      return;
    }
    if (state.revision === lastRevision) return;
    const since = lastRevision;
    lastRevision = state.revision;
    const { events } = await readHistory(project);
    for (const event of events) if (event.revision > since && event.action !== 'alert-failed') emit({ type: 'transition', event });
  };

  const runRoutes = (role: string) => async (requests: RouteRequest[]): Promise<RoutedTask[]> => {
    // The current router has no strata yet: stratum is validated at the edge and carried no further.
    const results = await routeTasks(
      project,
      role,
      requests.map((r) => r.taskId),
    );
    const state = await project.load();
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
    await noticeTransitions();
    return routed;
  };

  const runPreviews = async (taskIds: string[]): Promise<RoutedTask[][]> =>
    project.transaction(async () => {
      const state = await project.load();
      const index = await project.index();
      const out: RoutedTask[][] = [];
      for (const taskId of taskIds) {
        const previous = (await index.get(taskId))?.assignment;
        const flags: RoutedTask[] = [];
        for (const [role, roleState] of Object.entries(state.roles).sort(([a], [b]) => (a < b ? -1 : 1))) {
          if (roleState.stable === null) continue;
          const canary = roleState.canary;
          const recorded = previous !== undefined && isSameWindow(previous, role, roleState);
          const decision = recorded ? { arm: previous.arm, versionId: previous.versionId, canaryId: previous.canaryId } : decideRoute(roleState, taskId);
          const version = await project.registry.get(decision.versionId);
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
    });

  const runOutcomes = async (outcomes: OutcomeInput[]): Promise<Array<{ verdict: OutcomeVerdict; transitions: AuditEvent[] }>> => {
    const skipped = new Map<number, SkippedLine>();
    const result = await recordOutcomes(
      project,
      outcomes.map((value, i) => ({ line: i + 1, value })),
      { onSkipped: (skip) => skipped.set(skip.line, skip) },
    );
    // A duplicate is an idempotent retry when it says what the ledger says, else a conflict.
    const duplicates = [...skipped.values()].filter((s) => s.code === 'DUPLICATE_OUTCOME');
    const sameAsRecorded = new Map<number, boolean>();
    if (duplicates.length > 0) {
      await project.transaction(async () => {
        const index = await project.index();
        for (const skip of duplicates) {
          const recorded = (await index.get(outcomes[skip.line - 1]!.taskId))?.outcome;
          sameAsRecorded.set(skip.line, recorded != null && sameOutcome(outcomes[skip.line - 1]!, recorded));
        }
      });
    }
    const verdicts = outcomes.map((outcome, i): OutcomeVerdict => {
      const skip = skipped.get(i + 1);
      if (!skip) return { taskId: outcome.taskId, status: 'recorded' };
      if (skip.code === 'TASK_UNKNOWN') return { taskId: outcome.taskId, status: 'unknown-task', reason: skip.message };
      if (skip.code === 'DUPLICATE_OUTCOME') {
        return sameAsRecorded.get(i + 1)
          ? { taskId: outcome.taskId, status: 'duplicate', reason: 'this outcome was recorded before (an idempotent retry)' }
          : { taskId: outcome.taskId, status: 'conflict', reason: `task "${outcome.taskId}" already has a different outcome` };
      }
      // Inputs are validated before they are queued; a malformed one here is a bug, reported as such.
      throw new BernsteinError('INVALID_ARGUMENT', `outcome ${i + 1}: ${skip.message}`);
    });
    if (result.recorded > 0) emit({ type: 'outcomes', recorded: result.recorded });
    await noticeTransitions();
    // Every request of the batch hears of the batch's transitions (record() de-duplicates them).
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

  const facade: ServiceFacade = {
    storeLabel: `file:${project.paths.root}`,

    route(role, tasks) {
      return Promise.all(tasks.map((task) => queue.submit(`route:${role}`, task, runRoutes(role), maxBatch)));
    },

    preview(taskId) {
      return queue.submit('preview', taskId, runPreviews, maxBatch);
    },

    async record(outcomes) {
      const items = await Promise.all(outcomes.map((outcome) => queue.submit('outcomes', outcome, runOutcomes, maxBatch)));
      const transitions = items.flatMap((item) => item.transitions);
      const mine = new Set<string>();
      return {
        verdicts: items.map((item) => item.verdict),
        // The transitions applied by the batches this request's outcomes were written in (a
        // decision another request's outcome triggered in the same batch included), once each.
        transitions: transitions.filter((event) => {
          const key = `${event.revision}:${event.action}`;
          if (mine.has(key)) return false;
          mine.add(key);
          return true;
        }),
      } satisfies RecordOutput;
    },

    async status(role) {
      const { roles } = await canaryStatus(project, role === undefined ? {} : { role });
      return roles;
    },

    async history({ role, cursor, limit }) {
      // The cursor is a position in the whole log (append-only), so a role filter skips nothing.
      const { events: all } = await readHistory(project);
      const start = cursor === undefined ? 0 : Number(cursor);
      if (!Number.isSafeInteger(start) || start < 0) throw new BernsteinError('INVALID_ARGUMENT', `cursor ${JSON.stringify(cursor)} is not one this server gave out`);
      const events: AuditEvent[] = [];
      let position = start;
      for (; position < all.length && events.length < limit; position += 1) {
        const event = all[position]!;
        if (role === undefined || event.role === role) events.push(event);
      }
      return { events, cursor: String(position), more: position < all.length };
    },

    async listVersions(role) {
      const [versions, state] = await Promise.all([project.registry.list(role === undefined ? {} : { role }), project.load()]);
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
      const summary = await project.registry.resolve(ref);
      return project.registry.get(summary.id);
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
      if (input.versionId !== undefined) return lifecycle(() => startCanaryOfVersion(project, input.versionId!, start));
      return lifecycle(() => canaryRole(project, input.role!, { ...start, ...(input.model !== undefined ? { model: input.model } : {}) }));
    },

    promote(role, reason) {
      return lifecycle(() => promoteCanary(project, { role, actor: 'api', ...(reason !== undefined ? { reason } : {}) }));
    },

    rollback(role, reason) {
      return lifecycle(() => rollbackCanary(project, { role, actor: 'api', ...(reason !== undefined ? { reason } : {}) }));
    },

    reportData(role) {
      return collectReport(project, role === undefined ? {} : { role });
    },

    async reportHtml(role) {
      return renderReport(await facade.reportData(role));
    },

    alert(events) {
      const alertable = events.filter((e) => e.action === 'promote' || e.action === 'rollback' || e.action === 'instant-rollback');
      if (alertable.length === 0) return;
      const delivery = alertTransitions(project, alertable)
        .then((delivered) => {
          for (const { payload, deliveries } of delivered) options.onAlert?.({ event: payload.event, role: payload.role, deliveries });
        })
        .catch(() => {
          // A failed delivery is in the audit log (alert-failed); it never undoes the transition.
        })
        .finally(() => alertsInFlight.delete(delivery));
      alertsInFlight.add(delivery);
    },

    subscribe(listener) {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },

    async close() {
      await queue.idle();
      await Promise.all([...alertsInFlight]);
    },
  };
  // Learn the current revision, so the first write announces only what it changed.
  void noticeTransitions().catch(() => {});
  return facade;
}

/**
 * A task routed earlier keeps its arm while the same canary runs (or, without a canary, while the
 * same stable serves): the router's stickiness rule, applied to a preview.
 */
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
