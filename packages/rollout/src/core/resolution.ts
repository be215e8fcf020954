import { BernsteinError } from '@bernstein/store';
import type { AssignmentRecord, LateOutcomeRecord, OutcomeRecord } from '@bernstein/prompt-versions';

/** What a store knows of a task when a resolution of it is appended. */
export interface ResolutionSlot {
  assignment: AssignmentRecord;
  /** Its outcome: a real one, or a timeout (`timedOut: true`). */
  outcome: OutcomeRecord | null;
  late: LateOutcomeRecord | null;
}

/**
 * The rule for appending an outcome or a late outcome, written once and applied by every adapter
 * (`appendOutcomes`): an outcome (real or a timeout) needs a routed task whose latest assignment
 * has none yet; a late outcome needs one whose outcome is a timeout and that has no late outcome
 * yet. Either must name the task's latest assignment (role, arm, version, canary, epoch).
 * Throws TASK_UNKNOWN, DUPLICATE_OUTCOME, CONFLICT (the task was re-routed meanwhile) or
 * INVALID_ARGUMENT (a late outcome with no timeout before it). On success `slot` is updated, so
 * the records of one call are checked against each other too.
 */
export function acceptResolution(slot: ResolutionSlot | undefined, record: OutcomeRecord | LateOutcomeRecord): void {
  if (!slot) throw new BernsteinError('TASK_UNKNOWN', `task "${record.taskId}" was never routed`, { taskId: record.taskId });
  const a = slot.assignment;
  if (a.role !== record.role || a.arm !== record.arm || a.versionId !== record.versionId || a.canaryId !== record.canaryId || a.epoch !== record.epoch) {
    throw new BernsteinError('CONFLICT', `the outcome of task "${record.taskId}" does not match its latest assignment (role ${a.role}, arm ${a.arm}, version ${a.versionId}, canary ${a.canaryId ?? 'none'}, epoch ${a.epoch ?? 'none'})`, {
      taskId: record.taskId,
    });
  }
  if (record.type === 'outcome') {
    if (slot.outcome) throw new BernsteinError('DUPLICATE_OUTCOME', `task "${record.taskId}" already has an outcome`, { taskId: record.taskId });
    slot.outcome = record;
    return;
  }
  if (!slot.outcome) {
    throw new BernsteinError('INVALID_ARGUMENT', `a late outcome of task "${record.taskId}" answers a timeout, and the task has not timed out (record it as an outcome)`, { taskId: record.taskId });
  }
  if (!slot.outcome.timedOut || slot.late) throw new BernsteinError('DUPLICATE_OUTCOME', `task "${record.taskId}" already has an outcome`, { taskId: record.taskId });
  slot.late = record;
}

/** The timeout the sweep writes for an assignment with no outcome: a failure, at `at`. */
export function timeoutRecord(assignment: AssignmentRecord, at: string): OutcomeRecord {
  const { taskId, role, arm, versionId, canaryId, epoch } = assignment;
  return { v: 1, type: 'outcome', taskId, role, arm, versionId, canaryId, epoch, at, passed: false, timedOut: true };
}
