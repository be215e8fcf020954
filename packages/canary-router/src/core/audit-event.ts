import { z } from 'zod';

export const ActorSchema = z.enum(['auto', 'cli', 'api']);
export type Actor = z.output<typeof ActorSchema>;

/** Transitions, plus the alert notes: 'alert-delivered' and 'alert-failed' (a webhook or command alert that could not be delivered). */
export const AUDIT_ACTIONS = ['init', 'start', 'percentage', 'step', 'promote', 'rollback', 'release', 'instant-rollback', 'alert-delivered', 'alert-failed'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_EVENT_VERSION = 1;

/**
 * One line of the audit log. `from` / `to` are version ids:
 * init: null → stable; start: stable → canary version; percentage / step: canary version → canary
 * version (with fromPercentage / toPercentage); promote: old stable → canary version; rollback:
 * canary version → stable; release and instant-rollback: old stable → new stable.
 * `percentage` is the canary's share when the event happened (the new share for start / step /
 * percentage).
 */
export const AuditEventSchema = z.object({
  v: z.literal(AUDIT_EVENT_VERSION),
  at: z.string().min(1),
  role: z.string().min(1),
  action: z.enum(AUDIT_ACTIONS),
  from: z.string().nullable(),
  to: z.string().nullable(),
  canaryId: z.string().nullable(),
  percentage: z.number().min(0).max(100).optional(),
  fromPercentage: z.number().min(0).max(100).optional(),
  toPercentage: z.number().min(0).max(100).optional(),
  actor: ActorSchema,
  reason: z.string(),
  evidence: z.unknown().transform((value) => value ?? null),
  revision: z.number().int().min(1),
});

export type AuditEvent = z.output<typeof AuditEventSchema>;
