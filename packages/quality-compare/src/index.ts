export * from './core.js';
export { aggregatesDocument, AggregatesSchema, currentAggregates, foldOutcome, saveAggregates, type Aggregates, type EpochArms } from './aggregates.js';
export { canaryWindow, decisionSettings, evaluateCanaries, evaluateCanary, mightDecide, type RoleEvaluation } from './evaluate.js';
export {
  assertRecordable,
  ndjsonItems,
  ndjsonItemsFromStream,
  MAX_OUTCOME_LINE_BYTES,
  OutcomeInputSchema,
  recordOutcomes,
  type OutcomeInput,
  type RecordItem,
  type RecordOptions,
  type RecordResult,
  type SkipCode,
  type SkippedLine,
} from './record.js';
export { alertPayload, alertTransitions, deliverAlerts, type AlertDelivery, type AlertPayload } from './alerts.js';
export { canaryStatus, lastCanaryOf, type ArmCounts, type LastCanary, type RoleStatus } from './status.js';
export * from './report.js';
