/**
 * The pure decision core of @bernstein/quality-compare: no I/O, plain data in and out.
 */
export {
  ArmEvidenceSchema,
  ArmStatsSchema,
  DecisionEvidenceSchema,
  DecisionSchema,
  DecisionSettingsSchema,
  DEFAULT_DECISION_SETTINGS,
  EpochStatsSchema,
  GateCountsSchema,
  GUARDRAIL_METRICS,
  GuardrailEvidenceSchema,
  GuardrailSchema,
  MetricSummarySchema,
  POLICIES,
  PolicySchema,
  RULES,
  SrmEvidenceSchema,
  type ArmEvidence,
  type ArmStats,
  type Decision,
  type DecisionAction,
  type DecisionEvidence,
  type DecisionSettings,
  type EpochStats,
  type GateCounts,
  type Guardrail,
  type GuardrailEvidence,
  type GuardrailMetric,
  type MetricSummary,
  type OutcomeSample,
  type Policy,
  type RuleId,
  type SrmEvidence,
} from './core/types.js';
export { addOutcome, emptyArmStats, mergeArmStats, mergeMetric, metricMean, metricOf, metricVariance, windowStats } from './core/stats.js';
export { compileSettings, countsVerdict, decide, type CompiledSettings, type CountsVerdict } from './core/decide.js';
export {
  differenceConfidenceSequence,
  logEvidenceBetter,
  logEvidenceWorse,
  projectedDecisionSize,
  SEQUENTIAL_CONSTANTS,
  sequentialParams,
  sequentialVerdict,
  type MixtureComponent,
  type SequentialParams,
} from './core/sequential.js';
export { MARGIN_SCALE, scaledMargin, thresholdVerdict } from './core/threshold.js';
export { SRM_ALPHA, srmCheck, srmPValue, type SrmGroup } from './core/srm.js';
export { checkGuardrail, GUARDRAIL_CONSTANTS, type GuardrailResult } from './core/guardrails.js';
export { jeffreysInterval, moverDifferenceInterval } from './core/intervals.js';
export { binomialLogLik, maxLogLik, profileLogLik, restrictedMle, type PassCounts } from './core/likelihood.js';
export { splitmix32, Xoshiro128 } from './core/rng.js';
export {
  decisionQualityTable,
  simulate,
  simulateBoth,
  simulateCanary,
  type CanaryRun,
  type DecisionQualityTable,
  type QualityCheck,
  type QualityRow,
  type Quantiles,
  type Rate,
  type SimulationParams,
  type SimulationResult,
  type SimulationStep,
} from './core/simulate.js';
export { formatDecisionQualityTable } from './core/print-table.js';
