import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { projectPaths, type ProjectPaths } from '@bernstein/store';
import type { LedgerRecord, OutcomeRecord } from '@bernstein/prompt-versions';
import { FileLedger, LedgerIndex } from './ledger-file.js';
import { FileTaskIndex } from './task-index.js';
import { makeProject } from '@bernstein/test-utils';
import { assign } from './test-fixtures.js';

const outcome = (taskId: string, passed: boolean): OutcomeRecord => ({ ...assign(taskId), type: 'outcome', passed });

async function setup(): Promise<{ paths: ProjectPaths; ledger: FileLedger }> {
  const paths = projectPaths(await makeProject({}));
  await mkdir(paths.sdd, { recursive: true });
  return { paths, ledger: new FileLedger(paths) };
}

/** The same question put to the on-disk index and to the in-memory one (the reference). */
async function expectSameAnswers(index: FileTaskIndex, reference: LedgerIndex, taskIds: readonly string[]): Promise<void> {
  await index.catchUp();
  await reference.catchUp();
  for (const taskId of taskIds) expect(await index.get(taskId), taskId).toEqual(await reference.get(taskId));
}

describe('FileTaskIndex', () => {
  it('answers like the in-memory index across saves, reloads and re-routed tasks (property)', async () => {
    // Ops on a small set of task ids so that re-routes and outcomes of saved tasks happen often.
    const op = fc.oneof(
      fc.record({ kind: fc.constant('assign' as const), task: fc.integer({ min: 0, max: 30 }), canary: fc.boolean() }),
      fc.record({ kind: fc.constant('outcome' as const), task: fc.integer({ min: 0, max: 30 }), passed: fc.boolean() }),
      fc.record({ kind: fc.constant('reopen' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 2000 }), async (batches, saveAfterBytes) => {
        const { paths, ledger } = await setup();
        try {
          let index = new FileTaskIndex(ledger, paths, { saveAfterBytes });
          await index.catchUp();
          const withOutcome = new Set<string>();
          const routed = new Set<string>();
          for (const batch of batches) {
            const records: LedgerRecord[] = [];
            for (const o of batch) {
              if (o.kind === 'reopen') {
                index = new FileTaskIndex(ledger, paths, { saveAfterBytes });
                await index.catchUp();
                continue;
              }
              const id = `task-${o.task}`;
              if (o.kind === 'assign') {
                records.push(assign(id, o.canary ? 'canary' : 'stable', o.canary ? 'cccccccccccc' : null));
                routed.add(id);
                withOutcome.delete(id);
              } else if (routed.has(id) && !withOutcome.has(id)) {
                // Recording refuses a second outcome for the same assignment; so does this model.
                records.push(outcome(id, o.passed));
                withOutcome.add(id);
              }
            }
            await index.append(records);
          }
          const ids = Array.from({ length: 32 }, (_, i) => `task-${i}`);
          await expectSameAnswers(index, new LedgerIndex(ledger), ids);
          await expectSameAnswers(new FileTaskIndex(ledger, paths), new LedgerIndex(ledger), ids);
        } finally {
          await rm(paths.root, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });

  it('writes .sdd/cache/tasks.idx and a fresh process answers from it plus the ledger after it', async () => {
    const { paths, ledger } = await setup();
    const index = new FileTaskIndex(ledger, paths);
    await index.catchUp();
    await index.append([assign('a'), assign('b', 'canary', 'cccccccccccc')]);
    // Saved at the first append because there was no index yet.
    const saved = await readFile(paths.taskIndex);
    expect(saved.subarray(0, 4).toString('latin1')).toBe('BTIX');
    expect(saved.length).toBe(64 + 2 * 40);
    // Another writer (no index update) appends after it.
    await ledger.append([outcome('b', false), assign('c')]);
    const fresh = new FileTaskIndex(ledger, paths);
    await fresh.catchUp();
    expect((await fresh.get('b'))?.outcome?.passed).toBe(false);
    expect((await fresh.get('b'))?.assignment.arm).toBe('canary');
    expect((await fresh.get('c'))?.assignment.taskId).toBe('c');
    expect((await fresh.get('a'))?.outcome).toBeNull();
    expect(await fresh.get('nope')).toBeUndefined();
  });

  it('rebuilds from the ledger when the index is damaged, stale, or points at the wrong lines', async () => {
    const { paths, ledger } = await setup();
    const first = new FileTaskIndex(ledger, paths, { saveAfterBytes: 0 });
    await first.catchUp();
    await first.append([assign('a'), assign('b'), outcome('a', true)]);
    const good = await readFile(paths.taskIndex);
    const reference = new LedgerIndex(ledger);
    const ids = ['a', 'b', 'c', 'zzz'];

    // Garbage in place of the index.
    await writeFile(paths.taskIndex, 'not an index');
    await expectSameAnswers(new FileTaskIndex(ledger, paths), reference, ids);

    // Entries that point at the wrong lines: swap the two tasks' assignment offsets.
    const swapped = Buffer.from(good);
    const first16 = swapped.readDoubleLE(64 + 16);
    swapped.writeDoubleLE(swapped.readDoubleLE(64 + 40 + 16), 64 + 16);
    swapped.writeDoubleLE(first16, 64 + 40 + 16);
    await writeFile(paths.taskIndex, swapped);
    await expectSameAnswers(new FileTaskIndex(ledger, paths), reference, ids);

    // A ledger replaced by a different one: the fingerprint no longer matches.
    await writeFile(paths.taskIndex, good);
    await rm(paths.ledger);
    await ledger.append([assign('c'), assign('b', 'canary', 'cccccccccccc')]);
    const replaced = new LedgerIndex(ledger);
    await expectSameAnswers(new FileTaskIndex(ledger, paths), replaced, ids);
    const afterReplace = new FileTaskIndex(ledger, paths);
    await afterReplace.catchUp();
    expect(await afterReplace.get('a')).toBeUndefined();
    expect((await afterReplace.get('c'))?.assignment.taskId).toBe('c');
  });

  it('a hand-damaged ledger line that the saved index points at is reported with its line when looked up', async () => {
    const { paths, ledger } = await setup();
    const index = new FileTaskIndex(ledger, paths, { saveAfterBytes: 0 });
    await index.catchUp();
    // Enough lines after b that its line lies outside the fingerprint (the ledger's last 4 KiB).
    await index.append([assign('a'), assign('b'), assign('c'), ...Array.from({ length: 40 }, (_, i) => assign(`filler-${i}`))]);
    const text = await readFile(paths.ledger, 'utf8');
    // Same length, so the index's offsets and fingerprint still match the file.
    await writeFile(paths.ledger, text.replace('"arm":"stable","versionId":"aaaaaaaaaaaa","canaryId":null,"epoch":null,"at":"2026-01-01T00:00:00.000Z"}\n{"v":1,"type":"assign","taskId":"c"', '"arm":"purple","versionId":"aaaaaaaaaaaa","canaryId":null,"epoch":null,"at":"2026-01-01T00:00:00.000Z"}\n{"v":1,"type":"assign","taskId":"c"'));
    const fresh = new FileTaskIndex(ledger, paths);
    await fresh.catchUp();
    expect((await fresh.get('a'))?.assignment.taskId).toBe('a');
    // b's line no longer parses as a record: the index is rebuilt from the ledger, which names the line.
    await expect(fresh.get('b')).rejects.toThrow(/ledger\.jsonl:2: invalid ledger record/);
  });

  it('refuses a second outcome for a task, saved or not, naming the ledger line', async () => {
    const { paths, ledger } = await setup();
    const index = new FileTaskIndex(ledger, paths, { saveAfterBytes: 0 });
    await index.catchUp();
    await index.append([assign('a'), outcome('a', true)]);
    await appendFile(paths.ledger, `${JSON.stringify(outcome('a', false))}\n`);
    await expect(new FileTaskIndex(ledger, paths).catchUp()).rejects.toThrow(/ledger\.jsonl:3: a second outcome for task "a" \(the first is on line 2\)/);
    await rm(paths.taskIndex);
    await expect(new FileTaskIndex(ledger, paths).catchUp()).rejects.toThrow(/ledger\.jsonl:3: a second outcome for task "a"/);
  });

  it('skips a torn last ledger line with a warning and indexes what follows the fence', async () => {
    const { paths, ledger } = await setup();
    await ledger.append([assign('t1')]);
    await appendFile(paths.ledger, '{"v":1,"type":"assi');
    const index = new FileTaskIndex(ledger, paths);
    await index.catchUp();
    expect(index.warnings[0]).toMatch(/unterminated/);
    await index.append([assign('t2')]);
    expect((await index.get('t2'))?.assignment.taskId).toBe('t2');
    const fresh = new FileTaskIndex(ledger, paths);
    await fresh.catchUp();
    expect((await fresh.get('t1'))?.assignment.taskId).toBe('t1');
    expect((await fresh.get('t2'))?.assignment.taskId).toBe('t2');
  });
});
