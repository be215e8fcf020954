import { DecisionEvidenceSchema } from '@bernstein/quality-compare';
import { z } from 'zod';

/**
 * The evidence an automatic decision stores in its audit event: the judge's evidence plus the
 * rule that fired. Manual transitions carry none (null). The one definition of that shape:
 * the report and the demo read it through this schema.
 */
export const AuditEvidenceSchema = DecisionEvidenceSchema.extend({ rule: z.string().min(1).optional() });
export type AuditEvidence = z.infer<typeof AuditEvidenceSchema>;

/** Parse an audit event's evidence: the judge's shape, or null for anything else (a manual transition, an alert note). */
export function parseAuditEvidence(value: unknown): AuditEvidence | null {
  const parsed = AuditEvidenceSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}
