/**
 * @bernstein/rollout: the storage port and the rollout service layer written once against it.
 */
export type {
  AggregatesResult,
  AppliedTransitions,
  ApplyOptions,
  AuditCursor,
  AuditReadResult,
  LedgerPosition,
  LedgerReadResult,
  OpenStoreOptions,
  RolloutStore,
  StoreOpener,
  StoreReader,
  StoreScope,
  StoreTransaction,
  TasksResult,
  TransitionRequest,
} from './port.js';
export {
  AGGREGATE_FOLD_VERSION,
  AggregateStateSchema,
  aggregateKey,
  canaryAggregateKey,
  emptyAggregate,
  evidenceOf,
  foldInto,
  foldRecord,
  outcomeSample,
  awaitingTasks,
  roleAggregateKey,
  type AggregateState,
} from './core/aggregate.js';
export {
  ALERT_CHANNELS,
  AlertAttemptSchema,
  AlertPayloadSchema,
  MAX_ALERT_ROUNDS,
  OutboxEntrySchema,
  alertPayload,
  eventId,
  outboxEntryFor,
  type AlertAttempt,
  type AlertChannel,
  type AlertPayload,
  type OutboxEntry,
} from './core/outbox.js';
export { acceptResolution, timeoutRecord, type ResolutionSlot } from './core/resolution.js';
export { AuditEvidenceSchema, parseAuditEvidence, type AuditEvidence } from './core/evidence.js';
export { openRollout, Rollout, type RolloutOptions } from './rollout.js';
export { routeTasks, syncRoleWithDisk, type RouteOptions, type RouteResult } from './services/route.js';
export { scanVersions, type InvalidRole, type ScanResult, type ScannedVersion } from './services/scan.js';
export { diskProblemWarning, inspectDisk, promotedModelOf, readDisk, registerDisk, type DiskRead, type DiskView } from './services/disk.js';
export { syncModelToDisk, type ModelSync } from './services/sync-model.js';
export {
  applyAutomaticDecision,
  canaryRole,
  pickCanaryRole,
  promoteCanary,
  rollbackCanary,
  startCanaryOfVersion,
  type AutomaticDecision,
  type LifecycleResult,
  type ManualOptions,
  type StartOptions,
} from './services/lifecycle.js';
export { canaryEpochs, decisionEvidence, decisionSettings, evaluateCanaries, evaluateCanary, type Aggregates, type RoleEvaluation } from './services/evaluate.js';
export { SWEEP_LIMIT, sweepTimeouts, timeoutCutoff, type SweepResult } from './services/timeouts.js';
export {
  assertRecordable,
  formatDuration,
  ndjsonItems,
  ndjsonItemsFromStream,
  MAX_OUTCOME_LINE_BYTES,
  OutcomeInputSchema,
  recordOutcomes,
  type LateLine,
  type OutcomeInput,
  type RecordItem,
  type RecordOptions,
  type RecordResult,
  type SkipCode,
  type SkippedLine,
} from './services/record.js';
export { AlertDispatcher, type AlertDelivery, type AlertReport } from './services/alerts.js';
export { canaryStatus, lastCanaryOf, type ArmCounts, type LastCanary, type RoleStatus } from './services/status.js';
export { historyEvent, readHistory, type HistoryEvent } from './services/history.js';
export {
  collectReport,
  escapeHtml,
  MAX_SERIES_POINTS,
  renderReport,
  readEvidence,
  REPORT_SCHEMA_VERSION,
  writeReport,
  type CanaryReport,
  type CollectOptions,
  type ReportArmEvidence,
  type ReportEpochArm,
  type ReportEpochRow,
  type ReportCounts,
  type ReportData,
  type ReportEvidence,
  type ReportMarker,
  type ReportPoint,
  type ReportWindow,
  type RoleReport,
  type RoleVersionCounts,
} from './report/index.js';
