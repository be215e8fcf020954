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

/**
 * Gate results as an orchestrator reports them (`canary record --from`, the HTTP outcomes body):
 * `true` / `false`, or `"pass"` / `"fail"` as `--gate name=pass` takes them. Stored as booleans.
 */
export const GateResultsInputSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (value !== null && typeof value === 'object' && Object.hasOwn(value, '__proto__')) {
      ctx.addIssue({ code: 'custom', message: 'a gate name may not be "__proto__"' });
    }
  })
  .pipe(
    z.record(
      GateNameSchema,
      z.union([z.boolean(), z.enum(['pass', 'fail']).transform((result) => result === 'pass')], {
        error: 'a gate result is true, false, "pass" or "fail"',
      }),
    ),
  );

/** What an outcome reports besides where it belongs: the gate result and the optional metrics. */
const Result = {
  passed: z.boolean(),
  gates: GateResultsSchema.optional(),
  costUsd: z.number().finite().nonnegative().optional(),
  durationMs: z.number().finite().nonnegative().optional(),
};

/**
 * The resolution of a routed task: its real outcome, or (`timedOut: true`, with `passed: false`
 * and no gates or metrics) the failure the timeout sweep writes when no outcome arrived within
 * `canary.outcome_timeout`. One per assignment either way.
 */
export const OutcomeRecordSchema = z
  .object({
    v: z.literal(1),
    type: z.literal('outcome'),
    ...Where,
    ...Result,
    timedOut: z.literal(true).optional(),
  })
  .refine((record) => record.timedOut !== true || !record.passed, { message: 'a timed-out outcome is a failure (passed: false)', path: ['passed'] });
export type OutcomeRecord = z.infer<typeof OutcomeRecordSchema>;

/**
 * A real outcome that arrived after its task had timed out: kept (what the task really did),
 * shown as late, and never counted in the evidence (the timeout already was). At most one per
 * assignment, and only after a timeout.
 */
export const LateOutcomeRecordSchema = z.object({ v: z.literal(1), type: z.literal('late'), ...Where, ...Result });
export type LateOutcomeRecord = z.infer<typeof LateOutcomeRecordSchema>;

export const LedgerRecordSchema = z.discriminatedUnion('type', [AssignmentRecordSchema, OutcomeRecordSchema, LateOutcomeRecordSchema]);
export type LedgerRecord = z.infer<typeof LedgerRecordSchema>;

/** What the ledger says about one task: its latest assignment, its outcome and its late outcome, if any. */
export interface TaskEntry {
  assignment: AssignmentRecord;
  /** The real outcome, or the timeout written in its place (`timedOut: true`). */
  outcome: OutcomeRecord | null;
  /** Ledger line of the outcome, for messages. */
  outcomeLine?: number;
  /** The real outcome that arrived after a timeout (only when `outcome.timedOut`). */
  late?: LateOutcomeRecord | null;
}

/**
 * What routing and recording ask of the ledger: the latest assignment of a task and its outcome.
 * The file adapter answers from `.sdd/cache/tasks.idx`; a database answers with a query.
 */
export interface TaskLookup {
  get(taskId: string): Promise<TaskEntry | undefined>;
}
