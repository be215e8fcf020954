import { appendFile, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { projectPaths, type ProjectPaths } from '@bernstein/store';
import type { LedgerRecord, OutcomeRecord } from '@bernstein/prompt-versions';
import { crc32 } from 'node:zlib';
import { FileLedger, LedgerIndex } from './ledger-file.js';
import { FileTaskIndex, taskIndexFiles } from './task-index.js';
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
    // Saved at the first append because there was no index yet: a manifest naming one segment.
    const [manifest, segment, ...more] = taskIndexFiles(paths);
    expect(more).toEqual([]);
    const saved = await readFile(manifest!);
    expect(saved.subarray(0, 4).toString('latin1')).toBe('BTIX');
    expect(saved.length).toBe(56 + 32 + 4);
    expect((await readFile(segment!)).length).toBe(32 + 2 * 48);
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
    const segment = taskIndexFiles(paths)[1]!;
    const goodSegment = await readFile(segment);
    const reference = new LedgerIndex(ledger);
    const ids = ['a', 'b', 'c', 'zzz'];

    // Garbage in place of the index.
    await writeFile(paths.taskIndex, 'not an index');
    await expectSameAnswers(new FileTaskIndex(ledger, paths), reference, ids);

    // Entries that point at the wrong lines: swap the two tasks' assignment offsets, with the
    // checksums made to match (so only the lookup's check of the line can notice).
    await writeFile(paths.taskIndex, good);
    await writeFile(segment, withChecksums(swapSegmentOffsets(goodSegment)));
    await rewriteManifestChecksum(paths.taskIndex, crc32(swapSegmentOffsets(goodSegment).subarray(32)), 0);
    await expectSameAnswers(new FileTaskIndex(ledger, paths), reference, ids);

    // A ledger replaced by a different one: the fingerprint no longer matches.
    await writeFile(paths.taskIndex, good);
    await writeFile(segment, goodSegment);
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

  it('answers a timeout and the late outcome after it, saved or not; refuses a second late outcome', async () => {
    const { paths, ledger } = await setup();
    const index = new FileTaskIndex(ledger, paths, { saveAfterBytes: 0 });
    await index.catchUp();
    const timeout: OutcomeRecord = { ...outcome('a', false), timedOut: true };
    const late: LedgerRecord = { ...assign('a'), type: 'late', passed: true, durationMs: 5 };
    await index.append([assign('a'), timeout, assign('b')]);
    await index.append([late]);
    const expected = { assignment: assign('a'), outcome: timeout, outcomeLine: 2, late };
    expect(await index.get('a')).toEqual(expected);
    const fresh = new FileTaskIndex(ledger, paths);
    await fresh.catchUp();
    expect(await fresh.get('a')).toEqual(expected);
    await expectSameAnswers(new FileTaskIndex(ledger, paths), new LedgerIndex(ledger), ['a', 'b']);
    await appendFile(paths.ledger, `${JSON.stringify(late)}\n`);
    await expect(new FileTaskIndex(ledger, paths).catchUp()).rejects.toThrow(/ledger\.jsonl:5: a late outcome for task "a" that already has one/);
    await expect(new LedgerIndex(ledger).catchUp()).rejects.toThrow(/ledger\.jsonl:5: a late outcome for task "a" that already has one/);
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

describe('FileTaskIndex segments and manifest (crash safety)', () => {
  /** A saved index of several segments, and the reference answers. */
  async function savedIndex() {
    const { paths, ledger } = await setup();
    const index = new FileTaskIndex(ledger, paths, { saveAfterBytes: 0 });
    await index.catchUp();
    for (let batch = 0; batch < 5; batch++) {
      await index.append(Array.from({ length: 3 }, (_, i) => assign(`t-${batch}-${i}`)));
      if (batch > 1) await index.append([outcome(`t-${batch - 2}-0`, batch % 2 === 0)]);
    }
    const ids = [...Array.from({ length: 5 }, (_, b) => Array.from({ length: 3 }, (_, i) => `t-${b}-${i}`)).flat(), 'unknown'];
    const files = taskIndexFiles(paths);
    expect(files.length).toBeGreaterThan(2); // the manifest and at least two segments
    return { paths, ledger, ids, files, reference: new LedgerIndex(ledger) };
  }

  /** After any damage, a fresh index answers like the ledger, and its next save leaves a consistent index. */
  async function expectRecovers(paths: ProjectPaths, ledger: FileLedger, reference: LedgerIndex, ids: readonly string[]) {
    const fresh = new FileTaskIndex(ledger, paths, { saveAfterBytes: 0 });
    await expectSameAnswers(fresh, reference, ids);
    await fresh.append([assign('after-damage')]);
    const listed = taskIndexFiles(paths);
    const onDisk = (await readdir(dirname(paths.taskIndex))).filter((name) => name.endsWith('.seg')).map((name) => join(dirname(paths.taskIndex), name));
    expect(onDisk.sort()).toEqual(listed.slice(1).sort());
    await expectSameAnswers(new FileTaskIndex(ledger, paths), reference, [...ids, 'after-damage']);
  }

  it('a torn segment (cut short by a crash) is noticed and the index rebuilt', async () => {
    const { paths, ledger, ids, files, reference } = await savedIndex();
    const segment = files[1]!;
    await truncate(segment, (await readFile(segment)).length - 20);
    await expectRecovers(paths, ledger, reference, ids);
  });

  it('a missing segment is noticed and the index rebuilt', async () => {
    const { paths, ledger, ids, files, reference } = await savedIndex();
    await rm(files[files.length - 1]!);
    await expectRecovers(paths, ledger, reference, ids);
  });

  it('a damaged segment (a flipped bit in a key) fails its checksum and the index is rebuilt', async () => {
    const { paths, ledger, ids, files, reference } = await savedIndex();
    const bytes = await readFile(files[1]!);
    bytes[32 + 3]! ^= 0x10;
    await writeFile(files[1]!, bytes);
    await expectRecovers(paths, ledger, reference, ids);
  });

  it('a damaged manifest, or one of the earlier format, is rebuilt', async () => {
    const { paths, ledger, ids, reference } = await savedIndex();
    const manifest = await readFile(paths.taskIndex);
    manifest[9]! ^= 0x01; // the ledger offset it covers
    await writeFile(paths.taskIndex, manifest);
    await expectRecovers(paths, ledger, reference, ids);
    // Format 1 (one sorted file) is not read: rebuilt in the current format.
    const v1 = Buffer.alloc(64);
    v1.write('BTIX', 0, 'latin1');
    v1.writeUInt32LE(1, 4);
    await writeFile(paths.taskIndex, v1);
    await expectRecovers(paths, ledger, reference, ids);
    expect((await readFile(paths.taskIndex)).readUInt32LE(4)).toBe(3);
  });

  it('a stale index (an older one put back) catches up from where it stopped; segments a crash left unlisted are removed', async () => {
    const { paths, ledger } = await setup();
    const index = new FileTaskIndex(ledger, paths, { saveAfterBytes: 0 });
    await index.catchUp();
    await index.append([assign('a'), assign('b')]);
    const oldFiles = await Promise.all(taskIndexFiles(paths).map(async (file) => ({ file, bytes: await readFile(file) })));
    await index.append([outcome('a', true), assign('c')]);
    await index.append([assign('d'), outcome('c', false)]);
    // The older manifest and its segments put back (later segments stay on disk, unlisted).
    for (const { file, bytes } of oldFiles) await writeFile(file, bytes);
    await writeFile(join(dirname(paths.taskIndex), 'tasks-99999999.seg'), 'left by a crash before its manifest was written');
    const reference = new LedgerIndex(ledger);
    await expectRecovers(paths, ledger, reference, ['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps few segments: merges a run into the one before it once it has a quarter of its entries', async () => {
    const { paths, ledger } = await setup();
    const index = new FileTaskIndex(ledger, paths, { saveAfterBytes: 0 });
    await index.catchUp();
    const sizes = async () => Promise.all(taskIndexFiles(paths).slice(1).map(async (file) => ((await readFile(file)).length - 32) / 48));
    for (let i = 0; i < 200; i++) {
      await index.append([assign(`t-${i}`)]);
      // Oldest first, each run over four times the next (200 saves of one task each).
      const runs = await sizes();
      for (let r = 1; r < runs.length; r++) expect(runs[r]! * 4).toBeLessThan(runs[r - 1]!);
    }
    const runs = await sizes();
    expect(runs.reduce((a, b) => a + b, 0)).toBe(200);
    expect(runs.length).toBeLessThanOrEqual(5);
    // Re-routing saved tasks adds entries that replace theirs; merging drops the replaced ones.
    for (let i = 0; i < 200; i += 4) await index.append([assign(`t-${i}`, 'canary', 'cccccccccccc')]);
    await index.append(Array.from({ length: 200 }, (_, i) => assign(`new-${i}`)));
    expect((await sizes()).reduce((a, b) => a + b, 0)).toBeLessThan(200 + 50 + 200);
    await expectSameAnswers(new FileTaskIndex(ledger, paths), new LedgerIndex(ledger), [...Array.from({ length: 201 }, (_, i) => `t-${i}`), 'new-0', 'new-199']);
  });
});

/** A segment with its first two entries' assignment offsets swapped. */
function swapSegmentOffsets(segment: Buffer): Buffer {
  const out = Buffer.from(segment);
  const first = out.readDoubleLE(32 + 16);
  out.writeDoubleLE(out.readDoubleLE(32 + 48 + 16), 32 + 16);
  out.writeDoubleLE(first, 32 + 48 + 16);
  return out;
}

/** A segment whose header checksum matches its (edited) entries. */
function withChecksums(segment: Buffer): Buffer {
  const out = Buffer.from(segment);
  out.writeUInt32LE(crc32(out.subarray(32)), 24);
  return out;
}

/** Put `crc` as segment `at`'s checksum in the manifest, and fix the manifest's own checksum. */
async function rewriteManifestChecksum(file: string, crc: number, at: number): Promise<void> {
  const bytes = await readFile(file);
  bytes.writeUInt32LE(crc, 56 + at * 32 + 16);
  bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
  await writeFile(file, bytes);
}
