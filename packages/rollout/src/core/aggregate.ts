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
 * simulator measures. Its queue of tasks not yet counted (in routing order) is also what the
 * timeout sweep reads to find the tasks awaiting an outcome. Role keys keep the outcomes per
 * version served.
 */
export const AGGREGATE_FOLD_VERSION = 2;

export const AggregateStateSchema = z.object({
  role: z.string(),
  /** The canary whose window the records belong to; null: tasks routed while no canary ran. */
  canaryId: z.string().nullable(),
  /** Canary keys: the canary's evidence over its whole life (null for role keys). */
  evidence: CanaryEvidenceSchema.nullable(),
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
  return { role: record.role, canaryId: record.canaryId, evidence: record.canaryId !== null ? emptyCanaryEvidence() : null, versions: {} };
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
  return state;
}

function foldResolution(state: AggregateState, record: OutcomeRecord | LateOutcomeRecord): AggregateState {
  const sample = outcomeSample(record);
  if (record.canaryId !== null && record.epoch !== null) {
    state.evidence ??= emptyCanaryEvidence();
    // A timeout counts as failed; a late outcome is kept as late and never changes the evidence.
    const kind = record.type === 'late' ? 'late' : record.timedOut ? 'timeout' : 'outcome';
    foldCanaryOutcome(state.evidence, { taskId: record.taskId, epoch: record.epoch, arm: record.arm, kind, sample });
    return state;
  }
  // Outside a canary: a late outcome (never written there: no sweep runs without a canary) changes nothing.
  if (record.type === 'late') return state;
  state.versions[record.versionId] = addOutcome(state.versions[record.versionId] ?? emptyArmStats(), sample);
  return state;
}

/**
 * The tasks of a canary key still awaiting an outcome, in routing order: the unresolved entries
 * of its evidence's queue of tasks not yet counted (every unresolved task is in it: the counted
 * tasks are a routing-order prefix of resolved ones). Lazy, so a caller that needs the first few
 * reads no more.
 */
export function* awaitingTasks(state: AggregateState | undefined): Generator<string> {
  const evidence = state?.evidence;
  if (!evidence) return;
  for (let i = evidence.pendingHead; i < evidence.pending.length; i++) {
    const task = evidence.pending[i]!;
    if (task.resolution === null) yield task.taskId;
  }
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
