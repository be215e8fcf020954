import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, checkLedgerConsistency, demoCli, readLedger, startNode } from './helpers.js';

const SCENARIO = `version: 1
name: shutdown
canary: { canary_percentage: 20 }
roles:
  backend: { model: m, passProbability: 0.9 }
phases:
  - name: long
    title: A long queue
    tasks: 500
    mix: { backend: 1 }
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Ctrl-C', () => {
  let dir: string | undefined;
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stops taking tasks, lets the tasks in flight finish and be recorded, and exits non-zero', async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'bernstein-demo-sigint-'));
    const workspace = join(dir, 'ws');
    writeFileSync(join(dir, 'scenario.yaml'), SCENARIO);
    writeFileSync(join(dir, 'agent.mjs'), 'await new Promise((resolve) => setTimeout(resolve, 300));\n');
    const { child, done } = startNode([
      demoCli,
      '--dir', workspace,
      '--scenario', join(dir, 'scenario.yaml'),
      '--agent-cmd', `node ${JSON.stringify(join(dir, 'agent.mjs'))}`,
      '--concurrency', '4',
    ]);
    // Wait until some tasks are done and others are in flight, then press Ctrl-C.
    let exited = false;
    void done.then(() => (exited = true));
    for (let i = 0; i < 600 && !exited; i++) {
      const records = readLedger(workspace);
      if (records.filter((r) => r.type === 'outcome').length >= 6) break;
      await sleep(100);
    }
    expect(exited).toBe(false);
    child.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stdout).toContain('SIGINT: stopping. No new tasks');
    expect(result.stdout).toContain('interrupted');
    const { assigned, outcomes } = checkLedgerConsistency(readLedger(workspace));
    expect(outcomes.size).toBe(assigned.size);
    expect(outcomes.size).toBeGreaterThanOrEqual(6);
    expect(outcomes.size).toBeLessThan(500);
  }, 120_000);
});
