import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canaryRole, promoteCanary, recordOutcomes, routeTasks } from '@bernstein/rollout';
import { openFileRollout } from './open.js';

/**
 * A long-lived process (the server) keeps what it parsed in memory between units of work; these
 * tests hold one rollout open while another (the CLI, in another process) writes the same files.
 */
async function project() {
  const root = await mkdtemp(join(tmpdir(), 'bernstein-long-'));
  const write = async (name: string, text: string) => {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), text);
  };
  await write('templates/roles/backend/system_prompt.md', 'v1\n');
  await write('.sdd/config.yaml', 'canary:\n  min_canary_tasks: 100000\n');
  return { root, write };
}

describe('a long-lived file store', () => {
  it('sees every write of another writer: state, registry, ledger, aggregates', async () => {
    const { root, write } = await project();
    const server = openFileRollout(root);
    const cli = () => openFileRollout(root);
    await routeTasks(server, 'backend', ['s-1']);
    await server.store.aggregates();

    await write('templates/roles/backend/system_prompt.md', 'v2\n');
    const { state } = await canaryRole(cli(), 'backend', { percentage: 50 });
    const canary = state.roles.backend!.canary!;
    expect((await server.store.loadState()).roles.backend?.canary?.id).toBe(canary.id);
    expect((await server.store.listVersions({ role: 'backend' })).map((v) => v.id)).toContain(canary.versionId);

    const routed = await routeTasks(cli(), 'backend', ['c-1', 'c-2', 'c-3']);
    await recordOutcomes(cli(), [{ line: 1, value: { taskId: 'c-1', passed: true } }]);
    const { tasks } = await server.store.getTasks(['c-1', 'c-2']);
    expect(tasks.get('c-1')?.outcome?.passed).toBe(true);
    expect(tasks.get('c-2')?.assignment.arm).toBe(routed[1]!.arm);

    // The server records the rest; its aggregates include the other writer's outcome.
    const result = await recordOutcomes(server, [
      { line: 1, value: { taskId: 'c-2', passed: false } },
      { line: 2, value: { taskId: 'c-3', passed: true } },
    ]);
    expect(result.recorded).toBe(2);
    const fresh = await cli().store.aggregates();
    expect((await server.store.aggregates()).aggregates).toEqual(fresh.aggregates);
    expect((await readFile(join(root, '.sdd/ledger.jsonl'), 'utf8')).split('\n').filter((l) => l.includes('"type":"outcome"'))).toHaveLength(3);

    await promoteCanary(cli(), { role: 'backend', actor: 'cli', reason: 'test' });
    expect((await server.store.loadState()).roles.backend?.stable).toBe(canary.versionId);
    const after = await routeTasks(server, 'backend', ['s-2']);
    expect(after[0]!.versionId).toBe(canary.versionId);
    await server.close();
  });

  it('routes an edited bundle at once, though it read the bundle a moment before', async () => {
    const { root, write } = await project();
    const server = openFileRollout(root);
    const [first] = await routeTasks(server, 'backend', ['a']);
    await write('templates/roles/backend/system_prompt.md', 'v9\n');
    const [second] = await routeTasks(server, 'backend', ['b']);
    expect(second!.versionId).not.toBe(first!.versionId);
    expect(Object.values(second!.files)).toContain('v9\n');
    await server.close();
  });

  it('lookups during an append never fold a record twice', async () => {
    const { root } = await project();
    const server = openFileRollout(root);
    const ids = Array.from({ length: 200 }, (_, i) => `t-${i}`);
    await routeTasks(server, 'backend', ids);
    // Outcomes are appended in small batches while readers outside any unit of work look the
    // same tasks up (as the server's previews and the outcome lane's role lookup do).
    const recording = recordOutcomes(
      server,
      ids.map((taskId, i) => ({ line: i + 1, value: { taskId, passed: i % 2 === 0 } })),
      { batchSize: 5 },
    );
    let done = false;
    void recording.finally(() => (done = true)).catch(() => undefined);
    const readers = Array.from({ length: 4 }, async (_, r) => {
      let looks = 0;
      for (let i = r; !done; i = (i + 7) % 50, looks++) {
        expect((await server.store.getTasks(ids.slice(i * 4, i * 4 + 4))).tasks.size).toBe(4);
        // A lookup that reads nothing finishes in microtasks: let the appends' I/O through.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return looks;
    });
    const [result, looks] = await Promise.all([recording, Promise.all(readers)]);
    expect(result.recorded).toBe(200);
    expect(looks.every((n) => n > 0)).toBe(true);
    const { tasks } = await openFileRollout(root).store.getTasks(ids);
    expect([...tasks.values()].filter((t) => t.outcome !== null)).toHaveLength(200);
    await server.close();
  });

  it('answers a unit of work only once its appends are in the ledger, and leaves the lock to another process between leases', async () => {
    const { root } = await project();
    const server = openFileRollout(root);
    await routeTasks(server, 'backend', ['w']);
    // Many units queued at once share lock holds; a second store (another process's) still gets its turn.
    const busy = Array.from({ length: 40 }, (_, i) => routeTasks(server, 'backend', [`busy-${i}`]));
    const other = routeTasks(openFileRollout(root), 'backend', ['other']);
    const routed = await Promise.all(busy);
    await other;
    const ledger = await readFile(join(root, '.sdd/ledger.jsonl'), 'utf8');
    for (const [task] of routed) expect(ledger).toContain(`"taskId":"${task!.taskId}"`);
    expect(ledger).toContain('"taskId":"other"');
    await server.close();
  });
});
