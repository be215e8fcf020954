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
  TransitionRequest,
} from './port.js';
export {
  AGGREGATE_FOLD_VERSION,
  AggregateStateSchema,
  EpochAggregateSchema,
  aggregateKey,
  canaryAggregateKey,
  emptyAggregate,
  foldInto,
  foldRecord,
  roleAggregateKey,
  type AggregateState,
  type EpochAggregate,
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
