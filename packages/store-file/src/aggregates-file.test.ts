import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { projectPaths, withProjectLock } from '@bernstein/store';
import type { LedgerRecord, OutcomeRecord } from '@bernstein/prompt-versions';
import { foldInto } from '@bernstein/rollout';
import { makeProject } from '@bernstein/test-utils';
import { FileAggregates } from './aggregates-file.js';
import { FileLedger } from './ledger-file.js';
import { assign } from './test-fixtures.js';

describe('aggregate checkpoints', () => {
  it('checkpoint + ledger tail equals the full fold: cache deleted, newest checkpoint damaged, all gone (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 3000 }),
        async (chunks, checkpointEveryBytes) => {
          const paths = projectPaths(await makeProject({}));
          await mkdir(paths.sdd, { recursive: true });
          const ledger = new FileLedger(paths);
          try {
            let n = 0;
            for (const chunk of chunks) {
              const records: LedgerRecord[] = [];
              for (const [task, canary, passed] of chunk) {
                const a = assign(`t-${n++}-${task}`, canary ? 'canary' : 'stable', canary ? 'cccccccccccc' : null);
                records.push(a, { ...a, type: 'outcome', passed } satisfies OutcomeRecord);
              }
              await ledger.append(records);
              await withProjectLock(paths, async () => {
                const aggregates = new FileAggregates(paths, ledger);
                await aggregates.save(await aggregates.current({ saveIfFarBehind: false }), { checkpointEveryBytes });
              });
            }
            const all: LedgerRecord[] = [];
            await ledger.read({ offset: 0, line: 1 }, (record) => all.push(record));
            const reference = foldInto(new Map(), all);
            const answer = async () => (await new FileAggregates(paths, new FileLedger(paths)).current({ saveIfFarBehind: false })).states;
            await rm(paths.aggregates);
            expect(await answer()).toEqual(reference);
            const files = (await readdir(paths.checkpoints).catch(() => [] as string[])).sort();
            if (files.length > 0) {
              await writeFile(`${paths.checkpoints}/${files[files.length - 1]}`, '{"schemaVersion":1,');
              expect(await answer()).toEqual(reference);
            }
            await rm(paths.checkpoints, { recursive: true, force: true });
            expect(await answer()).toEqual(reference);
          } finally {
            await rm(paths.root, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
