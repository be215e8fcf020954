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
  /** the epochs of the worst group (epochs at one percentage are pooled) */
  epochs: z.array(count).optional(),
  /** every percentage group, tested on assignments */
  groups: z
    .array(z.object({ percentage: finite, epochs: z.array(count), canary: count, total: count, pValue: finite, holding: z.boolean() }))
    .optional(),
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

/** What became of one epoch's tasks on one arm: the evidence fold keeps these, the evidence reports them. */
export const RoutingCountsSchema = z.object({
  /** tasks routed to this arm in this epoch */
  assigned: count,
  /** routed, no outcome or timeout yet */
  awaiting: count,
  /** resolved by the timeout sweep (counted as failed) */
  timedOut: count,
  /** real outcomes that arrived after their timeout (never evidence) */
  late: count,
});

/** One epoch's arm in the evidence: routing and resolution counts and the counted (routing-prefix) tallies. */
export const EpochArmEvidenceSchema = RoutingCountsSchema.extend({
  tasks: count,
  passed: count,
  passRate: finite.nullable(),
});
export type EpochArmEvidence = z.infer<typeof EpochArmEvidenceSchema>;

export const EpochEvidenceSchema = z.object({
  epoch: count,
  percentage: z.number().finite().min(0).max(100),
  stable: EpochArmEvidenceSchema,
  canary: EpochArmEvidenceSchema,
  /** canary rate - stable rate within the epoch (null without outcomes on both arms) */
  difference: finite.nullable(),
});
export type EpochEvidence = z.infer<typeof EpochEvidenceSchema>;

export const StratumEvidenceSchema = z.object({
  stratum: z.string().nullable(),
  /** the stratum's weight in the standardized difference */
  weight: finite,
  stable: ArmEvidenceSchema,
  canary: ArmEvidenceSchema,
  difference: finite.nullable(),
});
export type StratumEvidence = z.infer<typeof StratumEvidenceSchema>;

/** Differential attrition: the share of each arm's routed tasks resolved by a timeout. */
export const AttritionEvidenceSchema = z.object({
  stable: z.object({ assigned: count, timedOut: count, share: finite.nullable() }),
  canary: z.object({ assigned: count, timedOut: count, share: finite.nullable() }),
  /** two-sided test of equal timeout shares, within percentage groups (Cochran-Mantel-Haenszel) */
  pValue: finite,
  differential: z.boolean(),
});
export type AttritionEvidence = z.infer<typeof AttritionEvidenceSchema>;

export const GateEvidenceSchema = z.object({
  gate: z.string(),
  stable: ArmEvidenceSchema,
  canary: ArmEvidenceSchema,
  logEvidenceWorse: finite,
  alpha: finite,
  breached: z.boolean(),
});
export type GateEvidence = z.infer<typeof GateEvidenceSchema>;

export const DecisionEvidenceSchema = z.object({
  policy: PolicySchema,
  /** counted outcomes over the canary's whole life */
  stable: ArmEvidenceSchema,
  canary: ArmEvidenceSchema,
  /** canary pass rate - stable pass rate (standardized over epochs and strata), with the interval described in the README. */
  difference: z.object({ estimate: finite, interval }).optional(),
  statistic: z.record(z.string(), finite).optional(),
  srm: SrmEvidenceSchema.optional(),
  guardrails: z.array(GuardrailEvidenceSchema).optional(),
  tasksNeeded: count.nullable().optional(),
  /** per epoch, in epoch order */
  epochs: z.array(EpochEvidenceSchema).optional(),
  /** routed tasks still awaiting an outcome, per arm */
  awaiting: z.object({ stable: count, canary: count }).optional(),
  attrition: AttritionEvidenceSchema.optional(),
  /** when tasks carry strata */
  strata: z.array(StratumEvidenceSchema).optional(),
  /** per-gate pass rates, when outcomes carry gates */
  gates: z.array(GateEvidenceSchema).optional(),
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

/** Every rule id `decide` can report ('gate' is reported as `gate.<name>`). */
export const RULES = [
  'guardrail.costUsd',
  'guardrail.durationMs',
  'gate',
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
