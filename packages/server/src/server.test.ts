import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTasks } from '@bernstein/rollout';
import { openFileRollout } from '@bernstein/store-file';
import { startServer } from './server.js';
import { createRolloutFacade } from './rollout-facade.js';
import { tokensFromEnv } from './auth.js';
import { ROUTES } from './routes.js';
import { get, post, removeProject, serveProject, tempProject, writeRole, type TestServer } from './test-helpers.js';

const CONFIG = 'canary:\n  min_canary_tasks: 5\n  policy: threshold\n  rollback_margin: 0.1\n';

function ledgerLines(dir: string): Array<Record<string, unknown>> {
  return readFileSync(join(dir, '.sdd', 'ledger.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describe('bernstein serve over a file project', () => {
  let dir: string;
  let s: TestServer;
  let canaryVersion: string;

  beforeAll(async () => {
    dir = tempProject({ backend: 'You are the backend agent.\n', qa: 'You are the QA agent.\n' }, CONFIG);
    s = await serveProject(dir);
    // First sight: the bundle on disk becomes stable; then an edit is canaried at 50 %.
    expect((await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'warmup-1' } })).status).toBe(200);
    expect((await post(`${s.url}/ofrep/v1/evaluate/flags/qa`, { context: { targetingKey: 'warmup-2' } })).status).toBe(200);
    writeRole(dir, 'backend', 'You are the backend agent. Write tests first.\n');
    const started = await post(`${s.url}/v1/canaries`, { role: 'backend', percentage: 50 });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body.events[0].action).toBe('start');
    canaryVersion = started.body.events[0].to;
  });

  afterAll(async () => {
    await s?.close();
    removeProject(dir);
  });

  it('routes over OFREP as `canary route` does: sticky, recorded, SPLIT with primitive metadata', async () => {
    const first = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'T-1', stratum: 'small' } });
    expect(first.status).toBe(200);
    const b = first.body;
    expect(b.key).toBe('backend');
    expect(b.reason).toBe('SPLIT');
    expect(b.variant).toBe(b.value.arm);
    expect(Object.keys(b.value).sort()).toEqual(['arm', 'canaryId', 'filesHash', 'model', 'versionId']);
    expect(b.value.filesHash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.value.model).toEqual({ default_model: 'sonnet' });
    expect(b.metadata).toEqual({ versionId: b.value.versionId, arm: b.value.arm, canaryId: b.value.canaryId, percentage: 50 });
    for (const value of Object.values(b.metadata)) expect(['string', 'number', 'boolean']).toContain(typeof value);
    const again = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'T-1' } });
    expect(again.body).toEqual(b);
    const assigned = ledgerLines(dir).filter((r) => r.type === 'assign' && r.taskId === 'T-1');
    expect(assigned).toHaveLength(1);
    expect(assigned[0]!.arm).toBe(b.value.arm);
    // The same arms as the library's router gives (a retry there keeps the arm recorded here).
    const [viaRouter] = await routeTasks(openFileRollout(dir), 'backend', ['T-1']);
    expect(viaRouter!.arm).toBe(b.value.arm);
    expect(viaRouter!.sticky).toBe(true);
  });

  it('answers STATIC without a canary and OFREP error codes for bad requests', async () => {
    const qa = await post(`${s.url}/ofrep/v1/evaluate/flags/qa`, { context: { targetingKey: 'Q-1' } });
    expect(qa.body.reason).toBe('STATIC');
    expect(qa.body.metadata).toEqual({ versionId: qa.body.value.versionId, arm: 'stable', canaryId: '', percentage: 0 });
    const missing = await post(`${s.url}/ofrep/v1/evaluate/flags/nobody`, { context: { targetingKey: 'X' } });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ key: 'nobody', errorCode: 'FLAG_NOT_FOUND' });
    const noKey = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: {} });
    expect(noKey.status).toBe(400);
    expect(noKey.body.errorCode).toBe('TARGETING_KEY_MISSING');
    const noContext = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, {});
    expect(noContext.body.errorCode).toBe('TARGETING_KEY_MISSING');
    const badJson = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, '{"context": ');
    expect(badJson.status).toBe(400);
    expect(badJson.body.errorCode).toBe('PARSE_ERROR');
    const badContext = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: 'nope' });
    expect(badContext.body.errorCode).toBe('INVALID_CONTEXT');
    const badKey = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'a\u0001b' } });
    expect(badKey.body.errorCode).toBe('INVALID_CONTEXT');
  });

  it('bulk evaluation previews every role, records nothing, and answers 304 to its ETag', async () => {
    const before = ledgerLines(dir).length;
    const bulk = await post(`${s.url}/ofrep/v1/evaluate/flags`, { context: { targetingKey: 'P-1' } });
    expect(bulk.status).toBe(200);
    expect(bulk.body.flags.map((f: { key: string }) => f.key)).toEqual(['backend', 'qa']);
    const etag = bulk.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(ledgerLines(dir).length).toBe(before);
    const cached = await fetch(`${s.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { 'if-none-match': etag! }, body: JSON.stringify({ context: { targetingKey: 'P-1' } }) });
    expect(cached.status).toBe(304);
    // The preview's arm is the one routing then gives; a routed task shows its recorded arm.
    const routed = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'P-1' } });
    expect(routed.body.value.arm).toBe(bulk.body.flags[0].value.arm);
    const after = await post(`${s.url}/ofrep/v1/evaluate/flags`, { context: { targetingKey: 'P-1' } });
    expect(after.body.flags[0]).toEqual(routed.body);
  });

  it('records outcomes one at a time, as a batch and as NDJSON, idempotently; a conflicting one is 409', async () => {
    const ids = ['O-1', 'O-2', 'O-3', 'O-4'];
    for (const id of ids) await post(`${s.url}/ofrep/v1/evaluate/flags/qa`, { context: { targetingKey: id } });
    const one = await post(`${s.url}/v1/outcomes`, { taskId: 'O-1', passed: true, gates: { lint: true } });
    expect(one.status).toBe(200);
    expect(one.body.results).toEqual([{ taskId: 'O-1', status: 'recorded' }]);
    const batch = await post(`${s.url}/v1/outcomes`, [
      { taskId: 'O-2', passed: false },
      { taskId: 'never-routed', passed: true },
      { taskId: 'O-3', passed: 'yes' },
      { taskId: 'O-1', passed: true, gates: { lint: true } },
    ]);
    expect(batch.status).toBe(200);
    expect(batch.body.results.map((r: { status: string }) => r.status)).toEqual(['recorded', 'unknown-task', 'invalid', 'duplicate']);
    expect(batch.body.recorded).toBe(1);
    const ndjson = await fetch(`${s.url}/v1/outcomes`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"taskId":"O-3","passed":true}\nnot json\n{"taskId":"O-4","passed":false,"durationMs":12}\n' });
    expect(ndjson.status).toBe(200);
    expect(((await ndjson.json()) as { results: Array<{ status: string }> }).results.map((r) => r.status)).toEqual(['recorded', 'invalid', 'recorded']);
    const conflict = await post(`${s.url}/v1/outcomes`, { taskId: 'O-2', passed: true });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('OUTCOME_CONFLICT');
    expect(conflict.body.results[0]).toMatchObject({ taskId: 'O-2', status: 'duplicate' });
    const outcomes = ledgerLines(dir).filter((r) => r.type === 'outcome' && ids.includes(r.taskId as string));
    expect(outcomes.map((r) => r.taskId).sort()).toEqual(ids);
    expect(outcomes.find((r) => r.taskId === 'O-2')!.passed).toBe(false);
    const malformed = await post(`${s.url}/v1/outcomes`, '[{"taskId":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('PARSE_ERROR');
  });

  it('coalesces concurrent routes into shared batches (group commit), each task recorded once', async () => {
    const facadeDir = tempProject({ solo: 'solo\n' });
    const facade = createRolloutFacade(openFileRollout(facadeDir));
    const server = await startServer({ facade, port: 0, log: () => {}, tokens: tokensFromEnv({}) });
    try {
      const ids = Array.from({ length: 64 }, (_, i) => `G-${i}`);
      const answers = await Promise.all(ids.map((id) => post(`${server.url}/ofrep/v1/evaluate/flags/solo`, { context: { targetingKey: id } })));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      const assigned = ledgerLines(facadeDir).filter((r) => r.type === 'assign');
      expect(assigned.map((r) => r.taskId).sort()).toEqual([...ids].sort());
    } finally {
      await server.close();
      removeProject(facadeDir);
    }
  });

  it('serves versions by id immutably with an ETag, lists and diffs them', async () => {
    const full = await get(`${s.url}/v1/versions/${canaryVersion}`);
    expect(full.status).toBe(200);
    expect(full.body.files['system_prompt.md']).toContain('Write tests first');
    expect(full.headers.get('cache-control')).toContain('immutable');
    const etag = full.headers.get('etag')!;
    expect((await fetch(`${s.url}/v1/versions/${canaryVersion}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const prefix = await get(`${s.url}/v1/versions/${canaryVersion.slice(0, 6)}`);
    expect(prefix.body.id).toBe(canaryVersion);
    expect(prefix.headers.get('cache-control')).toBe('no-cache');
    expect((await get(`${s.url}/v1/versions/abcdef012345`)).status).toBe(404);
    expect((await get(`${s.url}/v1/versions/NOT-HEX`)).body.error.code).toBe('INVALID_ARGUMENT');
    const list = await get(`${s.url}/v1/versions?role=backend`);
    expect(list.body.versions.map((v: { status: string | null }) => v.status).sort()).toEqual(['canary 50 %', 'stable']);
    const stable = list.body.versions.find((v: { status: string }) => v.status === 'stable').id;
    const diff = await get(`${s.url}/v1/versions/${stable}/diff/${canaryVersion}`);
    expect(diff.body.changedFiles).toEqual(['system_prompt.md']);
    expect(diff.body.patch).toContain('+You are the backend agent. Write tests first.');
  });

  it('status, history paging and the report use the CLI shapes', async () => {
    const status = await get(`${s.url}/v1/status`);
    const backend = status.body.roles.find((r: { role: string }) => r.role === 'backend');
    expect(backend.canary).toMatchObject({ versionId: canaryVersion, percentage: 50, policy: 'threshold' });
    expect(['promote', 'rollback', 'continue']).toContain(backend.canary.decision.action);
    expect((await get(`${s.url}/v1/status?role=ghost`)).status).toBe(404);
    const page1 = await get(`${s.url}/v1/history?limit=1`);
    expect(page1.body.events).toHaveLength(1);
    expect(Object.keys(page1.body.events[0])).toEqual(expect.arrayContaining(['at', 'role', 'action', 'from', 'to', 'actor', 'reason', 'evidence']));
    expect(page1.body.more).toBe(true);
    const page2 = await get(`${s.url}/v1/history?limit=500&cursor=${page1.body.nextCursor}`);
    const all = await get(`${s.url}/v1/history?limit=500`);
    expect([...page1.body.events, ...page2.body.events]).toEqual(all.body.events);
    expect(all.body.events.some((e: { action: string; actor: string }) => e.action === 'start' && e.actor === 'api')).toBe(true);
    const html = await get(`${s.url}/v1/report`);
    expect(html.headers.get('content-type')).toContain('text/html');
    // The report of the canary started above (it has no outcomes yet: a one-line entry, no chart).
    expect(String(html.body)).toContain('<title>Canary report</title>');
    expect(String(html.body)).toMatch(/<svg|data-testid="canary-oneline"/);
  });

  it('streams server-sent events: status on connect, then outcomes and a fresh status after a write', async () => {
    const controller = new AbortController();
    const response = await fetch(`${s.url}/v1/events`, { signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const next = async (): Promise<{ event: string; data: any }> => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event && data) return { event, data: JSON.parse(data) };
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    };
    const first = await next();
    expect(first.event).toBe('status');
    const before = first.data.roles.find((r: { role: string }) => r.role === 'qa').stableOutcomes.tasks;
    await post(`${s.url}/ofrep/v1/evaluate/flags/qa`, { context: { targetingKey: 'SSE-1' } });
    await post(`${s.url}/v1/outcomes`, { taskId: 'SSE-1', passed: true });
    const seen: string[] = [];
    for (;;) {
      const message = await next();
      seen.push(message.event);
      if (message.event === 'status' && message.data.roles.find((r: { role: string }) => r.role === 'qa').stableOutcomes.tasks === before + 1) break;
    }
    expect(seen).toContain('outcomes');
    controller.abort();
  });

  it('answers unknown routes and errors as JSON with a code, never a stack', async () => {
    const missing = await get(`${s.url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const bad = await post(`${s.url}/v1/canaries`, { role: 'backend', percentage: 150 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_ARGUMENT');
    expect(JSON.stringify(bad.body)).not.toMatch(/at .*\.ts:\d+/);
    const exists = await post(`${s.url}/v1/canaries`, { role: 'backend', model: 'opus', percentage: 10 });
    expect(exists.status).toBe(409);
    const huge = await post(`${s.url}/v1/outcomes`, 'x'.repeat(5 * 1024 * 1024));
    expect(huge.status).toBe(413);
  });

  it('publishes an OpenAPI 3.1 document generated from the schemas, covering every route', async () => {
    const doc = (await get(`${s.url}/openapi.json`)).body;
    expect(doc.openapi).toBe('3.1.0');
    for (const route of ROUTES) expect(doc.paths[route.path]?.[route.method], `${route.method} ${route.path}`).toBeDefined();
    expect(doc.components.schemas.EvaluationSuccess.properties.value.$ref).toBe('#/components/schemas/FlagValue');
    expect(doc.components.schemas.Outcome.required).toEqual(expect.arrayContaining(['taskId', 'passed']));
    expect(doc.components.schemas.Outcome.properties.gates).toMatchObject({ type: 'object', additionalProperties: { type: 'boolean' } });
    expect(doc.paths['/ofrep/v1/evaluate/flags/{key}'].post.responses['404'].content['application/json'].schema.$ref).toBe('#/components/schemas/FlagNotFound');
    expect(doc.paths['/v1/outcomes'].post['x-bernstein-scope']).toBe('route');
    expect(doc.paths['/v1/canaries'].post.security).toEqual([{ bearer: [] }]);
  });
});

describe('tokens and scopes', () => {
  const env = {
    BERNSTEIN_TOKEN_READ: 'read-token-0123456789',
    BERNSTEIN_TOKEN_ROUTE: 'route-token-0123456789, route-token-second-abcdef',
    BERNSTEIN_TOKEN_ADMIN: 'admin-token-0123456789',
  };
  let dir: string;
  let s: TestServer;
  beforeAll(async () => {
    dir = tempProject();
    s = await serveProject(dir, { tokens: tokensFromEnv(env) });
  });
  afterAll(async () => {
    await s?.close();
    removeProject(dir);
  });
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  it('401 without or with an unknown token, 403 with too little scope, and each scope implies the lower ones', async () => {
    expect((await get(`${s.url}/v1/status`)).status).toBe(401);
    expect((await get(`${s.url}/v1/status`, auth('wrong-token-0123456789'))).status).toBe(401);
    expect((await get(`${s.url}/v1/status`, auth(env.BERNSTEIN_TOKEN_READ))).status).toBe(200);
    const readRoutes = await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'A-1' } }, auth(env.BERNSTEIN_TOKEN_READ));
    expect(readRoutes.status).toBe(403);
    expect(readRoutes.body.error.code).toBe('FORBIDDEN');
    expect((await post(`${s.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'A-1' } }, auth('route-token-second-abcdef'))).status).toBe(200);
    expect((await get(`${s.url}/v1/status`, auth('route-token-second-abcdef'))).status).toBe(200);
    expect((await post(`${s.url}/v1/canaries/backend/rollback`, {}, auth(env.BERNSTEIN_TOKEN_ROUTE.split(',')[0]!))).status).toBe(403);
    // Admin may roll back: with no canary that is an instant rollback, refused here (no previous stable).
    const admin = await post(`${s.url}/v1/canaries/backend/rollback`, {}, auth(env.BERNSTEIN_TOKEN_ADMIN));
    expect([200, 400, 409]).toContain(admin.status);
    expect(admin.status).not.toBe(403);
    // The dashboard shell and the API description need no token; they hold no data.
    expect((await get(`${s.url}/`)).status).toBe(200);
    expect((await get(`${s.url}/openapi.json`)).status).toBe(200);
    for (const line of s.logs) for (const token of Object.values(env)) expect(line).not.toContain(token.split(',')[0]);
  });

  it('refuses to listen beyond loopback without tokens', async () => {
    const facade = createRolloutFacade(openFileRollout(dir));
    await expect(startServer({ facade, host: '0.0.0.0', port: 0, tokens: tokensFromEnv({}), log: () => {} })).rejects.toThrow(/refusing to listen on 0.0.0.0 without tokens/);
    await facade.close();
  });
});
