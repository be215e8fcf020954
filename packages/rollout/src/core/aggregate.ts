import type { AssignmentRecord, LateOutcomeRecord, LedgerRecord, OutcomeRecord } from '@bernstein/prompt-versions';
import {
  addOutcome,
  ArmStatsSchema,
  CanaryEvidenceSchema,
  emptyArmStats,
  emptyCanaryEvidence,
  foldCanaryAssignment,
  foldCanaryOutcome,
  type ArmStats,
  type CanaryEvidence,
  type OutcomeSample,
} from '@bernstein/quality-compare';
import { z } from 'zod';

/**
 * The outcome aggregates: a pure fold over ledger records (assignments, outcomes and late
 * outcomes, in ledger order), defined here and nowhere else. Stores persist one state per key with
 * the ledger position it covers, in the same unit of work as the append, and rebuild it by
 * refolding when it is missing, stale or written by another AGGREGATE_FOLD_VERSION. Status and
 * decisions read it instead of the ledger. Grow the state by changing the schema and bumping the version.
 *
 * Version 2: a canary key holds the canary's evidence, the quality core's fold
 * (`foldCanaryAssignment` / `foldCanaryOutcome` of @bernstein/quality-compare: routing-order
 * prefix, cells per epoch and stratum, timeouts and late outcomes), the same structure the
 * simulator measures; plus the tasks awaiting an outcome with their routing times, for the
 * timeout sweep. Role keys keep the outcomes per version served.
 */
export const AGGREGATE_FOLD_VERSION = 2;

/**
 * A canary's routed tasks that have no outcome yet, in routing order: `[taskId, routedAt]`, or
 * null where a task was resolved since (compacted away once those are the majority). The timeout
 * sweep reads it, so finding a canary's overdue tasks never reads the ledger.
 */
export const AwaitingSchema = z.array(z.tuple([z.string(), z.string()]).nullable());

export const AggregateStateSchema = z.object({
  role: z.string(),
  /** The canary whose window the records belong to; null: tasks routed while no canary ran. */
  canaryId: z.string().nullable(),
  /** Canary keys: the canary's evidence over its whole life (null for role keys). */
  evidence: CanaryEvidenceSchema.nullable(),
  /** Canary keys: the routed tasks awaiting an outcome. */
  awaiting: AwaitingSchema,
  /** No-canary keys: outcomes per version served. */
  versions: z.record(z.string(), ArmStatsSchema),
});
export type AggregateState = z.infer<typeof AggregateStateSchema>;

/** The key a record folds into: its canary window, or its role outside any canary. */
export function aggregateKey(record: Pick<LedgerRecord, 'canaryId' | 'role'>): string {
  return record.canaryId !== null ? `canary:${record.canaryId}` : `role:${record.role}`;
}

export const canaryAggregateKey = (canaryId: string): string => `canary:${canaryId}`;
export const roleAggregateKey = (role: string): string => `role:${role}`;

export function emptyAggregate(record: Pick<LedgerRecord, 'canaryId' | 'role'>): AggregateState {
  return { role: record.role, canaryId: record.canaryId, evidence: record.canaryId !== null ? emptyCanaryEvidence() : null, awaiting: [], versions: {} };
}

/** The evidence of a canary key (empty when the key has none yet). */
export function evidenceOf(state: AggregateState | undefined): CanaryEvidence {
  return state?.evidence ?? emptyCanaryEvidence();
}

/**
 * Fold one record into `state` (mutated and returned: this runs once per ledger line, so it must
 * not copy). `state` must be the state of `aggregateKey(record)`.
 */
export function foldRecord(state: AggregateState, record: LedgerRecord): AggregateState {
  if (record.type === 'assign') return foldAssignment(state, record);
  return foldResolution(state, record);
}

/** What an outcome or late outcome reports, as the judge reads it. */
export function outcomeSample(outcome: OutcomeRecord | LateOutcomeRecord): OutcomeSample {
  return {
    passed: outcome.passed,
    ...(outcome.gates ? { gates: outcome.gates } : {}),
    ...(outcome.costUsd !== undefined ? { costUsd: outcome.costUsd } : {}),
    ...(outcome.durationMs !== undefined ? { durationMs: outcome.durationMs } : {}),
  };
}

function foldAssignment(state: AggregateState, record: AssignmentRecord): AggregateState {
  if (record.canaryId === null || record.epoch === null) return state;
  state.evidence ??= emptyCanaryEvidence();
  foldCanaryAssignment(state.evidence, { taskId: record.taskId, epoch: record.epoch, arm: record.arm, stratum: record.stratum ?? null });
  addAwaiting(state, record.taskId, record.at);
  return state;
}

function foldResolution(state: AggregateState, record: OutcomeRecord | LateOutcomeRecord): AggregateState {
  const sample = outcomeSample(record);
  if (record.canaryId !== null && record.epoch !== null) {
    state.evidence ??= emptyCanaryEvidence();
    // A timeout counts as failed; a late outcome is kept as late and never changes the evidence.
    const kind = record.type === 'late' ? 'late' : record.timedOut ? 'timeout' : 'outcome';
    foldCanaryOutcome(state.evidence, { taskId: record.taskId, epoch: record.epoch, arm: record.arm, kind, sample });
    if (kind !== 'late') removeAwaiting(state, record.taskId);
    return state;
  }
  // Outside a canary: a late outcome (never written there: no sweep runs without a canary) changes nothing.
  if (record.type === 'late') return state;
  state.versions[record.versionId] = addOutcome(state.versions[record.versionId] ?? emptyArmStats(), sample);
  return state;
}

/*
 * The awaiting list is persisted as an array; where each task sits in it is an in-memory index,
 * built the first time a loaded state is folded into, so each record costs O(1) amortised.
 */
const awaitingIndexes = new WeakMap<AggregateState, { positions: Map<string, number>; resolved: number }>();

function awaitingIndex(state: AggregateState): { positions: Map<string, number>; resolved: number } {
  let index = awaitingIndexes.get(state);
  if (!index) {
    index = { positions: new Map(), resolved: 0 };
    state.awaiting.forEach((entry, i) => {
      if (entry === null) index!.resolved += 1;
      else index!.positions.set(entry[0], i);
    });
    awaitingIndexes.set(state, index);
  }
  return index;
}

function addAwaiting(state: AggregateState, taskId: string, at: string): void {
  const index = awaitingIndex(state);
  // A second assignment of a task already awaiting (routing keeps a task's arm, so only a ledger
  // written by hand has one): keep the first.
  if (index.positions.has(taskId)) return;
  index.positions.set(taskId, state.awaiting.length);
  state.awaiting.push([taskId, at]);
}

function removeAwaiting(state: AggregateState, taskId: string): void {
  const index = awaitingIndex(state);
  const at = index.positions.get(taskId);
  if (at === undefined) return;
  state.awaiting[at] = null;
  index.positions.delete(taskId);
  index.resolved += 1;
  // Compact once resolved entries are the majority: amortised O(1) per outcome, and the
  // persisted list stays within twice the tasks really awaiting.
  if (index.resolved > 64 && index.resolved * 2 > state.awaiting.length) {
    state.awaiting = state.awaiting.filter((entry) => entry !== null);
    awaitingIndexes.delete(state);
  }
}

/** Tasks of a canary key awaiting an outcome that were routed before `routedBefore` (ISO), oldest first, at most `limit`. */
export function overdueTasks(state: AggregateState | undefined, routedBefore: string, limit = Number.POSITIVE_INFINITY): Array<{ taskId: string; at: string }> {
  const due: Array<{ taskId: string; at: string }> = [];
  if (!state) return due;
  for (const entry of state.awaiting) {
    if (entry === null || entry[1] >= routedBefore) continue;
    due.push({ taskId: entry[0], at: entry[1] });
    if (due.length >= limit) break;
  }
  return due;
}

/** Fold records into a map of states (mutated). The reference implementation stores are checked against. */
export function foldInto(states: Map<string, AggregateState>, records: Iterable<LedgerRecord>): Map<string, AggregateState> {
  for (const record of records) {
    const key = aggregateKey(record);
    let state = states.get(key);
    if (!state) states.set(key, (state = emptyAggregate(record)));
    foldRecord(state, record);
  }
  return states;
}

/** The outcome statistics of one arm across a no-canary key's versions, or of one version. */
export function versionOutcomes(state: AggregateState | undefined, versionId: string): ArmStats | undefined {
  return state?.versions[versionId];
}
