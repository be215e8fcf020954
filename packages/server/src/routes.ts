/**
 * The route table: every route's method, path, scope, schemas and handler in one place. The Hono
 * app is built from it (app.ts) and so is /openapi.json (openapi.ts), so the document covers
 * every route by construction.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import type { ZodOpenApiOperationObject } from 'zod-openapi';
import { BernsteinError, formatZodIssues } from '@bernstein/store';
import { RoleNameSchema } from '@bernstein/prompt-versions';
import { historyEvent, ndjsonItems, OutcomeInputSchema, type OutcomeInput } from '@bernstein/rollout';
import type { Scope } from './auth.js';
import type { RoutedTask, ServiceFacade } from './facade.js';
import { HttpError, errorBody, oneLine, parseJson, readBody } from './http.js';
import {
  BulkEvaluationFailureSchema,
  BulkEvaluationSuccessSchema,
  ErrorBodySchema,
  EvaluationFailureSchema,
  EvaluationRequestSchema,
  EvaluationSuccessSchema,
  FlagNotFoundSchema,
  HistoryQuerySchema,
  HistoryResponseSchema,
  LIMITS,
  OfrepConfigurationSchema,
  OutcomesConflictSchema,
  OutcomesRequestSchema,
  OutcomesResponseSchema,
  RoleParamSchema,
  RoleQuerySchema,
  StartCanaryRequestSchema,
  StatusResponseSchema,
  TaskIdSchema,
  TransitionRequestSchema,
  TransitionResponseSchema,
  VersionDiffResponseSchema,
  VersionListResponseSchema,
  VersionRefSchema,
  VersionResponseSchema,
  type EvaluationSuccess,
  type OutcomeResult,
} from './schemas.js';
import type { EventHub } from './events.js';
import { DASHBOARD_HTML, DASHBOARD_SCRIPT } from './dashboard/assets.js';

export interface RouteDeps {
  facade: ServiceFacade;
  events: EventHub;
  /** The generated OpenAPI document (built once, lazily). */
  openapi: () => unknown;
  /** A line on the server log (transitions, failures); never tokens. */
  log: (line: string) => void;
}

export interface RouteDef {
  method: 'get' | 'post';
  /** OpenAPI-style path: /v1/versions/{id}. */
  path: string;
  /** null: served without a token (the dashboard shell and the API description hold no data). */
  scope: Scope | null;
  operation: ZodOpenApiOperationObject;
  handle: (c: Context, deps: RouteDeps) => Promise<Response>;
}

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), json(ErrorBodySchema, ERROR_TEXT[s] ?? 'error')]));
const ERROR_TEXT: Record<number, string> = {
  400: 'bad request: the message says what is wrong',
  401: 'no token, or an unknown token',
  403: 'the token lacks the scope this route needs',
  404: 'not found',
  409: 'conflict: the state changed, or the request contradicts it',
  413: 'the body is too large',
  500: 'internal error (no details are given out)',
};
const authErrors = errors(401, 403, 500);

// ---------------------------------------------------------------------------------------------
// OFREP

function ofrepFailure(c: Context, status: 400 | 404 | 500, key: string, errorCode: string, errorDetails: string) {
  return c.json({ key, errorCode, errorDetails }, status);
}

/** Parse an OFREP request body: empty is `{}`; a missing context is an empty context. */
async function evaluationContext(c: Context): Promise<{ ok: true; context: Record<string, unknown> } | { ok: false; errorCode: 'PARSE_ERROR' | 'INVALID_CONTEXT'; details: string }> {
  const text = await readBody(c.req.raw, LIMITS.bodyBytes);
  if (text.trim() === '') return { ok: true, context: {} };
  const parsed = parseJson(text);
  if (!parsed.ok) return { ok: false, errorCode: 'PARSE_ERROR', details: parsed.message };
  const request = EvaluationRequestSchema.safeParse(parsed.value);
  if (!request.success) return { ok: false, errorCode: 'INVALID_CONTEXT', details: formatZodIssues(request.error.issues) };
  return { ok: true, context: (request.data.context ?? {}) as Record<string, unknown> };
}

function targetingKeyOf(context: Record<string, unknown>): { ok: true; taskId: string } | { ok: false; errorCode: 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT'; details: string } {
  const key = context.targetingKey;
  if (key === undefined || key === null || key === '') return { ok: false, errorCode: 'TARGETING_KEY_MISSING', details: 'the context needs targetingKey: the task id' };
  const check = TaskIdSchema.safeParse(key);
  if (!check.success) return { ok: false, errorCode: 'INVALID_CONTEXT', details: `targetingKey: ${formatZodIssues(check.error.issues)}` };
  return { ok: true, taskId: check.data };
}

export function evaluation(task: RoutedTask): EvaluationSuccess {
  return {
    key: task.role,
    value: { versionId: task.versionId, arm: task.arm, canaryId: task.canaryId, model: task.model, filesHash: task.filesHash },
    variant: task.arm,
    reason: task.canaryId !== null ? 'SPLIT' : 'STATIC',
    metadata: { versionId: task.versionId, arm: task.arm, canaryId: task.canaryId ?? '', percentage: task.percentage },
  };
}

const evaluateFlag: RouteDef = {
  method: 'post',
  path: '/ofrep/v1/evaluate/flags/{key}',
  scope: 'route',
  operation: {
    operationId: 'evaluateFlag',
    tags: ['OFREP'],
    summary: 'Route a task (OFREP single-flag evaluation): the flag key is the role, targetingKey the task id',
    description: 'Routes the task exactly as `bernstein canary route` does: sticky (a retry keeps its arm) and recorded in the ledger before the answer.',
    requestParams: { path: z.object({ key: z.string().meta({ description: 'the role' }) }) },
    requestBody: { content: { 'application/json': { schema: EvaluationRequestSchema } } },
    responses: {
      '200': json(EvaluationSuccessSchema, 'the arm and version the task runs with'),
      '400': json(EvaluationFailureSchema, 'PARSE_ERROR, TARGETING_KEY_MISSING or INVALID_CONTEXT'),
      '404': json(FlagNotFoundSchema, 'FLAG_NOT_FOUND: no such role'),
      ...authErrors,
    },
  },
  async handle(c, { facade }) {
    const key = c.req.param('key') ?? '';
    const context = await evaluationContext(c);
    if (!context.ok) return ofrepFailure(c, 400, key, context.errorCode, context.details);
    if (!RoleNameSchema.safeParse(key).success) return ofrepFailure(c, 404, key, 'FLAG_NOT_FOUND', `no role "${key}"`);
    const target = targetingKeyOf(context.context);
    if (!target.ok) return ofrepFailure(c, 400, key, target.errorCode, target.details);
    const stratum = typeof context.context.stratum === 'string' ? context.context.stratum : undefined;
    try {
      const [task] = await facade.route(key, [{ taskId: target.taskId, ...(stratum !== undefined ? { stratum } : {}) }]);
      return c.json(evaluation(task!));
    } catch (error) {
      if (error instanceof BernsteinError && (error.code === 'ROLE_NOT_FOUND' || error.code === 'INVALID_ROLE')) return ofrepFailure(c, 404, key, 'FLAG_NOT_FOUND', oneLine(error.message));
      throw error;
    }
  },
};

const evaluateFlags: RouteDef = {
  method: 'post',
  path: '/ofrep/v1/evaluate/flags',
  scope: 'read',
  operation: {
    operationId: 'evaluateFlags',
    tags: ['OFREP'],
    summary: "Preview every role's arm for a task (OFREP bulk evaluation); records nothing",
    description: 'A task already routed shows its recorded arm; any other task the arm it would get. Only the single-flag evaluation routes, so a provider that prefetches all flags never creates assignments.',
    requestParams: { header: z.object({ 'if-none-match': z.string().optional() }) },
    requestBody: { content: { 'application/json': { schema: EvaluationRequestSchema } } },
    responses: {
      '200': {
        description: "every role's arm",
        headers: z.object({ etag: z.string().meta({ description: 'entity tag of this answer' }) }),
        content: { 'application/json': { schema: BulkEvaluationSuccessSchema } },
      },
      '304': { description: 'not modified since the ETag given in If-None-Match' },
      '400': json(BulkEvaluationFailureSchema, 'PARSE_ERROR, TARGETING_KEY_MISSING or INVALID_CONTEXT'),
      ...authErrors,
    },
  },
  async handle(c, { facade }) {
    const context = await evaluationContext(c);
    if (!context.ok) return c.json({ errorCode: context.errorCode, errorDetails: context.details }, 400);
    const target = targetingKeyOf(context.context);
    if (!target.ok) return c.json({ errorCode: target.errorCode, errorDetails: target.details }, 400);
    const flags = (await facade.preview(target.taskId)).map(evaluation);
    const body = JSON.stringify({ flags });
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304, { ETag: etag });
    return c.body(body, 200, { 'Content-Type': 'application/json', ETag: etag });
  },
};

const ofrepConfiguration: RouteDef = {
  method: 'get',
  path: '/ofrep/v1/configuration',
  scope: 'read',
  operation: {
    operationId: 'ofrepConfiguration',
    tags: ['OFREP'],
    summary: 'OFREP provider configuration: object flags only, no polling',
    responses: { '200': json(OfrepConfigurationSchema, 'what this flag service supports'), ...authErrors },
  },
  async handle(c) {
    return c.json({
      name: 'bernstein',
      capabilities: { flagEvaluation: { supportedTypes: ['object'] }, cacheInvalidation: { polling: { enabled: false, minPollingIntervalMs: 60_000 } } },
    });
  },
};

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/** The items of a POST /v1/outcomes body: parsed JSON values, or why a line is not JSON. */
async function outcomeItems(c: Context): Promise<Array<{ value: unknown } | { error: string }>> {
  const text = await readBody(c.req.raw, LIMITS.outcomesBodyBytes);
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  let items: Array<{ value: unknown } | { error: string }>;
  if (type.startsWith('application/x-ndjson') || type.startsWith('application/jsonl') || type.startsWith('application/ndjson')) {
    items = [];
    for await (const item of ndjsonItems(text.split('\n'))) items.push('error' in item ? { error: item.error } : { value: item.value });
  } else {
    const parsed = parseJson(text);
    if (!parsed.ok) throw new HttpError(400, 'PARSE_ERROR', parsed.message);
    items = Array.isArray(parsed.value) ? parsed.value.map((value) => ({ value })) : [{ value: parsed.value }];
  }
  if (items.length === 0) throw new HttpError(400, 'INVALID_ARGUMENT', 'no outcomes in the body');
  if (items.length > LIMITS.outcomesPerRequest) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `${items.length} outcomes in one request; at most ${LIMITS.outcomesPerRequest}`);
  return items;
}

const postOutcomes: RouteDef = {
  method: 'post',
  path: '/v1/outcomes',
  scope: 'route',
  operation: {
    operationId: 'recordOutcomes',
    tags: ['Outcomes'],
    summary: 'Record outcomes of routed tasks (one, a JSON array, or NDJSON); decisions are applied automatically',
    description:
      'Each outcome is handled as by `bernstein canary record`: checked, written to the ledger (fsync\'d before the answer), and followed by an evaluation of its canary. An identical retry is answered `duplicate` (idempotent); a different outcome for a task that has one is 409.',
    requestBody: {
      content: {
        'application/json': { schema: OutcomesRequestSchema },
        'application/x-ndjson': { schema: z.string().meta({ description: 'one Outcome JSON object a line' }) },
      },
    },
    responses: {
      '200': json(OutcomesResponseSchema, 'per-item results, in order'),
      '400': json(ErrorBodySchema, 'the body is not JSON, or has no outcomes (nothing was recorded)'),
      '409': json(OutcomesConflictSchema, 'a task already has a different outcome'),
      '413': json(ErrorBodySchema, ERROR_TEXT[413]!),
      ...authErrors,
    },
  },
  async handle(c, { facade }) {
    const items = await outcomeItems(c);
    const results: Array<OutcomeResult | null> = [];
    const valid: OutcomeInput[] = [];
    const slots: number[] = [];
    for (const item of items) {
      if ('error' in item) {
        results.push({ taskId: null, status: 'invalid', reason: item.error });
        continue;
      }
      const parsed = OutcomeInputSchema.safeParse(item.value);
      if (!parsed.success) {
        const raw = (item.value as { taskId?: unknown } | null)?.taskId;
        results.push({ taskId: typeof raw === 'string' ? raw : null, status: 'invalid', reason: formatZodIssues(parsed.error.issues) });
        continue;
      }
      slots.push(results.length);
      results.push(null);
      valid.push(parsed.data);
    }
    let recorded = 0;
    let conflicts = 0;
    let transitions: Awaited<ReturnType<ServiceFacade['record']>>['transitions'] = [];
    if (valid.length > 0) {
      const output = await facade.record(valid);
      transitions = output.transitions;
      output.verdicts.forEach((verdict, i) => {
        if (verdict.status === 'recorded') recorded += 1;
        if (verdict.status === 'conflict') conflicts += 1;
        results[slots[i]!] = {
          taskId: verdict.taskId,
          status: verdict.status === 'conflict' ? 'duplicate' : verdict.status,
          ...(verdict.reason !== undefined ? { reason: verdict.status === 'conflict' ? `conflict: ${verdict.reason}` : verdict.reason } : {}),
        };
      });
    }
    const body = { results: results as OutcomeResult[], recorded, transitions };
    if (conflicts > 0) {
      return c.json({ ...errorBody('OUTCOME_CONFLICT', `${conflicts} task${conflicts === 1 ? '' : 's'} already ha${conflicts === 1 ? 's' : 've'} a different outcome; the results say which`), ...body }, 409);
    }
    return c.json(body);
  },
};

// ---------------------------------------------------------------------------------------------
// Reading

function query<T extends z.ZodType>(c: Context, schema: T): z.output<T> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw new HttpError(400, 'INVALID_ARGUMENT', formatZodIssues(parsed.error.issues));
  return parsed.data;
}

const getStatus: RouteDef = {
  method: 'get',
  path: '/v1/status',
  scope: 'read',
  operation: {
    operationId: 'status',
    tags: ['Reading'],
    summary: 'Per role: stable, canary, percentage, step, pass rates per arm, the decision and why (`canary status --json`)',
    requestParams: { query: RoleQuerySchema },
    responses: { '200': json(StatusResponseSchema, 'every role, or the one asked for'), ...errors(400, 404), ...authErrors },
  },
  async handle(c, { facade }) {
    const { role } = query(c, RoleQuerySchema);
    const roles = await facade.status(role);
    if (role !== undefined && roles.length === 0) throw new HttpError(404, 'ROLE_NOT_FOUND', `role "${role}" has no routing state yet (route a task or start a canary first)`);
    return c.json({ roles });
  },
};

const getHistory: RouteDef = {
  method: 'get',
  path: '/v1/history',
  scope: 'read',
  operation: {
    operationId: 'history',
    tags: ['Reading'],
    summary: 'The audit log, oldest first, a page at a time (`canary history --json` events)',
    requestParams: { query: HistoryQuerySchema },
    responses: { '200': json(HistoryResponseSchema, 'one page of events'), ...errors(400), ...authErrors },
  },
  async handle(c, { facade }) {
    const { role, cursor, limit } = query(c, HistoryQuerySchema);
    const page = await facade.history({ ...(role !== undefined ? { role } : {}), ...(cursor !== undefined ? { cursor } : {}), limit: limit ?? 100 });
    return c.json({ events: page.events.map(historyEvent), nextCursor: page.cursor, more: page.more });
  },
};

const listVersions: RouteDef = {
  method: 'get',
  path: '/v1/versions',
  scope: 'read',
  operation: {
    operationId: 'listVersions',
    tags: ['Versions'],
    summary: 'Registered versions (`versions list --json`)',
    requestParams: { query: RoleQuerySchema },
    responses: { '200': json(VersionListResponseSchema, 'every version, or those of one role'), ...errors(400), ...authErrors },
  },
  async handle(c, { facade }) {
    const { role } = query(c, RoleQuerySchema);
    const versions = await facade.listVersions(role);
    return c.json({
      versions: versions.map((v) => ({ id: v.id, hash: v.hash, role: v.role, createdAt: v.createdAt, origin: v.origin, files: v.fileNames, model: v.model, status: v.status })),
    });
  },
};

const getVersion: RouteDef = {
  method: 'get',
  path: '/v1/versions/{id}',
  scope: 'read',
  operation: {
    operationId: 'getVersion',
    tags: ['Versions'],
    summary: 'The full content of a version (`versions show --json`); by its 12-char id the answer is immutable',
    requestParams: { path: z.object({ id: VersionRefSchema.meta({ description: 'a version id, or a unique prefix of 4+ hex chars' }) }), header: z.object({ 'if-none-match': z.string().optional() }) },
    responses: {
      '200': {
        description: 'the version; `Cache-Control: immutable` when asked for by its full id',
        headers: z.object({ etag: z.string(), 'cache-control': z.string() }),
        content: { 'application/json': { schema: VersionResponseSchema } },
      },
      '304': { description: 'not modified' },
      ...errors(400, 404, 409),
      ...authErrors,
    },
  },
  async handle(c, { facade }) {
    const ref = VersionRefSchema.safeParse(c.req.param('id'));
    if (!ref.success) throw new HttpError(400, 'INVALID_ARGUMENT', `version id: ${formatZodIssues(ref.error.issues)}`);
    const version = await facade.version(ref.data);
    const etag = `"${version.hash}"`;
    // Ids are content hashes: the content of an id never changes. A prefix may become ambiguous.
    const cache = ref.data === version.id ? 'public, max-age=31536000, immutable' : 'no-cache';
    if (matchesEtag(c.req.header('if-none-match'), etag)) return c.body(null, 304, { ETag: etag, 'Cache-Control': cache });
    c.header('ETag', etag);
    c.header('Cache-Control', cache);
    return c.json({ id: version.id, hash: version.hash, role: version.role, createdAt: version.createdAt, origin: version.origin, model: version.model, files: version.files });
  },
};

const diffVersionsRoute: RouteDef = {
  method: 'get',
  path: '/v1/versions/{a}/diff/{b}',
  scope: 'read',
  operation: {
    operationId: 'diffVersions',
    tags: ['Versions'],
    summary: 'Unified diff of two versions: files and model config (`versions diff --json`)',
    requestParams: { path: z.object({ a: VersionRefSchema, b: VersionRefSchema }) },
    responses: { '200': json(VersionDiffResponseSchema, 'the diff'), ...errors(400, 404, 409), ...authErrors },
  },
  async handle(c, { facade }) {
    const a = VersionRefSchema.safeParse(c.req.param('a'));
    const b = VersionRefSchema.safeParse(c.req.param('b'));
    if (!a.success || !b.success) throw new HttpError(400, 'INVALID_ARGUMENT', 'version ids are lowercase hex');
    return c.json(await facade.diff(a.data, b.data));
  },
};

const getReport: RouteDef = {
  method: 'get',
  path: '/v1/report',
  scope: 'read',
  operation: {
    operationId: 'report',
    tags: ['Reading'],
    summary: 'The self-contained HTML canary report (`canary report`)',
    requestParams: { query: RoleQuerySchema },
    responses: { '200': { description: 'an HTML page', content: { 'text/html': { schema: z.string() } } }, ...errors(400, 404), ...authErrors },
  },
  async handle(c, { facade }) {
    const { role } = query(c, RoleQuerySchema);
    await assertRoleKnown(facade, role);
    return c.html(await facade.reportHtml(role));
  },
};

const ReportDataSchema = z
  .looseObject({ schemaVersion: z.number(), generatedAt: z.string(), canaries: z.array(z.looseObject({ canaryId: z.string(), role: z.string(), status: z.string() })), events: z.array(z.unknown()) })
  .meta({ id: 'ReportData', description: "the report's data: per canary, each arm's pass rate over its outcomes with intervals, the windows, markers and decision" });

const getReportData: RouteDef = {
  method: 'get',
  path: '/v1/report/data',
  scope: 'read',
  operation: {
    operationId: 'reportData',
    tags: ['Reading'],
    summary: "The report's data as JSON: the evidence over time the dashboard draws",
    requestParams: { query: RoleQuerySchema },
    responses: { '200': json(ReportDataSchema, 'report data'), ...errors(400, 404), ...authErrors },
  },
  async handle(c, { facade }) {
    const { role } = query(c, RoleQuerySchema);
    await assertRoleKnown(facade, role);
    const data = await facade.reportData(role);
    // The project path is this machine's business.
    return c.json({ ...data, projectRoot: undefined });
  },
};

async function assertRoleKnown(facade: ServiceFacade, role: string | undefined): Promise<void> {
  if (role === undefined) return;
  if ((await facade.status(role)).length === 0) throw new HttpError(404, 'ROLE_NOT_FOUND', `role "${role}" has no routing state yet (route a task or start a canary first)`);
}

const getEvents: RouteDef = {
  method: 'get',
  path: '/v1/events',
  scope: 'read',
  operation: {
    operationId: 'events',
    tags: ['Reading'],
    summary: 'Server-sent events: `status` (every role, as GET /v1/status) on connect and after every change, `outcomes`, `routed`, `transition`',
    responses: { '200': { description: 'an event stream', content: { 'text/event-stream': { schema: z.string() } } }, ...authErrors },
  },
  async handle(c, { events }) {
    return events.stream(c);
  },
};

// ---------------------------------------------------------------------------------------------
// Control

async function jsonBody<T extends z.ZodType>(c: Context, schema: T, { optional = false } = {}): Promise<z.output<T>> {
  const text = await readBody(c.req.raw, LIMITS.bodyBytes);
  if (text.trim() === '' && optional) return schema.parse({});
  const parsed = parseJson(text);
  if (!parsed.ok) throw new HttpError(400, 'PARSE_ERROR', parsed.message);
  const result = schema.safeParse(parsed.value);
  if (!result.success) throw new HttpError(400, 'INVALID_ARGUMENT', formatZodIssues(result.error.issues));
  return result.data;
}

const startCanary: RouteDef = {
  method: 'post',
  path: '/v1/canaries',
  scope: 'admin',
  operation: {
    operationId: 'startCanary',
    tags: ['Control'],
    summary: "Start a canary of a version or of a role's bundle on disk, or change a running canary's percentage (`config canary`)",
    requestBody: { content: { 'application/json': { schema: StartCanaryRequestSchema } } },
    responses: { '200': json(TransitionResponseSchema, 'the transitions applied'), ...errors(400, 404, 409), ...authErrors },
  },
  async handle(c, { facade }) {
    const body = await jsonBody(c, StartCanaryRequestSchema);
    if ((body.versionId === undefined) === (body.role === undefined)) throw new HttpError(400, 'INVALID_ARGUMENT', 'give exactly one of versionId or role');
    if (body.model !== undefined && body.role === undefined) throw new HttpError(400, 'INVALID_ARGUMENT', 'model needs role');
    if (body.percentage === undefined && body.steps === undefined) throw new HttpError(400, 'INVALID_ARGUMENT', 'give percentage (or steps)');
    if (body.steps && body.percentage !== undefined && body.steps[0] !== body.percentage) {
      throw new HttpError(400, 'INVALID_ARGUMENT', `percentage ${body.percentage} disagrees with the first step ${body.steps[0]}; leave percentage out with steps`);
    }
    if (body.steps && body.steps.some((s, i) => i > 0 && s <= body.steps![i - 1]!)) throw new HttpError(400, 'INVALID_ARGUMENT', 'steps must increase');
    const events = await facade.startCanary(body);
    return c.json({ events, alerts: facade.alertsFor(events) });
  },
};

function transitionRoute(action: 'promote' | 'rollback'): RouteDef {
  return {
    method: 'post',
    path: `/v1/canaries/{role}/${action}`,
    scope: 'admin',
    operation: {
      operationId: action === 'promote' ? 'promoteCanary' : 'rollbackCanary',
      tags: ['Control'],
      summary:
        action === 'promote'
          ? "Make the role's canary stable now (`config canary --promote`)"
          : "Roll the role's canary back, or with no canary revert stable to the previous stable (`config canary --rollback`)",
      requestParams: { path: z.object({ role: RoleParamSchema }) },
      requestBody: { content: { 'application/json': { schema: TransitionRequestSchema } } },
      responses: { '200': json(TransitionResponseSchema, 'the transitions applied; their alerts go out after the answer (listed once delivered)'), ...errors(400, 404, 409), ...authErrors },
    },
    async handle(c, { facade }) {
      const role = RoleParamSchema.safeParse(c.req.param('role'));
      if (!role.success) throw new HttpError(400, 'INVALID_ARGUMENT', `role: ${formatZodIssues(role.error.issues)}`);
      const body = await jsonBody(c, TransitionRequestSchema, { optional: true });
      const events = action === 'promote' ? await facade.promote(role.data, body.reason) : await facade.rollback(role.data, body.reason);
      return c.json({ events, alerts: facade.alertsFor(events) });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Service

const health: RouteDef = {
  method: 'get',
  path: '/v1/health',
  scope: null,
  operation: {
    operationId: 'health',
    tags: ['Service'],
    summary: 'Liveness: 200 while the server accepts requests',
    responses: { '200': json(z.object({ ok: z.literal(true) }).meta({ id: 'Health' }), 'serving') },
  },
  async handle(c) {
    return c.json({ ok: true });
  },
};

const openapiDocument: RouteDef = {
  method: 'get',
  path: '/openapi.json',
  scope: null,
  operation: {
    operationId: 'openapi',
    tags: ['Service'],
    summary: 'This document: OpenAPI 3.1, generated from the zod schemas the server parses and answers with',
    responses: { '200': { description: 'the OpenAPI document', content: { 'application/json': { schema: z.looseObject({ openapi: z.string() }) } } } },
  },
  async handle(c, { openapi }) {
    return c.json(openapi());
  },
};

const dashboard: RouteDef = {
  method: 'get',
  path: '/',
  scope: null,
  operation: {
    operationId: 'dashboard',
    tags: ['Service'],
    summary: 'The live dashboard (its data comes from the read routes, with the token given in the page)',
    responses: { '200': { description: 'an HTML page', content: { 'text/html': { schema: z.string() } } } },
  },
  async handle(c) {
    c.header('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'");
    return c.html(DASHBOARD_HTML);
  },
};

const dashboardScript: RouteDef = {
  method: 'get',
  path: '/dashboard.js',
  scope: null,
  operation: {
    operationId: 'dashboardScript',
    tags: ['Service'],
    summary: "The dashboard's script (served by this server; no CDN)",
    responses: { '200': { description: 'JavaScript', content: { 'text/javascript': { schema: z.string() } } } },
  },
  async handle(c) {
    return c.body(DASHBOARD_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-cache' });
  },
};

export const ROUTES: readonly RouteDef[] = [
  evaluateFlag,
  evaluateFlags,
  ofrepConfiguration,
  postOutcomes,
  getStatus,
  getHistory,
  listVersions,
  diffVersionsRoute,
  getVersion,
  startCanary,
  transitionRoute('promote'),
  transitionRoute('rollback'),
  getReport,
  getReportData,
  getEvents,
  health,
  openapiDocument,
  dashboard,
  dashboardScript,
];
