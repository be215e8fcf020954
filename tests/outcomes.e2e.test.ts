/**
 * Issue 15 end to end through the built `bernstein` bin: tasks whose outcome never comes count as
 * failed after `canary.outcome_timeout` and roll back a canary whose failures never report (a
 * real outcome arriving after that is kept as late, through the CLI and over HTTP), status shows
 * the tasks awaiting an outcome per arm, and a stratified canary (`canary route --stratum`).
 * The timeouts are real: `outcome_timeout: 1s` and a wait of a little more than that.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectCleanError, expectOk } from './helpers/assert.ts';
import { binPath } from './helpers/paths.ts';
import { describeResult, parseJson, parseNdjson, runBin } from './helpers/process.ts';
import { seededRandom } from '@bernstein/test-utils';
import { makeProject, removeProjects, type Routed, type TempProject } from './helpers/project.ts';
import { postJson, serveBin, type ServedProject } from './helpers/serve.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

beforeAll(() => {
  if (!existsSync(binPath())) throw new Error(`the bernstein bin is not built (${binPath()}); run \`pnpm build\` first`);
});
const servers: ServedProject[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  removeProjects();
});

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function configYaml(canary: Record<string, unknown>): string {
  return `canary:\n${Object.entries(canary)
    .map(([key, value]) => `  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('\n')}\n`;
}

/** Role r: v1 stable (first route), v2 on disk, a canary of v2 at `percentage`. */
async function canaryProject(config: string, percentage: number): Promise<{ project: TempProject; canaryId: string }> {
  const project = makeProject({ roles: { r: { files: { 'system_prompt.md': 'v1: careful\n' }, model: { default_model: 'sonnet' } } }, config });
  expectOk(await runBin(['canary', 'route', '--role', 'r', '--task', 'init-0'], { dir: project.dir }));
  project.writeRoleFile('r', 'system_prompt.md', 'v2: hasty\n');
  expectOk(await runBin(['config', 'canary', '--role', 'r', '--percentage', String(percentage)], { dir: project.dir }));
  return { project, canaryId: project.state().roles.r!.canary!.id };
}

async function route(project: TempProject, taskIds: readonly string[], stratum?: string): Promise<Routed[]> {
  const args = ['canary', 'route', '--role', 'r', '--json', '--no-files', ...(stratum !== undefined ? ['--stratum', stratum] : []), ...taskIds.flatMap((id) => ['--task', id])];
  return parseNdjson<Routed>(expectOk(await runBin(args, { dir: project.dir })));
}

async function record(project: TempProject, lines: ReadonlyArray<{ taskId: string; passed: boolean }>, extra: string[] = []) {
  return runBin(['canary', 'record', '--from', '-', ...extra], { dir: project.dir, input: lines.map((l) => `${JSON.stringify(l)}\n`).join('') });
}

async function status(project: TempProject): Promise<Record<string, any>> {
  return parseJson<{ roles: Array<Record<string, any>> }>(expectOk(await runBin(['canary', 'status', '--json'], { dir: project.dir }))).roles[0]!;
}

describe('canary.outcome_timeout', () => {
  it('counts missing outcomes as failures and rolls back a canary whose failures never report; a real outcome after that is late', async () => {
    const { project, canaryId } = await canaryProject(configYaml({ min_canary_tasks: 10, outcome_timeout: '1s' }), 50);
    const routed = await route(project, ids(80, 'silent'));
    const stable = routed.filter((r) => r.arm === 'stable');
    const canary = routed.filter((r) => r.arm === 'canary');
    expect(canary.length).toBeGreaterThanOrEqual(20);
    // Stable reports every outcome (all passed); the canary's agents hang and never report.
    expectOk(await record(project, stable.map((r) => ({ taskId: r.taskId, passed: true }))));

    // Before the timeout: the canary's tasks are awaiting an outcome, shown per arm; nothing is decided
    // on stable's passes alone (in routing order, the canary's first task blocks the count).
    const waiting = await status(project);
    expect(waiting.canary).toMatchObject({ id: canaryId, awaiting: { stable: 0, canary: canary.length }, decision: { action: 'continue' } });
    expect(waiting.canary.epochs).toEqual([expect.objectContaining({ epoch: 0, percentage: 50, canary: expect.objectContaining({ assigned: canary.length, awaiting: canary.length }) })]);
    const text = expectOk(await runBin(['canary', 'status'], { dir: project.dir })).stdout;
    expect(text).toContain(`${canary.length} awaiting an outcome`);
    expect(project.state().roles.r!.canary?.id).toBe(canaryId);

    await sleep(1500);
    // Routing sweeps first too: this route writes the timeouts, judges after each, and rolls the
    // canary back on them before it routes the task (which then goes to stable).
    const routedAfter = expectOk(await runBin(['canary', 'route', '--role', 'r', '--task', 'after-timeout', '--json', '--no-files'], { dir: project.dir }));
    const context = describeResult(routedAfter);
    expect(routedAfter.stderr, context).toMatch(/rolled back/);
    expect(parseNdjson<Routed>(routedAfter)).toEqual([expect.objectContaining({ taskId: 'after-timeout', arm: 'stable', canaryId: null })]);
    const history = parseJson<{ events: Array<Record<string, any>> }>(expectOk(await runBin(['canary', 'history', '--json'], { dir: project.dir }))).events;
    const rollback = history.find((e) => e.action === 'rollback');
    expect(rollback, context).toMatchObject({ actor: 'auto', canaryId, evidence: { canary: { passed: 0 } } });
    expect(rollback!.evidence.canary.tasks, context).toBeGreaterThanOrEqual(1);
    expect(project.state().roles.r!.canary).toBeNull();
    const timeouts = project.ledger().filter((r) => r.type === 'outcome' && r.timedOut === true);
    expect(timeouts.length).toBeGreaterThanOrEqual(rollback!.evidence.canary.tasks);
    for (const t of timeouts) expect(t).toMatchObject({ arm: 'canary', canaryId, passed: false });

    // A hung agent finally reports: kept as late (exit 0, a notice), never counted; a second report is a duplicate.
    const lateTask = timeouts[0]!.taskId as string;
    const lateRun = await runBin(['canary', 'record', '--task', lateTask, '--passed', '--json'], { dir: project.dir });
    expect(lateRun.code, describeResult(lateRun)).toBe(0);
    expect(lateRun.stderr).toMatch(/recorded; late: task ".*" had no outcome within canary\.outcome_timeout \(1s\)/);
    expect(parseJson<{ recorded: number; lateCount: number; late: Array<{ taskId: string; reason: string }> }>(lateRun)).toMatchObject({
      recorded: 1,
      lateCount: 1,
      late: [{ taskId: lateTask, reason: expect.stringMatching(/^late: /) }],
    });
    expect(project.ledger().filter((r) => r.type === 'late')).toEqual([expect.objectContaining({ taskId: lateTask, passed: true, canaryId })]);
    expectCleanError(await runBin(['canary', 'record', '--task', lateTask, '--failed'], { dir: project.dir }), ['already has an outcome']);
  });

  it('over HTTP: a timed-out task\'s outcome is recorded with reason "late: ..."; an identical retry is a duplicate', async () => {
    const { project } = await canaryProject(configYaml({ min_canary_tasks: 1000, outcome_timeout: '1s' }), 50);
    const routed = await route(project, ids(10, 'http'));
    await sleep(1500);
    // The CLI's evaluate writes the timeouts (and, without --apply, applies nothing).
    const evaluated = parseJson<{ timedOut: number }>(expectOk(await runBin(['canary', 'evaluate', '--json'], { dir: project.dir })));
    expect(evaluated.timedOut).toBe(routed.length);
    const server = await serveBin(project.dir);
    servers.push(server);
    const task = routed[0]!.taskId;
    const first = await postJson(`${server.url}/v1/outcomes`, { taskId: task, passed: true });
    expect(first.status).toBe(200);
    expect(first.body.results ?? first.body).toEqual(expect.arrayContaining([expect.objectContaining({ taskId: task, status: 'recorded', reason: expect.stringMatching(/^late: /) })]));
    const retry = await postJson(`${server.url}/v1/outcomes`, { taskId: task, passed: true });
    expect(retry.body.results ?? retry.body).toEqual(expect.arrayContaining([expect.objectContaining({ taskId: task, status: 'duplicate' })]));
    const conflict = await postJson(`${server.url}/v1/outcomes`, { taskId: task, passed: false });
    expect(conflict.status).toBe(409);
    expect(project.ledger().filter((r) => r.type === 'late')).toHaveLength(1);
  });

  it('refuses an outcome_timeout that is not a duration, naming the key and line', async () => {
    const project = makeProject({ roles: { r: { files: { 'system_prompt.md': 'v1\n' } } }, config: 'canary:\n  canary_percentage: 10\n  outcome_timeout: 2 hours\n' });
    expectCleanError(await runBin(['canary', 'route', '--role', 'r', '--task', 't'], { dir: project.dir }), ['config.yaml:3', 'canary.outcome_timeout', '2h']);
  });
});

describe('strata', () => {
  it('a stratified canary: routes carry --stratum into the ledger, status shows the strata, a bad label is refused', async () => {
    const { project, canaryId } = await canaryProject(configYaml({ min_canary_tasks: 10 }), 50);
    const easy = await route(project, ids(60, 'easy'), 'easy');
    const hard = await route(project, ids(60, 'hard'), 'hard');
    const assigns = project.ledger().filter((r) => r.type === 'assign' && r.canaryId === canaryId);
    expect(new Set(assigns.filter((r) => r.taskId.startsWith('easy-')).map((r) => r.stratum))).toEqual(new Set(['easy']));
    expect(new Set(assigns.filter((r) => r.taskId.startsWith('hard-')).map((r) => r.stratum))).toEqual(new Set(['hard']));
    // Easy tasks pass on both arms; hard ones pass 60 % of the time on both (an equal canary).
    const random = seededRandom(15);
    const lines = [...easy.map((r) => ({ taskId: r.taskId, passed: random() < 0.95 })), ...hard.map((r) => ({ taskId: r.taskId, passed: random() < 0.6 }))];
    expectOk(await record(project, lines));
    const role = await status(project);
    const strata = role.canary.strata as Array<{ stratum: string; stable: { tasks: number }; canary: { tasks: number } }>;
    expect(strata.map((s) => s.stratum).sort()).toEqual(['easy', 'hard']);
    for (const s of strata) {
      const routed = s.stratum === 'easy' ? easy : hard;
      expect(s.stable.tasks + s.canary.tasks).toBe(routed.length);
      expect(s.canary.tasks).toBe(routed.filter((r) => r.arm === 'canary').length);
    }
    expect(role.canary.stable.tasks + role.canary.canary.tasks).toBe(easy.length + hard.length);
    expect(expectOk(await runBin(['canary', 'status'], { dir: project.dir })).stdout).toMatch(/strata: .*easy stable \d+\/\d+, canary \d+\/\d+.*hard/);
    expectCleanError(await runBin(['canary', 'route', '--role', 'r', '--task', 'x', '--stratum', ''], { dir: project.dir }), ['--stratum']);
  });
});
