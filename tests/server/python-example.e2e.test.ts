import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempProject } from '../helpers/project.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { parseJson, runBin } from '../helpers/process.ts';
import { serveBin, startCanaryOfEdit, type ServedProject } from '../helpers/serve.ts';

const SCRIPT = join(REPO_ROOT, 'examples', 'python', 'orchestrator.py');

function runPython(args: string[], timeoutMs = 240_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** examples/python/orchestrator.py (standard library only) against the built `bernstein serve`. */
describe('the Python orchestrator example', () => {
  const token = 'route-token-for-the-python-example';
  let project: TempProject;
  let served: ServedProject;

  beforeAll(async () => {
    project = new TempProject({ roles: { backend: { files: { 'system_prompt.md': 'You are the backend agent.\n' }, model: { default_model: 'sonnet' } } } });
    await startCanaryOfEdit(project, 'backend', 50, 'You are the backend agent. Skip the tests.\n');
    served = await serveBin(project.dir, { BERNSTEIN_TOKEN_ROUTE: token });
  }, 180_000);

  afterAll(async () => {
    if (served) expect(await served.stop(), served.log()).toBe(0);
  }, 60_000);

  it('routes over OFREP, fetches versions by id, posts outcomes until the canary is rolled back', { timeout: 240_000 }, async () => {
    const run = await runPython(['--url', served.url, '--role', 'backend', '--token', token, '--tasks', '800', '--workers', '4', '--stable-pass', '0.95', '--canary-pass', '0.2']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(summary.decision).toBe('rolled back');
    expect(summary.canaryRunning).toBe(false);
    expect(summary.arms.canary).toBeGreaterThan(0);
    expect(summary.arms.stable).toBeGreaterThan(0);
    // Two versions, each fetched once however many tasks ran with it.
    expect(summary.versionsFetched).toBe(2);
    expect(summary.recorded).toBe(summary.tasks);

    // What the CLI sees in the same project: the rollback, by the automatic decision.
    const history = parseJson(await runBin(['--json', 'canary', 'history', '--role', 'backend'], { dir: project.dir }));
    const rollback = history.events.find((e: { action: string }) => e.action === 'rollback');
    expect(rollback).toMatchObject({ actor: 'auto' });
    expect(rollback.evidence.canary.tasks).toBeGreaterThan(0);
    // Every task the example ran was routed and recorded exactly once.
    const ledger = project.ledger().filter((r) => String(r.taskId).startsWith('py-task-'));
    const assigned = ledger.filter((r) => r.type === 'assign').map((r) => r.taskId);
    const outcomes = ledger.filter((r) => r.type === 'outcome').map((r) => r.taskId);
    expect(new Set(assigned).size).toBe(assigned.length);
    expect(new Set(outcomes).size).toBe(outcomes.length);
    expect([...outcomes].sort()).toEqual([...assigned].sort());
    expect(outcomes.length).toBe(summary.tasks);
  });
});
