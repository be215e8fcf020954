import type { LateOutcomeRecord, OutcomeRecord } from '@bernstein/prompt-versions';
import type { AuditEvent, CanaryState, ProjectConfig } from '@bernstein/canary-router';
import { foldInto, type AggregateState } from '../core/aggregate.js';
import type { StoreTransaction } from '../port.js';
import type { Rollout } from '../rollout.js';
import { decisionEvidence, evaluateCanary, mightDecide } from './evaluate.js';
import { applyAutomaticDecision } from './lifecycle.js';

/**
 * One unit of work that writes resolutions of routed tasks (outcomes, timeouts, late outcomes)
 * and judges the canary after each outcome, as SPEC "Decisions" asks: recording and the timeout
 * sweep share it, so an outcome and a timeout are judged the same way.
 */
export interface Judging {
  rollout: Rollout;
  tx: StoreTransaction;
  config: ProjectConfig;
  /** The state as this unit of work last saw or wrote it. */
  state: CanaryState;
  /** The aggregates, with every resolution folded in as it is judged (before it is written). */
  aggregates: Map<string, AggregateState>;
  /** Apply promote / step / rollback decisions (false: `canary evaluate` without --apply). */
  apply: boolean;
  /** Transitions applied so far. */
  transitions: AuditEvent[];
  /** Resolutions folded and not written yet: written before a transition and at the end. */
  pending: Array<OutcomeRecord | LateOutcomeRecord>;
}

export function startJudging(fields: Omit<Judging, 'transitions' | 'pending'>): Judging {
  return { ...fields, transitions: [], pending: [] };
}

/** Write the resolutions folded so far. */
export async function persist(j: Judging): Promise<void> {
  if (j.pending.length === 0) return;
  const records = j.pending;
  j.pending = [];
  await j.tx.appendOutcomes(records);
}

/**
 * Fold one resolution (checked by the caller) and, for an outcome or a timeout of the running
 * canary, judge it; a promote or rollback is applied right there, exactly once, so the next
 * resolution is judged against the new state. A late outcome changes no evidence: not judged.
 */
export async function resolve(j: Judging, record: OutcomeRecord | LateOutcomeRecord): Promise<void> {
  j.pending.push(record);
  // The same fold the store applies on append: decisions see this record before it is written.
  foldInto(j.aggregates, [record]);
  if (record.type !== 'outcome') return;
  const canary = j.state.roles[record.role]?.canary;
  if (!canary || canary.id !== record.canaryId) return;
  if (!mightDecide(j.config, canary, j.aggregates)) return;
  const decision = evaluateCanary(j.config, canary, j.aggregates);
  if (decision.action === 'continue' || !j.apply) return;
  await persist(j);
  const applied = await applyAutomaticDecision(j.rollout, j.tx, {
    role: record.role,
    canaryId: canary.id,
    epoch: canary.epoch,
    action: decision.action,
    reason: decision.reason,
    evidence: decisionEvidence(decision),
  });
  j.transitions.push(...applied.events);
  j.state = applied.state;
}
