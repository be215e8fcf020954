import { z } from 'zod';
import { isReservedName } from './bundle.js';

/**
 * The ledger: which version every task ran with, and how it did. Append-only JSONL under
 * `.sdd/ledger.jsonl`; every record carries `v` (its schema version).
 */
export const ArmSchema = z.enum(['stable', 'canary']);
export type Arm = z.infer<typeof ArmSchema>;

export const TaskIdSchema = z
  .string()
  .min(1, 'a task id may not be empty')
  .max(512, 'a task id is at most 512 characters')
  .refine((id) => !/[\u0000-\u001f]/.test(id), 'a task id may not contain control characters');

const Where = {
  taskId: TaskIdSchema,
  role: z.string(),
  arm: ArmSchema,
  versionId: z.string(),
  /** The canary running when the task was routed (set on both arms), or null. */
  canaryId: z.string().nullable(),
  /** The canary's epoch (percentage period) when the task was routed, or null. */
  epoch: z.number().int().nullable(),
  at: z.string(),
};

/** A stratum label: what a task is known to be at routing time (task type, complexity, scope). */
export const StratumSchema = z
  .string()
  .min(1, 'a stratum may not be empty')
  .max(128, 'a stratum is at most 128 characters')
  .refine((s) => !/[\u0000-\u001f]/.test(s), 'a stratum may not contain control characters');

export const AssignmentRecordSchema = z.object({ v: z.literal(1), type: z.literal('assign'), ...Where, stratum: StratumSchema.optional() });
export type AssignmentRecord = z.infer<typeof AssignmentRecordSchema>;

export const GateNameSchema = z
  .string()
  .min(1, 'a gate name may not be empty')
  .max(128, 'a gate name is at most 128 characters')
  .refine((name) => !isReservedName(name), 'a gate name may not be a built-in object property name such as "constructor" or "__proto__"');
export const GateResultsSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    // zod drops an own "__proto__" key while copying a record: refuse it before that happens.
    if (value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
      ctx.addIssue({ code: 'custom', message: 'a gate name may not be "__proto__"' });
    }
  })
  .pipe(z.record(GateNameSchema, z.boolean()));

export const OutcomeRecordSchema = z.object({
  v: z.literal(1),
  type: z.literal('outcome'),
  ...Where,
  passed: z.boolean(),
  gates: GateResultsSchema.optional(),
  costUsd: z.number().finite().nonnegative().optional(),
  durationMs: z.number().finite().nonnegative().optional(),
});
export type OutcomeRecord = z.infer<typeof OutcomeRecordSchema>;

export const LedgerRecordSchema = z.discriminatedUnion('type', [AssignmentRecordSchema, OutcomeRecordSchema]);
export type LedgerRecord = z.infer<typeof LedgerRecordSchema>;

/** What the ledger says about one task: its latest assignment and its outcome, if any. */
export interface TaskEntry {
  assignment: AssignmentRecord;
  outcome: OutcomeRecord | null;
  /** Ledger line of the outcome, for messages. */
  outcomeLine?: number;
}

/**
 * What routing and recording ask of the ledger: the latest assignment of a task and its outcome.
 * The file adapter answers from `.sdd/cache/tasks.idx`; a database answers with a query.
 */
export interface TaskLookup {
  get(taskId: string): Promise<TaskEntry | undefined>;
}
