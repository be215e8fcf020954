/**
 * The pure core of @bernstein/canary-router: sticky bucketing, the `.sdd/config.yaml` schema,
 * the routing state document, lifecycle transitions with their audit events, and the routing
 * decision. Pure: plain data in, plain data out (the config and state documents are read by the stores and services).
 */
export { BUCKET_KEY_SEPARATOR, bucket, bucketHash, murmurHash3Utf8, routesToCanary } from './core/bucket.js';
export {
  CANARY_POLICIES,
  DEFAULT_ALERT_TIMEOUT_MS,
  DEFAULT_TEMPLATES_DIR,
  MAX_ALERT_TIMEOUT_MS,
  DEFAULT_OUTCOME_TIMEOUT,
  MAX_OUTCOME_TIMEOUT_MS,
  parseDuration,
  ProjectConfigFileSchema,
  StepsSchema,
  bundleLayout,
  type BundleConfig,
  WEBHOOK_SCHEMES,
  defaultProjectConfig,
  describeTemplatesFolder,
  loadProjectConfig,
  loadProjectConfigWarnings,
  misplacedConfigKeys,
  parseProjectConfig,
  type CanaryConfig,
  type CanaryPolicy,
  type Guardrail,
  type ProjectConfig,
} from './core/config.js';
export {
  ActorSchema,
  AUDIT_ACTIONS,
  AUDIT_EVENT_VERSION,
  AuditEventSchema,
  type Actor,
  type AuditAction,
  type AuditEvent,
} from './core/audit-event.js';
export {
  CanaryIdSchema,
  CanarySchema,
  CanaryStateSchema,
  EpochSchema,
  MAX_PREVIOUS_STABLES,
  RoleStateSchema,
  STATE_SCHEMA_VERSION,
  VersionIdSchema,
  canaryStateDocument,
  emptyCanaryState,
  recogniseUpstreamCanaryFile,
  isAtFinalStep,
  isCanaryId,
  isRejected,
  isVersionId,
  nextStepPercentage,
  type Canary,
  type CanaryState,
  type EpochRecord,
  type RoleState,
} from './core/state.js';
export {
  applyTransition,
  describeAuditEvent,
  newCanaryId,
  type Transition,
  type TransitionContext,
  type TransitionResult,
  type TransitionType,
} from './core/transitions.js';
export { autoStartTransition, decideRoute, planBundleChange, type Arm, type BundleChangeOptions, type BundleChangePlan, type RouteDecision } from './core/route.js';
export { classifyDisk, describeDiskState, effectiveBundle, type DiskState, type EffectiveBundle, type PromotedModel } from './core/disk.js';
