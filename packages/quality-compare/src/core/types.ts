import { z } from 'zod';

/**
 * Plain-data shapes of the decision core. Everything that is persisted (aggregates, audit
 * evidence) has a zod schema here; the TypeScript types are derived from the schemas.
 */

const count = z.number().int().nonnegative();
const finite = z.number().finite();

/** Streaming summary of a numeric metric; mergeable (sums of values and squared values). */
export const MetricSummarySchema = z
  .object({ n: count, sum: finite, sumSq: finite.nonnegative(), min: finite, max: finite })
  .refine((m) => m.n > 0, { message: 'a metric summary needs n >= 1 (use null for "no samples")' })
  .refine((m) => m.min <= m.max, { message: 'min must be <= max' });
export type MetricSummary = z.infer<typeof MetricSummarySchema>;

export const GateCountsSchema = z
  .object({ tasks: count, passed: count })
  .refine((g) => g.passed <= g.tasks, { message: 'passed must be <= tasks' });
export type GateCounts = z.infer<typeof GateCountsSchema>;

/** Outcomes recorded on one arm in the comparison window. */
export const ArmStatsSchema = z
  .object({
    tasks: count,
    passed: count,
    gates: z.record(z.string(), GateCountsSchema),
    /** null when no outcome carried costUsd */
    costUsd: MetricSummarySchema.nullable(),
    /** null when no outcome carried durationMs */
    durationMs: MetricSummarySchema.nullable(),
  })
  .refine((a) => a.passed <= a.tasks, { message: 'passed must be <= tasks' });
export type ArmStats = z.infer<typeof ArmStatsSchema>;

/** Outcomes of tasks routed while the canary was at `percentage` (0..100). */
export const EpochStatsSchema = z.object({
  percentage: z.number().finite().min(0).max(100),
  stable: ArmStatsSchema,
  canary: ArmStatsSchema,
});
export type EpochStats = z.infer<typeof EpochStatsSchema>;

export const POLICIES = ['sequential', 'threshold'] as const;
export const PolicySchema = z.enum(POLICIES);
export type Policy = z.infer<typeof PolicySchema>;

export const GuardrailSchema = z.object({
  /** Relative increase of the canary mean over the stable mean that is tolerated, e.g. 0.5 = +50 %. */
  maxIncrease: z.number().finite().nonnegative(),
});
export type Guardrail = z.infer<typeof GuardrailSchema>;

export const GUARDRAIL_METRICS = ['costUsd', 'durationMs'] as const;
export type GuardrailMetric = (typeof GUARDRAIL_METRICS)[number];

export const DecisionSettingsSchema = z.object({
  policy: PolicySchema.default('sequential'),
  minCanaryTasks: z.number().int().min(1).default(10),
  rollbackMargin: z.number().finite().min(0).max(1).default(0.1),
  guardrails: z
    .object({ costUsd: GuardrailSchema.nullable().default(null), durationMs: GuardrailSchema.nullable().default(null) })
    .default({ costUsd: null, durationMs: null }),
});
export type DecisionSettings = z.infer<typeof DecisionSettingsSchema>;

export const DEFAULT_DECISION_SETTINGS: DecisionSettings = Object.freeze({
  policy: 'sequential',
  minCanaryTasks: 10,
  rollbackMargin: 0.1,
  guardrails: Object.freeze({ costUsd: null, durationMs: null }),
}) as DecisionSettings;

const interval = z.tuple([finite, finite]);

/** Counts, pass rate and its 95 % Jeffreys interval for one arm. */
export const ArmEvidenceSchema = z.object({
  tasks: count,
  passed: count,
  passRate: finite.nullable(),
  interval: interval.nullable(),
});
export type ArmEvidence = z.infer<typeof ArmEvidenceSchema>;

export const SrmEvidenceSchema = z.object({
  pValue: finite,
  expectedShare: finite,
  observedShare: finite,
  holding: z.boolean(),
});
export type SrmEvidence = z.infer<typeof SrmEvidenceSchema>;

export const GuardrailEvidenceSchema = z.object({
  metric: z.enum(GUARDRAIL_METRICS),
  stableMean: finite,
  canaryMean: finite,
  /** The largest acceptable canary mean: stableMean * (1 + maxIncrease). */
  limit: finite,
  breached: z.boolean(),
});
export type GuardrailEvidence = z.infer<typeof GuardrailEvidenceSchema>;

export const DecisionEvidenceSchema = z.object({
  policy: PolicySchema,
  stable: ArmEvidenceSchema,
  canary: ArmEvidenceSchema,
  /** canary pass rate - stable pass rate, with the interval described in the README. */
  difference: z.object({ estimate: finite, interval }).optional(),
  statistic: z.record(z.string(), finite).optional(),
  srm: SrmEvidenceSchema.optional(),
  guardrails: z.array(GuardrailEvidenceSchema).optional(),
  tasksNeeded: count.nullable().optional(),
});
export type DecisionEvidence = z.infer<typeof DecisionEvidenceSchema>;

export const DECISION_ACTIONS = ['promote', 'rollback', 'continue'] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];

export const DecisionSchema = z.object({
  action: z.enum(DECISION_ACTIONS),
  /** Machine-readable id of the rule that fired (see RULES). */
  rule: z.string().min(1),
  /** One human sentence with numbers. */
  reason: z.string().min(1),
  evidence: DecisionEvidenceSchema,
});
export type Decision = z.infer<typeof DecisionSchema>;

/** Every rule id `decide` can report. */
export const RULES = [
  'guardrail.costUsd',
  'guardrail.durationMs',
  'min-tasks',
  'no-stable-outcomes',
  'srm-hold',
  'sequential.rollback',
  'sequential.promote',
  'sequential.continue',
  'threshold.rollback',
  'threshold.promote',
  'threshold.continue',
] as const;
export type RuleId = (typeof RULES)[number];

/** One outcome as fed to `addOutcome`. */
export interface OutcomeSample {
  passed: boolean;
  gates?: Record<string, boolean>;
  costUsd?: number;
  durationMs?: number;
}
