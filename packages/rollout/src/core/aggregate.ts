import type { AssignmentRecord, LedgerRecord, OutcomeRecord } from '@bernstein/prompt-versions';
import { addOutcome, ArmStatsSchema, emptyArmStats, type ArmStats } from '@bernstein/quality-compare';
import { z } from 'zod';

/**
 * The outcome aggregates: a pure fold over ledger records (assignments AND outcomes, in ledger
 * order), defined here and nowhere else. Stores persist one state per key with the ledger position
 * it covers, in the same unit of work as the append, and rebuild it by refolding when it is
 * missing, stale or written by another AGGREGATE_FOLD_VERSION. Status and decisions read it
 * instead of the ledger. Grow the state by changing the schema and bumping the version.
 */
export const AGGREGATE_FOLD_VERSION = 1;

const count = z.number().int().nonnegative();
const ArmCountsSchema = z.object({ stable: count, canary: count });

/** One canary epoch: assignments routed to each arm and the outcomes recorded on each. */
export const EpochAggregateSchema = z.object({
  assigned: ArmCountsSchema,
  stable: ArmStatsSchema,
  canary: ArmStatsSchema,
});
export type EpochAggregate = z.infer<typeof EpochAggregateSchema>;

export const AggregateStateSchema = z.object({
  role: z.string(),
  /** The canary whose window the records belong to; null: tasks routed while no canary ran. */
  canaryId: z.string().nullable(),
  /** Canary keys: per epoch (as a decimal string). */
  epochs: z.record(z.string(), EpochAggregateSchema),
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
  return { role: record.role, canaryId: record.canaryId, epochs: {}, versions: {} };
}

function emptyEpoch(): EpochAggregate {
  return { assigned: { stable: 0, canary: 0 }, stable: emptyArmStats(), canary: emptyArmStats() };
}

/**
 * Fold one record into `state` (mutated and returned: this runs once per ledger line, so it must
 * not copy). `state` must be the state of `aggregateKey(record)`.
 */
export function foldRecord(state: AggregateState, record: LedgerRecord): AggregateState {
  if (record.type === 'assign') return foldAssignment(state, record);
  return foldOutcome(state, record);
}

function foldAssignment(state: AggregateState, record: AssignmentRecord): AggregateState {
  if (record.canaryId === null || record.epoch === null) return state;
  const epoch = (state.epochs[String(record.epoch)] ??= emptyEpoch());
  epoch.assigned[record.arm] += 1;
  return state;
}

function foldOutcome(state: AggregateState, outcome: OutcomeRecord): AggregateState {
  const sample = {
    passed: outcome.passed,
    ...(outcome.gates ? { gates: outcome.gates } : {}),
    ...(outcome.costUsd !== undefined ? { costUsd: outcome.costUsd } : {}),
    ...(outcome.durationMs !== undefined ? { durationMs: outcome.durationMs } : {}),
  };
  if (outcome.canaryId !== null && outcome.epoch !== null) {
    const epoch = (state.epochs[String(outcome.epoch)] ??= emptyEpoch());
    epoch[outcome.arm] = addOutcome(epoch[outcome.arm], sample);
    return state;
  }
  state.versions[outcome.versionId] = addOutcome(state.versions[outcome.versionId] ?? emptyArmStats(), sample);
  return state;
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
