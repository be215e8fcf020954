/**
 * The pure decision core of @bernstein/quality-compare: no I/O, plain data in and out.
 */
export {
  ArmEvidenceSchema,
  ArmStatsSchema,
  AttritionEvidenceSchema,
  DecisionEvidenceSchema,
  DecisionSchema,
  DecisionSettingsSchema,
  DEFAULT_DECISION_SETTINGS,
  EpochEvidenceSchema,
  GUARDRAIL_METRICS,
  POLICIES,
  RULES,
  type ArmEvidence,
  type ArmStats,
  type AttritionEvidence,
  type Decision,
  type DecisionAction,
  type DecisionEvidence,
  type DecisionSettings,
  type EpochEvidence,
  type GateEvidence,
  type Guardrail,
  type GuardrailEvidence,
  type GuardrailMetric,
  type MetricSummary,
  type OutcomeSample,
  type Policy,
  type RuleId,
  type SrmEvidence,
  type StratumEvidence,
} from './core/types.js';
export { StatsInputError } from './core/errors.js';
export {
  CANARY_EVIDENCE_VERSION,
  CanaryEvidenceSchema,
  canaryEvidenceSummary,
  emptyCanaryEvidence,
  foldCanaryAssignment,
  foldCanaryOutcome,
  type CanaryAssignment,
  type CanaryEvidence,
  type CanaryResolution,
  type EpochArmSummary,
  type EvidenceSummary,
  type PassTally,
} from './core/evidence.js';
export { addOutcome, emptyArmStats, mergeArmStats } from './core/stats.js';
export {
  compileSettings,
  decide,
  evidenceVerdict,
  prepareEvidence,
  type CompiledSettings,
  type DecideContext,
  type EpochConfig,
  type PreparedEvidence,
  type Verdict,
} from './core/decide.js';
export { SEQUENTIAL_CONSTANTS } from './core/sequential.js';
export { SRM_ALPHA } from './core/srm.js';
export { GUARDRAIL_CONSTANTS } from './core/guardrails.js';
export { jeffreysInterval } from './core/intervals.js';
export {
  decisionQualityTable,
  simulate,
  simulateBoth,
  type DecisionQualityTable,
  type QualityCheck,
  type QualityRow,
  type Rate,
  type SimulationParams,
  type SimulationResult,
} from './core/simulate.js';
export {
  simulateRun,
  simulateScenario,
  type ArmBehaviour,
  type Delay,
  type JudgeKind,
  type Quantiles,
  type RunResult,
  type Scenario,
  type ScenarioResult,
  type StratumSpec,
} from './core/simulate-engine.js';
export { intervalWidth, scenarioTable, type ScenarioCell, type ScenarioRow, type ScenarioTable } from './core/simulate-table.js';
