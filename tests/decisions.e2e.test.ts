/**
 * Issue 4 end to end through the built `bernstein` bin: record outcomes, automatic rollback of a
 * bad version (alert received by a real local HTTP server and by the alert command), automatic
 * promotion of a good one, a 5 -> 25 -> 50 -> 100 ramp, line-numbered record errors, duplicates,
 * eight processes recording at once, and a webhook that never answers.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectCleanError, expectOk } from './helpers/assert.ts';
import { binPath, REPO_ROOT } from './helpers/paths.ts';
import { describeResult, parseJson, parseNdjson, runBin, runBinMany } from './helpers/process.ts';
import { seededRandom } from '@bernstein/test-utils';
import { makeProject, removeProjects, type Routed, type TempProject } from './helpers/project.ts';
import { startWebhookServer, type WebhookServer } from './helpers/webhook.ts';

// Real processes on a small machine: generous per-test limits (a hang still fails, with output).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

beforeAll(() => {
  if (!existsSync(binPath())) throw new Error(`the bernstein bin is not built (${binPath()}); run \`pnpm build\` first`);
  if (!existsSync(join(REPO_ROOT, 'packages', 'quality-compare', 'src', 'index.ts'))) throw new Error('the quality-compare statistics core is missing');
});
const servers: WebhookServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  removeProjects();
});

interface HistoryEvent {
  at: string;
  role: string;
  action: string;
  from: string | null;
  to: string | null;
  actor: string;
  reason: string;
  evidence: any;
  canaryId?: string | null;
}

async function webhook(options: { hang?: boolean } = {}): Promise<WebhookServer> {
  const server = await startWebhookServer(options);
  servers.push(server);
  return server;
}

function configYaml(canary: Record<string, unknown> = {}, alerts: Record<string, unknown> = {}): string {
  const lines = ['# the orchestrator owns other top-level keys', 'orchestrator:', '  max_agents: 6', 'canary:'];
  for (const [key, value] of Object.entries(canary)) lines.push(`  ${key}: ${JSON.stringify(value)}`);
  if (Object.keys(alerts).length > 0) {
    lines.push('  alerts:');
    for (const [key, value] of Object.entries(alerts)) lines.push(`    ${key}: ${JSON.stringify(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Role r: v1 stable (first route), v2 on disk, a canary of v2 started with `startArgs`. */
async function canaryProject(config: string, startArgs: string[]): Promise<{ project: TempProject; v1: string; v2: string; canaryId: string }> {
  const project = makeProject({ roles: { r: { files: { 'system_prompt.md': 'v1: be careful\n' }, model: { default_model: 'sonnet' } } }, config });
  const [init] = await route(project, ['init-0']);
  project.writeRoleFile('r', 'system_prompt.md', 'v2: be fast\n');
  expectOk(await runBin(['config', 'canary', '--role', 'r', ...startArgs], { dir: project.dir }));
  const canary = project.state().roles.r!.canary!;
  return { project, v1: init!.versionId, v2: canary.versionId, canaryId: canary.id };
}

async function route(project: TempProject, taskIds: readonly string[]): Promise<Routed[]> {
  const result = expectOk(await runBin(['canary', 'route', '--role', 'r', '--json', ...taskIds.flatMap((id) => ['--task', id])], { dir: project.dir }));
  return parseNdjson<Routed>(result);
}

/** Outcome NDJSON: each task passes with its arm's probability (seeded, so reproducible given the arms). */
function outcomes(routed: readonly Routed[], pass: { stable: number; canary: number }, seed: number): string {
  const random = seededRandom(seed);
  return routed.map((r) => `${JSON.stringify({ taskId: r.taskId, passed: random() < pass[r.arm] })}\n`).join('');
}

async function history(project: TempProject): Promise<HistoryEvent[]> {
  return parseJson<{ events: HistoryEvent[] }>(expectOk(await runBin(['canary', 'history', '--json'], { dir: project.dir }))).events;
}

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Every outcome in the ledger, by task: exactly one per task id. */
function outcomeRecords(project: TempProject): Array<Record<string, any>> {
  const records = project.ledger().filter((r) => r.type === 'outcome');
  const taskIds = records.map((r) => r.taskId as string);
  expect(new Set(taskIds).size, 'each task has at most one outcome in the ledger').toBe(taskIds.length);
  return records;
}

/**
 * The evidence of an automatic decision is the counts "at the moment of the decision", counted in
 * routing order (issue 15): the first k tasks routed in the canary, each with its outcome, have
 * exactly those counts for some k.
 */
function expectEvidenceIsALedgerPrefix(project: TempProject, canaryId: string, evidence: any): void {
  for (const arm of ['stable', 'canary'] as const) {
    expect(evidence[arm], arm).toMatchObject({ tasks: expect.any(Number), passed: expect.any(Number) });
    expect(Number.isInteger(evidence[arm].tasks) && Number.isInteger(evidence[arm].passed)).toBe(true);
    expect(evidence[arm].passed).toBeLessThanOrEqual(evidence[arm].tasks);
  }
  const ledger = project.ledger();
  const outcomeOf = new Map(ledger.filter((r) => r.type === 'outcome' && r.canaryId === canaryId).map((r) => [r.taskId as string, r]));
  const counts = { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } };
  const matches = (): boolean =>
    (['stable', 'canary'] as const).every((arm) => counts[arm].tasks === evidence[arm].tasks && counts[arm].passed === evidence[arm].passed);
  let found = matches();
  for (const record of ledger) {
    if (record.type !== 'assign' || record.canaryId !== canaryId) continue;
    const outcome = outcomeOf.get(record.taskId);
    if (!outcome) break;
    const arm = counts[record.arm as 'stable' | 'canary'];
    arm.tasks += 1;
    if (outcome.passed) arm.passed += 1;
    if (matches()) found = true;
  }
  expect(found, `evidence ${JSON.stringify({ stable: evidence.stable, canary: evidence.canary })} matches no routing-order prefix of the canary's tasks`).toBe(true);
}

function alertBody(server: WebhookServer, index = 0): Record<string, any> {
  const request = server.requests[index]!;
  expect(request.method).toBe('POST');
  expect(String(request.headers['content-type'])).toContain('application/json');
  return JSON.parse(request.body) as Record<string, any>;
}

describe('automatic decisions from recorded outcomes', () => {
  it('rolls back a bad version (canary passes 30 %, stable 90 %) and alerts the webhook, the command and stderr', async () => {
    const server = await webhook();
    const commandOut = join(makeProject().dir, 'alert.json');
    const { project, v1, v2, canaryId } = await canaryProject(
      configYaml({ min_canary_tasks: 10 }, { webhook: server.url, command: `cat > '${commandOut}'`, timeout_ms: 10_000 }),
      ['--percentage', '50'],
    );
    const routed = await route(project, ids(400, 'bad'));
    expect(routed.every((r) => r.canaryId === canaryId)).toBe(true);
    const recorded = await runBin(['canary', 'record', '--from', '-'], { dir: project.dir, input: outcomes(routed, { stable: 0.9, canary: 0.3 }, 810) });
    expect(recorded.code, describeResult(recorded)).toBe(0);
    expect(recorded.stderr).toMatch(/rolled back/);

    const events = await history(project);
    const decisions = events.filter((e) => ['promote', 'rollback', 'step'].includes(e.action));
    expect(decisions).toEqual([expect.objectContaining({ action: 'rollback', role: 'r', from: v2, to: v1, actor: 'auto', canaryId })]);
    const [rollback] = decisions;
    expect(rollback!.reason).not.toBe('');
    expectEvidenceIsALedgerPrefix(project, canaryId, rollback!.evidence);
    // Strong evidence may roll back before min_canary_tasks (10) canary outcomes.
    expect(rollback!.evidence.canary.tasks).toBeGreaterThanOrEqual(1);
    expect(rollback!.evidence.canary.passed / rollback!.evidence.canary.tasks).toBeLessThan(rollback!.evidence.stable.passed / rollback!.evidence.stable.tasks);

    const role = project.state().roles.r!;
    expect(role).toMatchObject({ stable: v1, canary: null });
    expect(role.rejected).toContain(v2);
    // Every outcome was kept, including those recorded after the rollback.
    expect(outcomeRecords(project).map((r) => r.taskId).sort()).toEqual(routed.map((r) => r.taskId).sort());

    expect(server.requests).toHaveLength(1);
    const body = alertBody(server);
    expect(body).toMatchObject({ event: 'rollback', role: 'r', from: v2, to: v1 });
    expect(typeof body.text).toBe('string');
    expect(body.text).toContain('r');
    expect(body.evidence).toMatchObject({ stable: rollback!.evidence.stable, canary: rollback!.evidence.canary });
    expect(JSON.parse(readFileSync(commandOut, 'utf8'))).toMatchObject({ event: 'rollback', role: 'r', from: v2, to: v1, text: body.text });

    const status = parseJson<{ roles: Array<{ canary: unknown; stableVersion: string }> }>(expectOk(await runBin(['canary', 'status', '--json'], { dir: project.dir })));
    expect(status.roles[0]).toMatchObject({ canary: null, stableVersion: v1 });
  });

  it('promotes a good version (canary 95 %, stable 80 %) and alerts the webhook', async () => {
    const server = await webhook();
    const { project, v1, v2, canaryId } = await canaryProject(configYaml({}, { webhook: server.url }), ['--percentage', '50']);
    const routed = await route(project, ids(400, 'good'));
    const recorded = await runBin(['canary', 'record', '--from', '-', '--json'], { dir: project.dir, input: outcomes(routed, { stable: 0.8, canary: 0.95 }, 4) });
    expect(recorded.code, describeResult(recorded)).toBe(0);
    expect(parseJson<{ recorded: number }>(recorded).recorded).toBe(400);

    const decisions = (await history(project)).filter((e) => ['promote', 'rollback', 'step'].includes(e.action));
    expect(decisions).toEqual([expect.objectContaining({ action: 'promote', role: 'r', from: v1, to: v2, actor: 'auto', canaryId })]);
    expectEvidenceIsALedgerPrefix(project, canaryId, decisions[0]!.evidence);
    expect(project.state().roles.r).toMatchObject({ stable: v2, canary: null });
    expect(server.requests).toHaveLength(1);
    const body = alertBody(server);
    expect(body).toMatchObject({ role: 'r', from: v1, to: v2 });
    expect(body.event).toMatch(/^promot/);
    expect(body.text).toEqual(expect.any(String));
    expect(body.evidence).toMatchObject({ stable: decisions[0]!.evidence.stable, canary: decisions[0]!.evidence.canary });
  });

  it('ramps a good canary through --steps 5,25,50,100 without restarting the evidence, and promotes it where the next step would be 100 %', async () => {
    const { project, v2, canaryId } = await canaryProject(configYaml(), ['--steps', '5,25,50,100']);
    const status = parseJson<{ roles: Array<{ canary: Record<string, any> }> }>(expectOk(await runBin(['canary', 'status', '--json'], { dir: project.dir })));
    expect(status.roles[0]!.canary).toMatchObject({ id: canaryId, versionId: v2, percentage: 5, steps: [5, 25, 50, 100] });

    // Route and record rounds of 200 tasks until the canary is gone; a canary that sits at its
    // final step for two rounds (400 more outcomes) is not going anywhere.
    const seen: number[] = [];
    for (let round = 0; round < 12; round++) {
      const canary = project.state().roles.r!.canary;
      if (!canary) break;
      if (seen.filter((p) => p === 100).length >= 2) break;
      seen.push(canary.percentage);
      const routed = await route(project, ids(200, `ramp-${round}`));
      const recorded = await runBin(['canary', 'record', '--from', '-'], { dir: project.dir, input: outcomes(routed, { stable: 0.75, canary: 0.99 }, round + 1) });
      expect(recorded.code, describeResult(recorded)).toBe(0);
    }
    const decisions = (await history(project)).filter((e) => ['promote', 'rollback', 'step'].includes(e.action));
    const final = project.state().roles.r!;
    const lastStatus = (await runBin(['canary', 'status'], { dir: project.dir })).stdout;
    const context = `percentages seen: ${seen.join(' -> ')}; latest status:\n${lastStatus}`;
    // 5 -> 25 -> 50, then the promotion: reaching 100 % is the promotion (no epoch at 100 %).
    expect([...new Set(seen)], context).toEqual([5, 25, 50]);
    const actions = decisions.map((e) => e.action);
    expect(actions, context).toEqual(['step', 'step', 'promote']);
    expect(final, context).toMatchObject({ stable: v2, canary: null });
    // Each step carries the evidence it was taken on; the evidence never restarts: each decision's
    // combined counts are its epochs' counts added up, and grow from one decision to the next.
    for (const e of decisions) expect(e).toMatchObject({ actor: 'auto', canaryId });
    let previous = 0;
    for (const [i, e] of decisions.entries()) {
      expect(e.evidence, context).toMatchObject({ stable: { tasks: expect.any(Number) }, canary: { tasks: expect.any(Number) } });
      const epochs = e.evidence.epochs as Array<{ epoch: number; percentage: number; stable: { tasks: number; passed: number }; canary: { tasks: number; passed: number } }>;
      expect(epochs.map((x) => x.percentage), context).toEqual([5, 25, 50].slice(0, i + 1));
      for (const arm of ['stable', 'canary'] as const) {
        expect(epochs.reduce((sum, x) => sum + x[arm].tasks, 0), `${context}\n${arm} of decision ${i}`).toBe(e.evidence[arm].tasks);
        expect(epochs.reduce((sum, x) => sum + x[arm].passed, 0)).toBe(e.evidence[arm].passed);
      }
      // Each step still saw min_canary_tasks (10) canary outcomes of its own epoch.
      expect(epochs[i]!.canary.tasks, context).toBeGreaterThanOrEqual(10);
      expect(e.evidence.canary.tasks).toBeGreaterThan(previous);
      previous = e.evidence.canary.tasks;
    }
    // The promotion was judged on every epoch of the ramp: history shows the combined evidence.
    const promotion = decisions.at(-1)!;
    expect(promotion.evidence.canary.tasks).toBe((promotion.evidence.epochs as Array<{ canary: { tasks: number } }>).reduce((sum, x) => sum + x.canary.tasks, 0));
    expect(promotion.evidence.epochs[0].canary.tasks).toBeGreaterThan(0);
    // The text history says the same: combined, then per epoch.
    const text = expectOk(await runBin(['canary', 'history'], { dir: project.dir })).stdout;
    expect(text).toMatch(new RegExp(`evidence: stable ${promotion.evidence.stable.passed}/${promotion.evidence.stable.tasks}, canary ${promotion.evidence.canary.passed}/${promotion.evidence.canary.tasks} combined; epoch 0 at 5 %: .*; epoch 1 at 25 %: .*; epoch 2 at 50 %: `));
  });
});

describe('bernstein canary record', () => {
  it('reports malformed lines and unknown task ids by line number, keeps the other lines, exits non-zero; duplicates are rejected', async () => {
    const { project } = await canaryProject(configYaml({ min_canary_tasks: 1000 }), ['--percentage', '50']);
    await route(project, ['a', 'b', 'c', 'd']);
    const file = join(project.dir, 'outcomes.ndjson');
    writeFileSync(
      file,
      [
        '{"taskId":"a","passed":true,"gates":{"lint":true,"tests":true},"costUsd":0.12,"durationMs":45000}',
        '{"taskId":"b","passed":',
        '{"taskId":"never-routed","passed":false}',
        '{"taskId":"c","passed":"yes"}',
        '',
        '{"taskId":"b","passed":false}',
        '{"taskId":"a","passed":false}',
        '{"taskId":"d","passed":true,"extra":1}',
      ].join('\n') + '\n',
    );
    const result = await runBin(['canary', 'record', '--from', file, '--json'], { dir: project.dir });
    expect(result.code, describeResult(result)).not.toBe(0);
    expect(result.code).not.toBe(70);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    for (const line of [2, 3, 4, 7, 8]) expect(result.stderr, `line ${line} reported`).toMatch(new RegExp(`line ${line}\\b`));
    for (const line of [1, 6]) expect(result.stderr, `line ${line} is fine`).not.toMatch(new RegExp(`line ${line}\\b`));
    expect(result.stderr).toContain('never-routed');
    const json = parseJson<{ recorded: number; skipped: Array<{ line: number }> }>(result);
    expect(json.recorded).toBe(2);
    expect(json.skipped.map((s) => s.line).sort((x, y) => x - y)).toEqual([2, 3, 4, 7, 8]);

    const recorded = outcomeRecords(project);
    expect(recorded.map((r) => r.taskId).sort()).toEqual(['a', 'b']);
    expect(recorded.find((r) => r.taskId === 'a')).toMatchObject({ passed: true, gates: { lint: true, tests: true }, costUsd: 0.12, durationMs: 45000 });
    expect(recorded.find((r) => r.taskId === 'b')).toMatchObject({ passed: false });

    // A second outcome for a task is a duplicate, from --task as from --from.
    const before = outcomeRecords(project).length;
    expectCleanError(await runBin(['canary', 'record', '--task', 'a', '--failed'], { dir: project.dir }), ['a']);
    const dup = await runBin(['canary', 'record', '--from', '-'], { dir: project.dir, input: '{"taskId":"b","passed":true}\n' });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/line 1\b/);
    expect(outcomeRecords(project)).toHaveLength(before);

    // The single form with gates, cost and duration.
    expectOk(await runBin(['canary', 'record', '--task', 'c', '--failed', '--gate', 'lint=pass', '--gate', 'tests=fail', '--cost-usd', '0.5', '--duration-ms', '1200'], { dir: project.dir }));
    expect(outcomeRecords(project).find((r) => r.taskId === 'c')).toMatchObject({ passed: false, gates: { lint: true, tests: false }, costUsd: 0.5, durationMs: 1200 });
  });

  it('eight processes recording outcomes of one canary at once: exactly one decision, no outcome lost or doubled', async () => {
    const { project, v2, canaryId } = await canaryProject(configYaml(), ['--percentage', '50']);
    const routed = await route(project, ids(400, 'par'));
    const lines = outcomes(routed, { stable: 0.9, canary: 0.3 }, 8).trimEnd().split('\n');
    // Interleaved chunks, so every process records both arms throughout.
    const chunks = Array.from({ length: 8 }, (_, p) => lines.filter((_, i) => i % 8 === p).join('\n') + '\n');
    const results = await runBinMany(8, () => ['canary', 'record', '--from', '-', '--json'], { dir: project.dir, barrier: true, timeoutMs: 120_000, inputOf: (i) => chunks[i]! });
    for (const r of results) expect(r.code, describeResult(r)).toBe(0);
    const reports = results.map((r) => parseJson<{ recorded: number; transitions: unknown[] }>(r));
    expect(reports.reduce((sum, r) => sum + r.recorded, 0)).toBe(400);
    expect(reports.reduce((sum, r) => sum + r.transitions.length, 0)).toBe(1);

    expect(outcomeRecords(project).map((r) => r.taskId).sort()).toEqual(routed.map((r) => r.taskId).sort());
    const decisions = (await history(project)).filter((e) => ['promote', 'rollback', 'step'].includes(e.action));
    expect(decisions).toEqual([expect.objectContaining({ action: 'rollback', canaryId, from: v2, actor: 'auto' })]);
    expectEvidenceIsALedgerPrefix(project, canaryId, decisions[0]!.evidence);
    expect(project.state().roles.r!.canary).toBeNull();
  });

  it('a webhook that never answers does not undo or lose the transition, and is recorded as alert-failed', async () => {
    const server = await webhook({ hang: true });
    const { project, v1, v2, canaryId } = await canaryProject(configYaml({}, { webhook: server.url, timeout_ms: 1000 }), ['--percentage', '50']);
    const routed = await route(project, ids(300, 'hang'));
    const recorded = await runBin(['canary', 'record', '--from', '-'], { dir: project.dir, input: outcomes(routed, { stable: 0.9, canary: 0.2 }, 77), timeoutMs: 60_000 });
    expect(recorded.code, describeResult(recorded)).toBe(0);
    expect(server.requests.length).toBeGreaterThanOrEqual(1);
    expect(project.state().roles.r).toMatchObject({ stable: v1, canary: null });
    expect(project.state().roles.r!.rejected).toContain(v2);
    const events = await history(project);
    expect(events.filter((e) => e.action === 'rollback')).toEqual([expect.objectContaining({ canaryId, actor: 'auto' })]);
    const failed = events.filter((e) => e.action === 'alert-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reason).toMatch(/webhook/);
    expect(outcomeRecords(project)).toHaveLength(300);
  });

  it('manual --rollback and --promote alert the webhook too', async () => {
    const server = await webhook();
    const first = await canaryProject(configYaml({}, { webhook: server.url }), ['--percentage', '20']);
    expectOk(await runBin(['config', 'canary', '--rollback', '--role', 'r', '--reason', 'p95 latency doubled'], { dir: first.project.dir }));
    const second = await canaryProject(configYaml({}, { webhook: server.url }), ['--percentage', '20']);
    expectOk(await runBin(['config', 'canary', '--promote', '--role', 'r'], { dir: second.project.dir }));
    const bodies = server.requests.map((_, i) => alertBody(server, i));
    expect(bodies).toEqual([
      expect.objectContaining({ event: 'rollback', role: 'r', from: first.v2, to: first.v1, text: expect.stringContaining('p95 latency doubled') }),
      expect.objectContaining({ event: expect.stringMatching(/^promot/), role: 'r', from: second.v1, to: second.v2, text: expect.any(String) }),
    ]);
  });
});
