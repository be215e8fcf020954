import type { AssignmentRecord } from '@bernstein/prompt-versions';
import type { AuditEvent } from '@bernstein/canary-router';
import { awaitingTasks, canaryAggregateKey, type AggregateState } from '../core/aggregate.js';
import { timeoutRecord } from '../core/resolution.js';
import type { StoreReader } from '../port.js';
import type { Rollout } from '../rollout.js';
import { persist, resolve, startJudging, type Judging } from './judge.js';

/** Timeouts written per role per unit of work at most (the rest wait for the next sweep). */
export const SWEEP_LIMIT = 5000;
/** Awaiting tasks looked up per round trip while finding the overdue ones (after the first). */
const LOOKUP_CHUNK = 64;

/** The routing time before which a task of a running canary without an outcome has timed out. */
export function timeoutCutoff(rollout: Rollout, outcomeTimeoutMs: number): string {
  return new Date(rollout.now().getTime() - outcomeTimeoutMs).toISOString();
}

/**
 * The canary's tasks awaiting an outcome that were routed before `cutoff`, oldest first, at most
 * `limit`: the awaiting tasks come from the canary's aggregate in routing order, and only their
 * latest assignments are read (a chunk at a time), up to the first one that is not overdue yet;
 * routing order is time order (each unit of work stamps its own time under its lock; across
 * hosts, clock skew at most delays a timeout to a later sweep). So a sweep with nothing overdue
 * costs one lookup, and never reads the ledger.
 */
export async function overdueOf(
  reader: Pick<StoreReader, 'getTasks'>,
  canaryId: string,
  aggregate: AggregateState | undefined,
  cutoff: string,
  limit: number,
): Promise<AssignmentRecord[]> {
  const due: AssignmentRecord[] = [];
  const ids = awaitingTasks(aggregate);
  // The oldest awaiting task first, alone: usually it is not overdue, and that settles it.
  for (let size = 1; ; size = LOOKUP_CHUNK) {
    const chunk: string[] = [];
    while (chunk.length < size) {
      const next = ids.next();
      if (next.done) break;
      chunk.push(next.value);
    }
    if (chunk.length === 0) return due;
    const { tasks } = await reader.getTasks(chunk);
    for (const taskId of chunk) {
      const entry = tasks.get(taskId);
      // Resolved, or re-routed elsewhere: not this canary's to time out.
      if (!entry || entry.outcome || entry.assignment.canaryId !== canaryId) continue;
      if (entry.assignment.at >= cutoff) return due;
      due.push(entry.assignment);
      if (due.length >= limit) return due;
    }
  }
}

/**
 * Inside a unit of work scoped to `role`: write a timeout (a failure, `timedOut: true`) for every
 * task of the role's running canary that was routed longer than `canary.outcome_timeout` ago and
 * has no outcome, judging the canary after each one, as after an outcome (SPEC, Decisions). Stops
 * when a decision ends the canary. Returns how many timeouts it wrote.
 */
export async function sweepRole(j: Judging, role: string): Promise<number> {
  const canary = j.state.roles[role]?.canary;
  if (!canary) return 0;
  const key = canaryAggregateKey(canary.id);
  if (!j.aggregates.has(key)) {
    const { aggregates } = await j.tx.aggregates([key]);
    const found = aggregates.get(key);
    if (!found) return 0;
    j.aggregates.set(key, found);
  }
  const due = await overdueOf(j.tx, canary.id, j.aggregates.get(key), timeoutCutoff(j.rollout, j.config.canary.outcomeTimeoutMs), SWEEP_LIMIT);
  const at = j.rollout.now().toISOString();
  let written = 0;
  for (const assignment of due) {
    // A decision on an earlier timeout ended the canary: its window is closed.
    if (j.state.roles[role]?.canary?.id !== canary.id) break;
    await resolve(j, timeoutRecord(assignment, at));
    written += 1;
  }
  return written;
}

export interface SweepResult {
  /** Timeouts written. */
  timedOut: number;
  /** Transitions that automatic decisions applied after them. */
  transitions: AuditEvent[];
}

/**
 * The timeout sweep on its own (`canary evaluate`, and `bernstein serve` on a timer): for every
 * running canary (of `roles` if given) with an overdue task, one unit of work scoped to its role
 * that runs `sweepRole`. A canary with nothing overdue costs no unit of work: the check reads its
 * aggregate and its oldest awaiting task. `apply: false` writes the timeouts but applies no decision.
 */
export async function sweepTimeouts(rollout: Rollout, options: { roles?: readonly string[]; apply?: boolean } = {}): Promise<SweepResult> {
  const result: SweepResult = { timedOut: 0, transitions: [] };
  const config = await rollout.config();
  const state = await rollout.store.loadState();
  const running = Object.entries(state.roles)
    .filter(([role, r]) => r.canary !== null && (options.roles === undefined || options.roles.includes(role)))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  if (running.length === 0) return result;
  const { aggregates } = await rollout.store.aggregates(running.map(([, r]) => canaryAggregateKey(r.canary!.id)));
  const cutoff = timeoutCutoff(rollout, config.canary.outcomeTimeoutMs);
  for (const [role, roleState] of running) {
    const key = canaryAggregateKey(roleState.canary!.id);
    if ((await overdueOf(rollout.store, roleState.canary!.id, aggregates.get(key), cutoff, 1)).length === 0) continue;
    await rollout.store.transaction({ roles: [role] }, async (tx) => {
      const j = startJudging({ rollout, tx, config, state: await tx.loadState(), aggregates: (await tx.aggregates([key])).aggregates, apply: options.apply ?? true });
      result.timedOut += await sweepRole(j, role);
      await persist(j);
      result.transitions.push(...j.transitions);
    });
  }
  if (result.transitions.length > 0) rollout.alerts.kick();
  return result;
}
