import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canaryRole, canaryStatus, evaluateCanaries, ndjsonItems, recordOutcomes, routeTasks, type RecordItem } from '@bernstein/rollout';
import { openFileRollout } from './open.js';

async function setup(config = '') {
  const root = await mkdtemp(join(tmpdir(), 'bernstein-qc-'));
  const write = async (name: string, text: string) => {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), text);
  };
  await write('templates/roles/backend/system_prompt.md', 'v1\n');
  if (config) await write('.sdd/config.yaml', config);
  await routeTasks(openFileRollout(root), 'backend', ['warmup']);
  await write('templates/roles/backend/system_prompt.md', 'v2\n');
  return { root, open: () => openFileRollout(root) };
}

/** Deterministic outcomes: `canaryRate` / `stableRate` share of passes per arm, spread evenly. */
async function routeAndJudge(root: string, n: number, canaryRate: number, stableRate: number, prefix = 't'): Promise<RecordItem[]> {
  const routed = await routeTasks(openFileRollout(root), 'backend', Array.from({ length: n }, (_, i) => `${prefix}${i}`));
  const seen = { stable: 0, canary: 0 };
  return routed.map((r, i) => {
    const k = seen[r.arm]++;
    const rate = r.arm === 'canary' ? canaryRate : stableRate;
    return { line: i + 1, value: { taskId: r.taskId, passed: Math.floor((k + 1) * rate) > Math.floor(k * rate) } };
  });
}

describe('recordOutcomes', () => {
  it('rolls back a clearly worse canary automatically, with evidence, at the first outcome that settles it', async () => {
    const { root, open } = await setup();
    await canaryRole(open(), 'backend', { percentage: 50 });
    const items = await routeAndJudge(root, 400, 0.3, 0.9);
    const result = await recordOutcomes(open(), items, { batchSize: 37 });
    expect(result.skipped).toEqual([]);
    expect(result.recorded).toBe(400);
    expect(result.transitions.map((t) => t.action)).toEqual(['rollback']);
    const evidence = result.transitions[0]!.evidence as { stable: { tasks: number; passed: number }; canary: { tasks: number; passed: number } };
    // Rollback may come before min_canary_tasks when the evidence is strong (issue 15).
    expect(evidence.canary.tasks).toBeGreaterThan(0);
    expect(evidence.canary.tasks).toBeLessThan(60);
    expect((await open().store.loadState()).roles.backend?.canary).toBeNull();
  });

  it('promotes a clearly better canary', async () => {
    const { root, open } = await setup('canary:\n  min_canary_tasks: 10\n');
    await canaryRole(open(), 'backend', { percentage: 50 });
    const result = await recordOutcomes(open(), await routeAndJudge(root, 600, 0.95, 0.7));
    expect(result.transitions.map((t) => t.action)).toEqual(['promote']);
  });

  it('uses the seed threshold rule when asked', async () => {
    const { root, open } = await setup();
    await canaryRole(open(), 'backend', { percentage: 50, policy: 'threshold' });
    const result = await recordOutcomes(open(), await routeAndJudge(root, 60, 1, 0.5));
    expect(result.transitions[0]?.reason).toMatch(/canary pass rate >= stable/);
  });

  it('skips unknown tasks, duplicates and malformed lines, and keeps the rest', async () => {
    const { root, open } = await setup();
    await routeTasks(open(), 'backend', ['a', 'b']);
    const lines = ['{"taskId":"a","passed":true}', 'not json', '{"taskId":"zzz","passed":true}', '{"taskId":"a","passed":false}', '{"taskId":"b","passed":"yes"}', '', '{"taskId":"b","passed":false,"gates":{"lint":true},"costUsd":0.5}'];
    const items: RecordItem[] = [];
    for await (const item of ndjsonItems(lines)) items.push(item);
    const result = await recordOutcomes(open(), items);
    expect(result.recorded).toBe(2);
    expect(result.skipped.map((s) => [s.line, s.code])).toEqual([
      [2, 'MALFORMED_LINE'],
      [3, 'TASK_UNKNOWN'],
      [4, 'DUPLICATE_OUTCOME'],
      [5, 'MALFORMED_LINE'],
    ]);
    const again = await recordOutcomes(open(), [{ line: 1, value: { taskId: 'b', passed: true } }]);
    expect(again.skipped[0]?.code).toBe('DUPLICATE_OUTCOME');
    const outcomes = (await readFile(join(root, '.sdd/ledger.jsonl'), 'utf8')).split('\n').filter((l) => l.includes('"outcome"'));
    expect(outcomes).toHaveLength(2);
  });

  it('keeps the aggregates equal to a fresh fold of the ledger', async () => {
    const { root, open } = await setup();
    await canaryRole(open(), 'backend', { percentage: 20 });
    await recordOutcomes(open(), (await routeAndJudge(root, 100, 0.8, 0.8)).slice(0, 60), { batchSize: 7 });
    const cached = await open().store.aggregates();
    const { rm } = await import('node:fs/promises');
    await rm(join(root, '.sdd/cache/aggregates.json'));
    const rebuilt = await open().store.aggregates();
    expect(rebuilt.aggregates).toEqual(cached.aggregates);
    expect(rebuilt.position).toEqual(cached.position);
  });

  it('reports status per arm and evaluates without applying unless asked', async () => {
    const { root, open } = await setup();
    await canaryRole(open(), 'backend', { percentage: 50, policy: 'threshold' });
    const items = await routeAndJudge(root, 40, 0.2, 1);
    // record only a few canary outcomes: below min_canary_tasks, nothing is decided
    await recordOutcomes(open(), items.slice(0, 8));
    const { roles } = await canaryStatus(open());
    expect(roles[0]!.canary!.decision.action).toBe('continue');
    expect(roles[0]!.canary!.stable.tasks + roles[0]!.canary!.canary.tasks).toBe(8);
  });

  it('a decision taken while recording ends the canary; evaluate then has nothing to do', async () => {
    const { root, open } = await setup('canary:\n  min_canary_tasks: 5\n');
    const { events } = await canaryRole(open(), 'backend', { percentage: 50, policy: 'threshold' });
    const items = await routeAndJudge(root, 40, 1, 0.5);
    await recordOutcomes(open(), items);
    const dry = await evaluateCanaries(open());
    expect(dry.evaluations).toEqual([]); // promoted while recording
    expect((await open().store.readAudit()).events.filter((e) => e.canaryId === events[0]!.canaryId).map((e) => e.action)).toEqual(['start', 'promote']);
  });
});
