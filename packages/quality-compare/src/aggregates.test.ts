import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openProject, type FileProject } from '@bernstein/canary-router';
import type { AssignmentRecord, LedgerRecord, OutcomeRecord } from '@bernstein/prompt-versions';
import { aggregatesDocument, currentAggregates, foldOutcome, saveAggregates, type Aggregates } from './aggregates.js';

async function emptyProject(): Promise<FileProject> {
  const root = await mkdtemp(join(tmpdir(), 'bernstein-agg-'));
  await mkdir(join(root, '.sdd'), { recursive: true });
  return openProject(root);
}

/** The reference: every outcome of the ledger folded from nothing, in ledger order. */
async function fullFold(project: FileProject): Promise<Aggregates> {
  const aggregates = aggregatesDocument.spec.empty();
  const { cursor } = await project.ledger.read({ offset: 0, line: 1 }, (record) => {
    if (record.type === 'outcome') foldOutcome(aggregates, record);
  });
  aggregates.cursor = cursor;
  return aggregates;
}

/** What a writer does after appending: catch the aggregates up and save them (and maybe a checkpoint). */
async function writerSaves(project: FileProject, checkpointEveryBytes: number): Promise<void> {
  await project.transaction(async () => {
    const { aggregates } = await currentAggregates(project);
    await saveAggregates(project, aggregates, { checkpointEveryBytes });
  });
}

const checkpointFiles = async (project: FileProject) => (await readdir(project.paths.checkpoints).catch(() => [] as string[])).sort();

const where = fc.record({
  taskId: fc.integer({ min: 0, max: 10_000 }).map((i) => `t-${i}`),
  role: fc.constantFrom('backend', 'qa'),
  arm: fc.constantFrom('stable' as const, 'canary' as const),
  versionId: fc.constantFrom('aaaaaaaaaaaa', 'bbbbbbbbbbbb'),
  canaryId: fc.constantFrom('cccccccccccc', 'dddddddddddd', null),
  epoch: fc.integer({ min: 0, max: 2 }),
});
const record: fc.Arbitrary<LedgerRecord> = fc.oneof(
  where.map((w): AssignmentRecord => ({ v: 1, type: 'assign', ...w, epoch: w.canaryId === null ? null : w.epoch, at: '2026-01-01T00:00:00.000Z' })),
  fc
    .record(
      {
        w: where,
        passed: fc.boolean(),
        gates: fc.dictionary(fc.constantFrom('lint', 'tests', 'types'), fc.boolean(), { maxKeys: 3 }),
        costUsd: fc.double({ min: 0, max: 5, noNaN: true }),
        durationMs: fc.integer({ min: 0, max: 100_000 }),
      },
      { requiredKeys: ['w', 'passed'] },
    )
    .map(({ w, ...rest }): OutcomeRecord => ({ v: 1, type: 'outcome', ...w, epoch: w.canaryId === null ? null : w.epoch, at: '2026-01-01T00:00:00.000Z', ...rest })),
);

describe('aggregate checkpoints', () => {
  it('checkpoint + ledger tail gives exactly the full fold: cache deleted, stale, checkpoints damaged or gone (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ records: fc.array(record, { minLength: 1, maxLength: 12 }), save: fc.boolean() }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.nat({ max: 9 }),
        async (chunks, checkpointEveryBytes, staleAt) => {
          const project = await emptyProject();
          try {
            let stale: string | undefined;
            for (const [i, chunk] of chunks.entries()) {
              await project.ledger.append(chunk.records);
              if (chunk.save) await writerSaves(project, checkpointEveryBytes);
              if (i === staleAt) stale = await readFile(project.paths.aggregates, 'utf8').catch(() => undefined);
            }
            const reference = await fullFold(project);
            const answer = async () => (await currentAggregates(openProject(project.paths.root))).aggregates;

            // The cache as the writer left it (behind by the chunks saved without a save).
            expect(await answer()).toEqual(reference);
            // A stale cache (an older save put back).
            if (stale !== undefined) {
              await writeFile(project.paths.aggregates, stale);
              expect(await answer()).toEqual(reference);
            }
            // No cache: the newest checkpoint plus the tail.
            await rm(project.paths.aggregates, { force: true });
            expect(await answer()).toEqual(reference);
            // The newest checkpoint damaged: the one before it, or the whole ledger.
            const files = await checkpointFiles(project);
            if (files.length > 0) {
              await writeFile(join(project.paths.checkpoints, files[files.length - 1]!), '{"schemaVersion":1,');
              expect(await answer()).toEqual(reference);
            }
            // Every derived file gone: the whole ledger.
            await rm(join(project.paths.sdd, 'cache'), { recursive: true, force: true });
            expect(await answer()).toEqual(reference);
          } finally {
            await rm(project.paths.root, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('writes a checkpoint every N bytes of ledger and keeps the newest two', async () => {
    const project = await emptyProject();
    const outcome: OutcomeRecord = { v: 1, type: 'outcome', taskId: 't', role: 'backend', arm: 'canary', versionId: 'aaaaaaaaaaaa', canaryId: 'cccccccccccc', epoch: 0, at: '2026-01-01T00:00:00.000Z', passed: true };
    for (let i = 0; i < 6; i++) {
      await project.ledger.append(Array.from({ length: 10 }, (_, k) => ({ ...outcome, taskId: `t-${i}-${k}` })));
      await writerSaves(project, 1000);
    }
    const files = await checkpointFiles(project);
    expect(files).toHaveLength(2);
    expect(files.every((f) => /^aggregates-\d{15}\.json$/.test(f))).toBe(true);
    // The newest holds exactly the fold of the ledger before its offset.
    const newest = JSON.parse(await readFile(join(project.paths.checkpoints, files[1]!), 'utf8')) as { cursor: { offset: number; line: number }; state: Aggregates };
    const upToIt = aggregatesDocument.spec.empty();
    await project.ledger.read({ offset: 0, line: 1 }, (record, _line, offset) => {
      if (record.type === 'outcome' && offset < newest.cursor.offset) foldOutcome(upToIt, record);
    });
    upToIt.cursor = newest.cursor;
    expect(newest.state).toEqual(upToIt);
    expect(upToIt.canaries.cccccccccccc?.epochs['0']?.canary.tasks).toBeGreaterThan(0);
  });

  it('passes over a checkpoint of a ledger that was replaced (its fingerprint does not match)', async () => {
    const project = await emptyProject();
    const outcome = (taskId: string, passed: boolean): OutcomeRecord => ({ v: 1, type: 'outcome', taskId, role: 'backend', arm: 'stable', versionId: 'aaaaaaaaaaaa', canaryId: null, epoch: null, at: '2026-01-01T00:00:00.000Z', passed });
    await project.ledger.append(Array.from({ length: 20 }, (_, i) => outcome(`a-${i}`, true)));
    await writerSaves(project, 100);
    expect(await checkpointFiles(project)).toHaveLength(1);
    // A different ledger, longer than the checkpoint's offset.
    await rm(project.paths.ledger);
    await rm(project.paths.aggregates);
    await project.ledger.append(Array.from({ length: 30 }, (_, i) => outcome(`b-${i}`, false)));
    const { aggregates } = await currentAggregates(openProject(project.paths.root));
    expect(aggregates).toEqual(await fullFold(project));
    expect(aggregates.stable.backend?.aaaaaaaaaaaa?.passed).toBe(0);
  });
});
