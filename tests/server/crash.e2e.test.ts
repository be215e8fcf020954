import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../helpers/project.ts';
import { postJson, serveBin, type ServedProject } from '../helpers/serve.ts';

/** Ledger records by type and task, tolerating a torn last line (what a SIGKILL can leave). */
function ledgerCounts(project: TempProject): { assign: Map<string, number>; outcome: Map<string, number> } {
  const counts = { assign: new Map<string, number>(), outcome: new Map<string, number>() };
  for (const line of readFileSync(join(project.sdd, 'ledger.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let record: { type?: string; taskId?: string };
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (record.type === 'assign' || record.type === 'outcome') counts[record.type].set(record.taskId!, (counts[record.type].get(record.taskId!) ?? 0) + 1);
  }
  return counts;
}

/**
 * Load: `workers` loops, each routing a new task over OFREP and posting its outcome, noting
 * every request that got a 2xx, until `stop` is set. Connection errors (the server died) end
 * a loop.
 */
function load(url: string, workers: number, prefix: string) {
  const acked = { routes: new Set<string>(), outcomes: new Set<string>() };
  let stop = false;
  let next = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (!stop) {
      const taskId = `${prefix}-${(next += 1)}`;
      try {
        const routed = await postJson(`${url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: taskId } });
        if (routed.status !== 200) throw new Error(`route answered ${routed.status}`);
        acked.routes.add(taskId);
        const recorded = await postJson(`${url}/v1/outcomes`, { taskId, passed: taskId.length % 2 === 0 });
        if (recorded.status !== 200) throw new Error(`outcome answered ${recorded.status}: ${JSON.stringify(recorded.body)}`);
        expect(recorded.body.results[0].status).toBe('recorded');
        acked.outcomes.add(taskId);
      } catch (error) {
        if (stop || isConnectionError(error)) return;
        throw error;
      }
    }
  });
  return {
    acked,
    async until(condition: () => boolean) {
      while (!condition()) await new Promise((r) => setTimeout(r, 20));
    },
    async end() {
      stop = true;
      await Promise.all(loops);
    },
    settled: () => Promise.all(loops),
  };
}

function isConnectionError(error: unknown): boolean {
  const text = `${(error as Error)?.message} ${String((error as { cause?: unknown })?.cause)}`;
  return /fetch failed|ECONNRESET|ECONNREFUSED|socket|other side closed|terminated/i.test(text);
}

describe('durability of acknowledged requests', () => {
  let served: ServedProject | undefined;
  afterEach(async () => {
    if (served) await served.kill();
    served = undefined;
  });

  it('SIGKILL under load: every 2xx route and outcome is in the ledger after restart, none twice', { timeout: 120_000 }, async () => {
    const project = new TempProject({ roles: { backend: { files: { 'system_prompt.md': 'You are the backend agent.\n' } } } });
    served = await serveBin(project.dir);
    const run = load(served.url, 16, 'K');
    await run.until(() => run.acked.outcomes.size >= 150);
    await served.kill();
    await run.settled();
    served = undefined;
    const acked = { routes: new Set(run.acked.routes), outcomes: new Set(run.acked.outcomes) };

    // Restart on the same files: acknowledged writes are there, exactly once.
    served = await serveBin(project.dir);
    const counts = ledgerCounts(project);
    for (const taskId of acked.routes) expect(counts.assign.get(taskId), `route of ${taskId}`).toBe(1);
    for (const taskId of acked.outcomes) expect(counts.outcome.get(taskId), `outcome of ${taskId}`).toBe(1);
    for (const [taskId, n] of [...counts.assign, ...counts.outcome]) expect(n, taskId).toBe(1);
    // Retrying every acknowledged outcome is idempotent; the server works on after the crash.
    const retried = await postJson(`${served.url}/v1/outcomes`, [...acked.outcomes].slice(0, 1000).map((taskId) => ({ taskId, passed: taskId.length % 2 === 0 })));
    expect(retried.status).toBe(200);
    expect(new Set(retried.body.results.map((r: { status: string }) => r.status))).toEqual(new Set(['duplicate']));
    const after = await postJson(`${served.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'after-crash' } });
    expect(after.status).toBe(200);
    expect(acked.outcomes.size).toBeGreaterThanOrEqual(150);
  });

  it('SIGTERM under load drains: it exits 0 and every 2xx request is durable', { timeout: 120_000 }, async () => {
    const project = new TempProject({ roles: { backend: { files: { 'system_prompt.md': 'You are the backend agent.\n' } } } });
    served = await serveBin(project.dir);
    const run = load(served.url, 16, 'S');
    await run.until(() => run.acked.outcomes.size >= 100);
    const code = await served.stop();
    await run.end();
    expect(code, served.log()).toBe(0);
    expect(served.log()).toContain('stopped');
    served = undefined;
    const counts = ledgerCounts(project);
    for (const taskId of run.acked.routes) expect(counts.assign.get(taskId)).toBe(1);
    for (const taskId of run.acked.outcomes) expect(counts.outcome.get(taskId)).toBe(1);
  });
});
