import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, checkLedgerConsistency, demoCli, readLedger, runNode, type RunResult } from './helpers.js';

/**
 * The demo orchestrator with the REAL process executor: a small Node script is the agent (it
 * writes out.txt from its environment and prompt), and real gate commands check its work.
 */
const AGENT = `import { readFileSync, writeFileSync } from 'node:fs';
const id = process.env.BERNSTEIN_TASK_ID;
const prompt = readFileSync(process.env.BERNSTEIN_PROMPT_FILE, 'utf8');
const n = Number(/t(\\d+)/.exec(id)[1]);
if (n === 3) await new Promise((resolve) => setTimeout(resolve, 60_000)); // hangs: the task timeout must stop it
if (n % 4 !== 0) {
  writeFileSync('out.txt', JSON.stringify({
    taskId: id,
    role: process.env.BERNSTEIN_ROLE,
    arm: process.env.BERNSTEIN_ARM,
    versionId: process.env.BERNSTEIN_VERSION_ID,
    model: process.env.BERNSTEIN_MODEL,
    promptHasTask: prompt.includes('# Task ' + id + ':'),
    promptHasEdit: prompt.includes('Also add a CHANGELOG entry.'),
  }));
}
console.log('agent done', id);
`;

const CHECK = `import { readFileSync } from 'node:fs';
const out = JSON.parse(readFileSync('out.txt', 'utf8'));
const ok = out.taskId === process.env.BERNSTEIN_TASK_ID && out.promptHasTask === true && out.versionId === process.env.BERNSTEIN_VERSION_ID;
if (!ok) { console.error('check failed', out); process.exit(1); }
`;

const SCENARIO = `version: 1
name: e2e-process
canary:
  canary_percentage: 50
  min_canary_tasks: 1000   # no decision: both arms keep running
roles:
  backend: { model: model-b, passProbability: 0.5 }
  qa: { model: model-q, passProbability: 0.5 }
phases:
  - name: baseline
    title: Baseline
    tasks: 6
    mix: { backend: 1, qa: 1 }
  - name: edit
    title: Backend prompt edit
    change:
      kind: prompt
      role: backend
      file: task_prompt.md
      append: "Also add a CHANGELOG entry."
    tasks: 16
    mix: { backend: 1 }
`;

describe('demo orchestrator with the real process executor', () => {
  let dir: string;
  let project: string;
  let run: RunResult;

  beforeAll(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'bernstein-demo-e2e-'));
    project = join(dir, 'ws');
    writeFileSync(join(dir, 'agent.mjs'), AGENT);
    writeFileSync(join(dir, 'check.mjs'), CHECK);
    writeFileSync(join(dir, 'scenario.yaml'), SCENARIO);
    run = await runNode([
      demoCli,
      '--dir', project,
      '--scenario', join(dir, 'scenario.yaml'),
      '--agent-cmd', `node ${JSON.stringify(join(dir, 'agent.mjs'))}`,
      '--gate', 'test -f out.txt',
      '--gate', `node ${JSON.stringify(join(dir, 'check.mjs'))}`,
      '--task-timeout-ms', '4000',
      '--concurrency', '4',
      '--json',
    ]);
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every task and exits 0', () => {
    expect(run.stderr).toContain('Agents are real processes');
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { ok: boolean; simulated: boolean; tasks: number; phases: Array<{ tasks: number }> };
    expect(result.ok).toBe(true);
    expect(result.simulated).toBe(false);
    expect(result.tasks).toBe(22);
    expect(result.phases.map((p) => p.tasks)).toEqual([6, 16]);
  });

  it('records every task exactly once, with the version it ran', () => {
    const records = readLedger(project);
    const { assigned, outcomes } = checkLedgerConsistency(records);
    expect(assigned.size).toBe(22);
    expect(outcomes.size).toBe(22);

    const versionsOf = (role: string) => new Set([...outcomes.values()].filter((o) => o.role === role).map((o) => o.versionId));
    expect(versionsOf('qa').size).toBe(1);
    const backendCanary = [...outcomes.values()].filter((o) => o.role === 'backend' && o.arm === 'canary');
    const backendStable = [...outcomes.values()].filter((o) => o.role === 'backend' && o.arm === 'stable');
    expect(backendCanary.length).toBeGreaterThan(0);
    expect(new Set(backendCanary.map((o) => o.versionId)).size).toBe(1);
    expect(backendCanary[0]!.versionId).not.toBe(backendStable[0]!.versionId);

    let checked = 0;
    for (const outcome of outcomes.values()) {
      const n = Number(/t(\d+)/.exec(outcome.taskId)![1]);
      const outFile = join(project, 'runs', outcome.taskId, 'out.txt');
      expect(existsSync(join(project, 'runs', outcome.taskId, 'PROMPT.md'))).toBe(true);
      if (n === 3) {
        // The hanging agent was stopped by the task timeout: a failure, with no gate run.
        expect(outcome.passed).toBe(false);
        expect(outcome.gates).toBeUndefined();
        continue;
      }
      if (n % 4 === 0) {
        // The agent wrote nothing: both real gates failed.
        expect(existsSync(outFile)).toBe(false);
        expect(outcome.passed).toBe(false);
        expect(outcome.gates).toEqual({ 'test -f out.txt': false, [`node ${JSON.stringify(join(dir, 'check.mjs'))}`]: false });
        continue;
      }
      const out = JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, unknown>;
      // The agent saw, through its environment and prompt, exactly the version the ledger names.
      expect(out).toMatchObject({ taskId: outcome.taskId, role: outcome.role, arm: outcome.arm, versionId: outcome.versionId, promptHasTask: true });
      expect(out.model).toBe(outcome.role === 'qa' ? 'model-q' : 'model-b');
      expect(out.promptHasEdit).toBe(outcome.role === 'backend' && outcome.arm === 'canary');
      expect(outcome.passed).toBe(true);
      expect(Object.values(outcome.gates ?? {})).toEqual([true, true]);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(10);
  });
});
