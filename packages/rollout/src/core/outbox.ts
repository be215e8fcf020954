import type { AuditEvent } from '@bernstein/canary-router';
import { z } from 'zod';

/**
 * The alert outbox, as plain data: which transitions alert, the JSON an alert carries, and the
 * outbox entry a store keeps per alert until it is delivered (or given up).
 */

export const ALERT_EVENTS = ['rollback', 'promotion'] as const;
export const ALERT_CHANNELS = ['webhook', 'command'] as const;
export type AlertChannel = (typeof ALERT_CHANNELS)[number];

/** The JSON body POSTed to the webhook and written to the alert command's stdin. */
export const AlertPayloadSchema = z.object({
  /** The idempotency key: the same alert delivered twice carries the same id. */
  eventId: z.string().min(1),
  /** Human-readable, Slack-style. */
  text: z.string(),
  event: z.enum(ALERT_EVENTS),
  role: z.string(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  canaryId: z.string().nullable(),
  actor: z.string(),
  at: z.string(),
  reason: z.string(),
  evidence: z.unknown(),
});
export type AlertPayload = z.infer<typeof AlertPayloadSchema>;

export const AlertAttemptSchema = z.object({
  at: z.string(),
  channel: z.enum(ALERT_CHANNELS),
  ok: z.boolean(),
  ms: z.number().nonnegative(),
  error: z.string().optional(),
});
export type AlertAttempt = z.infer<typeof AlertAttemptSchema>;

export const OUTBOX_STATUSES = ['pending', 'delivered', 'failed'] as const;

export const OutboxEntrySchema = z.object({
  /** = payload.eventId */
  id: z.string().min(1),
  /** The revision of the transition that alerts. */
  revision: z.number().int().min(1),
  role: z.string(),
  createdAt: z.string(),
  payload: AlertPayloadSchema,
  status: z.enum(OUTBOX_STATUSES),
  /** Every delivery attempt so far, oldest first. */
  attempts: z.array(AlertAttemptSchema),
  /** Who is delivering it right now, until when (ISO); null when nobody is. */
  claim: z.object({ holder: z.string(), until: z.string() }).nullable(),
});
export type OutboxEntry = z.infer<typeof OutboxEntrySchema>;

/** Delivery rounds before an alert is given up (`failed`); each round tries every channel still failing. */
export const MAX_ALERT_ROUNDS = 5;

/** The id of an audit event: unique per store (revisions are), stable across retries. */
export function eventId(event: Pick<AuditEvent, 'revision'>): string {
  return `rev-${event.revision}`;
}

/** Transitions that alert: rollbacks (automatic or manual, instant included) and promotions. */
export function alertPayload(event: AuditEvent): AlertPayload | null {
  const kind = event.action === 'rollback' || event.action === 'instant-rollback' ? 'rollback' : event.action === 'promote' ? 'promotion' : null;
  if (!kind) return null;
  const verb = kind === 'rollback' ? 'rolled back' : 'promoted';
  const subject = kind === 'rollback' ? event.from : event.to;
  const who = event.actor === 'auto' ? '' : ` (by ${event.actor})`;
  return {
    eventId: eventId(event),
    text: `[bernstein] ${verb} ${event.role} ${subject ?? ''}${who}: ${event.reason}`.replace(/\s+/g, ' '),
    event: kind,
    role: event.role,
    from: event.from,
    to: event.to,
    canaryId: event.canaryId,
    actor: event.actor,
    at: event.at,
    reason: event.reason,
    evidence: event.evidence,
  };
}

/** The pending outbox entry a store writes with an alerting event (null for events that do not alert). */
export function outboxEntryFor(event: AuditEvent): OutboxEntry | null {
  const payload = alertPayload(event);
  if (!payload) return null;
  return { id: payload.eventId, revision: event.revision, role: event.role, createdAt: event.at, payload, status: 'pending', attempts: [], claim: null };
}
