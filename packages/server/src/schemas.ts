/**
 * Every HTTP body of `bernstein serve`, as zod schemas: requests are parsed with them, response
 * types come from them, and /openapi.json is generated from them (see openapi.ts). Response shapes
 * are the CLI's `--json` shapes (SPEC "CLI" and "HTTP service").
 */
import { z } from 'zod';
import { RoleNameSchema, TaskIdSchema, VersionOriginSchema } from '@bernstein/prompt-versions';
import { OutcomeInputSchema } from '@bernstein/rollout';

/** Upper bounds on what one request may carry (a malformed or hostile request changes nothing). */
export const LIMITS = {
  /** Bytes of any JSON body except outcomes. */
  bodyBytes: 64 * 1024,
  /** Bytes of a POST /v1/outcomes body (JSON array or NDJSON). */
  outcomesBodyBytes: 4 * 1024 * 1024,
  /** Outcomes in one request. */
  outcomesPerRequest: 1000,
  /** Events in one page of GET /v1/history. */
  historyPage: 500,
  /** Stratum labels. */
  stratumChars: 128,
  /** Length of a version id or prefix in a path. */
  versionRefChars: 64,
} as const;

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'a stable error code, e.g. INVALID_ARGUMENT, ROLE_NOT_FOUND, UNAUTHORIZED' }),
      message: z.string().meta({ description: 'what is wrong, in one line' }),
    }),
  })
  .meta({ id: 'Error', description: 'Every non-OFREP error: a code and a one-line message, never a stack trace' });

// ---------------------------------------------------------------------------------------------
// OFREP (open-feature/protocol service/openapi.yaml)

/** The evaluation context; `targetingKey` is the task id. Other keys are allowed and ignored. */
export const EvaluationContextSchema = z
  .looseObject({
    targetingKey: z.string().optional().meta({ description: 'the task id' }),
    stratum: z.string().max(LIMITS.stratumChars).optional().meta({ description: 'a label of the task known at routing time (task type, complexity)' }),
  })
  .meta({ id: 'EvaluationContext', description: 'OFREP evaluation context; targetingKey is the task id' });

export const EvaluationRequestSchema = z
  .looseObject({ context: EvaluationContextSchema.optional() })
  .meta({ id: 'EvaluationRequest', description: 'OFREP evaluation request; a body without context is an empty context' });

export const ArmSchema = z.enum(['stable', 'canary']);

export const FlagValueSchema = z
  .object({
    versionId: z.string().meta({ description: 'the version the task runs with (content hash prefix)' }),
    arm: ArmSchema,
    canaryId: z.string().nullable(),
    model: z.record(z.string(), z.unknown()).meta({ description: "the version's model config, e.g. default_model" }),
    filesHash: z.string().meta({ description: "SHA-256 of the version's prompt files; fetch them once with GET /v1/versions/{versionId}" }),
  })
  .meta({ id: 'FlagValue' });

export const FlagMetadataSchema = z
  .object({
    versionId: z.string(),
    arm: ArmSchema,
    canaryId: z.string().meta({ description: 'the canary id, or "" without a canary (metadata values are primitives)' }),
    percentage: z.number().meta({ description: "the canary's share, 0 without a canary" }),
  })
  .meta({ id: 'FlagMetadata', description: 'primitive values only, per OFREP' });

export const EvaluationSuccessSchema = z
  .object({
    key: z.string().meta({ description: 'the flag key: the role' }),
    value: FlagValueSchema,
    variant: z.string().meta({ description: 'the arm: "stable" or "canary"' }),
    reason: z.enum(['SPLIT', 'STATIC']).meta({ description: 'SPLIT while a canary runs, STATIC otherwise' }),
    metadata: FlagMetadataSchema,
  })
  .meta({ id: 'EvaluationSuccess' });

export const EvaluationFailureSchema = z
  .object({
    key: z.string(),
    errorCode: z.enum(['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL']),
    errorDetails: z.string().optional(),
  })
  .meta({ id: 'EvaluationFailure' });

export const FlagNotFoundSchema = z
  .object({ key: z.string(), errorCode: z.literal('FLAG_NOT_FOUND'), errorDetails: z.string().optional() })
  .meta({ id: 'FlagNotFound' });

export const BulkEvaluationSuccessSchema = z
  .object({ flags: z.array(z.union([EvaluationSuccessSchema, EvaluationFailureSchema])) })
  .meta({ id: 'BulkEvaluationSuccess', description: "a preview of every role's arm for the context; records nothing" });

export const BulkEvaluationFailureSchema = z
  .object({ errorCode: z.enum(['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL']), errorDetails: z.string().optional() })
  .meta({ id: 'BulkEvaluationFailure' });

export const OfrepConfigurationSchema = z
  .object({
    name: z.string(),
    capabilities: z.object({
      flagEvaluation: z.object({ supportedTypes: z.array(z.enum(['int', 'float', 'string', 'boolean', 'object'])) }),
      cacheInvalidation: z.object({ polling: z.object({ enabled: z.boolean(), minPollingIntervalMs: z.number() }) }),
    }),
  })
  .meta({ id: 'OfrepConfiguration' });

// ---------------------------------------------------------------------------------------------
// Outcomes

export const OutcomeSchema = OutcomeInputSchema.meta({
  id: 'Outcome',
  description: 'one outcome: the NDJSON line of `canary record --from` ({"taskId","passed","gates"?,"costUsd"?,"durationMs"?})',
  // `gates` is parsed in two steps (a guard, then a record of booleans), which JSON Schema renders
  // as "anything": say what it accepts.
  override: ({ jsonSchema }) => {
    const properties = (jsonSchema as { properties?: Record<string, unknown> }).properties;
    if (properties) properties.gates = { type: 'object', additionalProperties: { type: 'boolean' }, description: 'per-gate results, gate name to passed' };
  },
});

export const OutcomesRequestSchema = z
  .union([OutcomeSchema, z.array(OutcomeSchema).max(LIMITS.outcomesPerRequest)])
  .meta({ id: 'OutcomesRequest', description: `one outcome or a JSON array of at most ${LIMITS.outcomesPerRequest}; or application/x-ndjson, one outcome a line` });

export const OutcomeStatusSchema = z.enum(['recorded', 'duplicate', 'unknown-task', 'invalid']);

export const OutcomeResultSchema = z
  .object({
    taskId: z.string().nullable(),
    status: OutcomeStatusSchema,
    reason: z.string().optional(),
  })
  .meta({ id: 'OutcomeResult', description: 'duplicate: the same outcome was recorded before (an idempotent retry); a different one is a conflict (409)' });

export const AuditEventBodySchema = z
  .object({
    at: z.string(),
    role: z.string(),
    action: z.string(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    actor: z.string(),
    reason: z.string(),
    evidence: z.unknown(),
    canaryId: z.string().nullable(),
    revision: z.number(),
    percentage: z.number().optional(),
    fromPercentage: z.number().optional(),
    toPercentage: z.number().optional(),
  })
  .meta({ id: 'AuditEvent', description: 'one transition of the audit log (the `canary history --json` event)' });

export const AlertDeliverySchema = z
  .object({ event: z.string(), role: z.string(), deliveries: z.array(z.object({ channel: z.string(), ok: z.boolean() }).loose()) })
  .meta({ id: 'AlertDelivery' });

export const OutcomesResponseSchema = z
  .object({
    results: z.array(OutcomeResultSchema),
    recorded: z.number().int(),
    transitions: z.array(AuditEventBodySchema).meta({ description: 'automatic decisions applied while recording' }),
  })
  .meta({ id: 'OutcomesResponse' });

export const OutcomesConflictSchema = ErrorBodySchema.extend({ results: z.array(OutcomeResultSchema), recorded: z.number().int(), transitions: z.array(AuditEventBodySchema) }).meta({
  id: 'OutcomesConflict',
  description: 'a task already has a different outcome; the other items were handled as their results say',
});

// ---------------------------------------------------------------------------------------------
// Reading: status, history, versions

const ArmCountsSchema = z.object({ tasks: z.number().int(), passed: z.number().int() });

export const RoleStatusSchema = z
  .object({
    role: z.string(),
    stableVersion: z.string().nullable(),
    canary: z
      .object({
        id: z.string(),
        versionId: z.string(),
        percentage: z.number(),
        policy: z.enum(['sequential', 'threshold']),
        steps: z.array(z.number()),
        step: z.number().nullable(),
        startedAt: z.string(),
        stable: ArmCountsSchema,
        canary: ArmCountsSchema,
        decision: z.object({ action: z.enum(['promote', 'rollback', 'continue']), reason: z.string(), rule: z.string(), evidence: z.unknown() }),
      })
      .nullable(),
    stableOutcomes: ArmCountsSchema,
    rejected: z.array(z.string()),
  })
  .loose()
  .meta({ id: 'RoleStatus', description: 'one role of `canary status --json`' });

export const StatusResponseSchema = z.object({ roles: z.array(RoleStatusSchema) }).meta({ id: 'Status' });

export const HistoryQuerySchema = z.object({
  role: RoleNameSchema.optional(),
  cursor: z.string().max(256).regex(/^[A-Za-z0-9:._~-]+$/, 'a cursor is the nextCursor of an earlier page').optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.historyPage).optional(),
});

export const HistoryResponseSchema = z
  .object({
    events: z.array(AuditEventBodySchema),
    nextCursor: z.string().meta({ description: 'pass as ?cursor= for the next page, or later for the events appended since' }),
    more: z.boolean().meta({ description: 'false when this page reached the end of the log' }),
  })
  .meta({ id: 'History' });

export const RoleQuerySchema = z.object({ role: RoleNameSchema.optional() });

const VersionOriginBodySchema = VersionOriginSchema;

export const VersionListResponseSchema = z
  .object({
    versions: z.array(
      z.object({
        id: z.string(),
        hash: z.string(),
        role: z.string(),
        createdAt: z.string(),
        origin: VersionOriginBodySchema,
        files: z.array(z.string()),
        model: z.record(z.string(), z.unknown()),
        status: z.string().nullable().meta({ description: 'stable, "canary <n> %", rejected or null' }),
      }),
    ),
  })
  .meta({ id: 'VersionList' });

export const VersionResponseSchema = z
  .object({
    id: z.string(),
    hash: z.string(),
    role: z.string(),
    createdAt: z.string(),
    origin: VersionOriginBodySchema,
    model: z.record(z.string(), z.unknown()),
    files: z.record(z.string(), z.string()),
  })
  .meta({ id: 'Version', description: 'the full content of a version (immutable: ids are content hashes)' });

export const VersionRefSchema = z.string().min(1).max(LIMITS.versionRefChars).regex(/^[0-9a-f]+$/, 'a version id or prefix is lowercase hex');

export const VersionDiffResponseSchema = z
  .object({ a: z.string(), b: z.string(), changedFiles: z.array(z.string()), modelChanged: z.boolean(), patch: z.string() })
  .meta({ id: 'VersionDiff' });

// ---------------------------------------------------------------------------------------------
// Control

const PercentageSchema = z.number().finite().min(0).max(100);

export const StartCanaryRequestSchema = z
  .strictObject({
    versionId: VersionRefSchema.optional().meta({ description: 'canary this registered version (its role is the version\'s); like --prompt-version' }),
    role: RoleNameSchema.optional().meta({ description: 'canary the role\'s bundle on disk, or change the percentage of its running canary' }),
    model: z
      .string()
      .regex(/^[\w.:/@+-]{1,200}$/, 'invalid model name')
      .optional()
      .meta({ description: 'with role: canary the stable bundle with default_model set to this' }),
    percentage: PercentageSchema.optional(),
    steps: z.array(PercentageSchema.gt(0)).min(1).max(20).optional(),
    policy: z.enum(['sequential', 'threshold']).optional(),
    reason: z.string().max(1000).optional(),
  })
  .meta({ id: 'StartCanaryRequest', description: 'what `bernstein config canary` takes: versionId or role, and percentage or steps' });

export const TransitionRequestSchema = z.strictObject({ reason: z.string().max(1000).optional() }).meta({ id: 'TransitionRequest' });

export const TransitionResponseSchema = z
  .object({ events: z.array(AuditEventBodySchema), alerts: z.array(AlertDeliverySchema) })
  .meta({ id: 'TransitionResponse', description: 'the `config canary --json` shape: the transitions applied and their alerts' });

export const RoleParamSchema = RoleNameSchema;

export type EvaluationSuccess = z.infer<typeof EvaluationSuccessSchema>;
export type OutcomeResult = z.infer<typeof OutcomeResultSchema>;
export type StartCanaryRequest = z.infer<typeof StartCanaryRequestSchema>;
export { TaskIdSchema };
