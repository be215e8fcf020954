import type { AuditEvent } from '@bernstein/canary-router';
import type { AuditCursor } from '../port.js';
import type { Rollout } from '../rollout.js';

/** One event of `canary history --json` (SPEC keys first). The one definition of that shape. */
export interface HistoryEvent {
  at: string;
  role: string;
  action: AuditEvent['action'];
  from: string | null;
  to: string | null;
  actor: string;
  reason: string;
  evidence: unknown;
  canaryId: string | null;
  revision: number;
  percentage?: number;
  fromPercentage?: number;
  toPercentage?: number;
}

export function historyEvent(e: AuditEvent): HistoryEvent {
  return {
    at: e.at,
    role: e.role,
    action: e.action,
    from: e.from,
    to: e.to,
    actor: e.actor,
    reason: e.reason,
    evidence: e.evidence,
    canaryId: e.canaryId,
    revision: e.revision,
    ...(e.percentage !== undefined ? { percentage: e.percentage } : {}),
    ...(e.fromPercentage !== undefined ? { fromPercentage: e.fromPercentage } : {}),
    ...(e.toPercentage !== undefined ? { toPercentage: e.toPercentage } : {}),
  };
}

/**
 * The audit log: every transition, and every alert delivered or given up (`alert-delivered`,
 * `alert-failed`), in order, from `after` on. Includes a committed transition a crash kept out
 * of the log proper.
 */
export async function readHistory(
  rollout: Rollout,
  options: { role?: string; after?: AuditCursor | null; limit?: number } = {},
): Promise<{ events: AuditEvent[]; cursor: AuditCursor; warnings: string[] }> {
  return rollout.store.readAudit(options);
}
