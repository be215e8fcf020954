/**
 * Issue 3, exactly-once transitions: eight `bernstein config canary` processes released together
 * from a start barrier race to promote or roll back the same canary. One wins; the others are a
 * no-op or a clear NO_CANARY / CONFLICT error; the audit log holds exactly one transition and the
 * state agrees with the winner.
 *
 * The role has a release history (v0 -> v1 released directly, then a canary of v2), as a real
 * project would: a losing `--rollback` must not turn into an instant rollback of the new stable.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectOk } from './helpers/assert.ts';
import { binPath } from './helpers/paths.ts';
import { describeResult, parseJson, runBin, runBinMany, type RunResult } from './helpers/process.ts';
import { makeProject, removeProjects, type TempProject } from './helpers/project.ts';

// Real processes on a small machine: generous per-test limits (a hang still fails, with output).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

beforeAll(() => {
  if (!existsSync(binPath())) throw new Error(`the bernstein bin is not built (${binPath()}); run \`pnpm build\` first`);
});
afterAll(removeProjects);

interface Setup {
  project: TempProject;
  v0: string;
  v1: string;
  v2: string;
  canaryId: string;
  auditBefore: number;
}

async function routeOne(project: TempProject, task: string): Promise<{ versionId: string }> {
  return parseJson<{ versionId: string }>(expectOk(await runBin(['canary', 'route', '--role', 'r', '--task', task, '--json'], { dir: project.dir })));
}

/** v0 first seen, v1 released directly (canary_percentage 0), then a canary of v2 at 20 %. */
async function roleWithHistoryAndCanary(): Promise<Setup> {
  const project = makeProject({ roles: { r: { files: { 'system_prompt.md': 'v0\n' }, model: { default_model: 'sonnet' } } } });
  const v0 = (await routeOne(project, 'T-0')).versionId;
  project.writeRoleFile('r', 'system_prompt.md', 'v1\n');
  const v1 = (await routeOne(project, 'T-1')).versionId;
  expect(project.state().roles.r).toMatchObject({ stable: v1, previousStables: [v0], canary: null });
  project.writeRoleFile('r', 'system_prompt.md', 'v2\n');
  expectOk(await runBin(['config', 'canary', '--role', 'r', '--percentage', '20'], { dir: project.dir }));
  const canary = project.state().roles.r!.canary!;
  return { project, v0, v1, v2: canary.versionId, canaryId: canary.id, auditBefore: project.audit().length };
}

/** What a process did: a transition (its stdout describes one), a no-op, or a clean refusal. */
function classify(result: RunResult): 'transition' | 'no-op' | 'refused' {
  const context = describeResult(result);
  expect(result.signal, context).toBeNull();
  expect(result.stderr, context).not.toMatch(/internal error|\n\s+at |^\s+at /m);
  if (result.code === 0) {
    // Success output names the transition it applied ("... promoted ...", "... rolled back ..."):
    // a promotion or rollback is said once, on stderr (the notice or the ALERT line).
    return /promoted|rolled back/.test(`${result.stdout}\n${result.stderr}`) ? 'transition' : 'no-op';
  }
  expect(result.code, context).toBe(1);
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toMatch(/NO_CANARY|CONFLICT/);
  return 'refused';
}

function expectExactlyOneTransition(setup: Setup, results: RunResult[], statusRun: RunResult, allowed: Array<'promote' | 'rollback'>): void {
  const { project, v1, v2, canaryId, auditBefore } = setup;
  const kinds = results.map(classify);
  const report = results.map((r, i) => `#${i} ${kinds[i]}: ${describeResult(r)}`).join('\n');
  expect(kinds.filter((k) => k === 'transition'), report).toHaveLength(1);

  // The audit log: exactly one new event, the winner's, for this canary.
  const events = project.audit().slice(auditBefore);
  expect(events, report).toHaveLength(1);
  const [event] = events;
  expect(allowed).toContain(event!.action);
  expect(event).toMatchObject({ role: 'r', canaryId, actor: 'cli' });

  // The state loads (through the CLI) and agrees with the winner.
  const status = parseJson<{ roles: Array<{ role: string; stableVersion: string; canary: unknown }> }>(expectOk(statusRun));
  expect(status.roles).toEqual([expect.objectContaining({ role: 'r', canary: null })]);
  const role = project.state().roles.r!;
  expect(role.canary).toBeNull();
  if (event!.action === 'promote') {
    expect(role.stable).toBe(v2);
    expect(role.rejected).not.toContain(v2);
    expect(status.roles[0]!.stableVersion).toBe(v2);
  } else {
    expect(role.stable).toBe(v1);
    expect(role.rejected).toContain(v2);
    expect(status.roles[0]!.stableVersion).toBe(v1);
  }
  expect(project.state().revision).toBe(event!.revision);
}

describe('racing transitions on one canary', () => {
  it('4 x --promote vs 4 x --rollback, released together: exactly one transition, consistent state', async () => {
    const setup = await roleWithHistoryAndCanary();
    const results = await runBinMany(8, (i) => ['config', 'canary', i % 2 === 0 ? '--promote' : '--rollback', '--role', 'r'], {
      dir: setup.project.dir,
      barrier: true,
      timeoutMs: 90_000,
    });
    const status = await runBin(['canary', 'status', '--json'], { dir: setup.project.dir });
    expectExactlyOneTransition(setup, results, status, ['promote', 'rollback']);
  });

  it('8 x --rollback of the same canary (two operators pressing the button): one rollback, the stable before it untouched', async () => {
    const setup = await roleWithHistoryAndCanary();
    const results = await runBinMany(8, () => ['config', 'canary', '--rollback', '--role', 'r', '--reason', 'error rate up'], {
      dir: setup.project.dir,
      barrier: true,
      timeoutMs: 90_000,
    });
    const status = await runBin(['canary', 'status', '--json'], { dir: setup.project.dir });
    expectExactlyOneTransition(setup, results, status, ['rollback']);
    expect(setup.project.state().roles.r!.previousStables).toEqual([setup.v0]);
  });
});
