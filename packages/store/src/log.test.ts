import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MalformedFileError } from './errors.js';
import { appendRecords, readRecordAt, readRecords, type LogSpec } from './log.js';

const spec: LogSpec<z.ZodObject<{ v: z.ZodLiteral<1>; n: z.ZodNumber }>> = {
  label: 'test',
  currentVersion: 1,
  schema: z.object({ v: z.literal(1), n: z.number() }),
};

async function tempFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'bernstein-log-')), 'log.jsonl');
}

async function readAll(file: string, chunkBytes?: number) {
  const records: number[] = [];
  const result = await readRecords(file, spec, (record) => records.push(record.n), chunkBytes ? { chunkBytes } : {});
  return { records, ...result };
}

describe('append-only log', () => {
  it('reads back what was appended, across chunk boundaries', async () => {
    const file = await tempFile();
    await appendRecords(file, [1, 2, 3].map((n) => ({ v: 1, n })));
    await appendRecords(file, [4, 5].map((n) => ({ v: 1, n })));
    for (const chunk of [undefined, 1, 3, 7]) {
      const { records, warnings, endOffset } = await readAll(file, chunk);
      expect(records).toEqual([1, 2, 3, 4, 5]);
      expect(warnings).toEqual([]);
      expect(endOffset).toBe((await readFile(file)).length);
    }
  });

  it('treats a missing file as an empty log', async () => {
    const { records, endOffset } = await readAll(join(tmpdir(), 'does-not-exist-bernstein.jsonl'));
    expect(records).toEqual([]);
    expect(endOffset).toBe(0);
  });

  it('skips a torn last line with a warning, then fences it off on the next append', async () => {
    const file = await tempFile();
    await appendRecords(file, [{ v: 1, n: 1 }]);
    await appendFile(file, '{"v":1,"n":');
    const first = await readAll(file);
    expect(first.records).toEqual([1]);
    expect(first.warnings[0]).toMatch(/unterminated last line/);

    const appended = await appendRecords(file, [{ v: 1, n: 2 }]);
    expect(appended.fencedTornTail).toBe(true);
    const second = await readAll(file);
    expect(second.records).toEqual([1, 2]);
    expect(second.warnings[0]).toMatch(/:2: skipped a record torn/);
  });

  it('disowns a torn tail that happens to be valid JSON, so every reader agrees', async () => {
    const file = await tempFile();
    await appendRecords(file, [{ v: 1, n: 1 }]);
    await appendFile(file, '{"v":1,"n":99}');
    expect((await readAll(file)).records).toEqual([1]);
    await appendRecords(file, [{ v: 1, n: 2 }]);
    expect((await readAll(file)).records).toEqual([1, 2]);
  });

  it('reports a malformed line in the middle with file and line, and does not touch the file', async () => {
    const file = await tempFile();
    await writeFile(file, '{"v":1,"n":1}\ngarbage\n{"v":1,"n":3}\n');
    const before = await readFile(file);
    const error = await readAll(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedFileError);
    expect((error as MalformedFileError).message).toContain(`${file}:2:`);
    expect(await readFile(file)).toEqual(before);
  });

  it('rejects a record of a newer schema version', async () => {
    const file = await tempFile();
    await writeFile(file, '{"v":2,"n":1}\n');
    await expect(readAll(file)).rejects.toThrow(/newer than this tool understands/);
  });

  it('resumes from an offset', async () => {
    const file = await tempFile();
    await appendRecords(file, [{ v: 1, n: 1 }]);
    const first = await readAll(file);
    await appendRecords(file, [{ v: 1, n: 2 }]);
    const seen: Array<[number, number]> = [];
    await readRecords(file, spec, (r, line) => seen.push([r.n, line]), { fromOffset: first.endOffset, fromLine: first.nextLine });
    expect(seen).toEqual([[2, 2]]);
  });

  it('property: any sequence of appends and torn fragments reads back exactly the completed appends', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.array(fc.integer(), { minLength: 1, maxLength: 4 }), fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\n'))), {
          maxLength: 12,
        }),
        async (steps) => {
          const file = await tempFile();
          const expected: number[] = [];
          for (const step of steps) {
            if (typeof step === 'string') await appendFile(file, step);
            else {
              await appendRecords(file, step.map((n) => ({ v: 1, n })), { durable: false });
              expected.push(...step);
            }
          }
          expect((await readAll(file, 5)).records).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('readRecordAt', () => {
  it('reads back each record at the offset readRecords reported, for any chunk size and line length (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 6000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 64 }), async (pads, chunkBytes) => {
        const file = await tempFile();
        const wide = z.object({ v: z.literal(1), n: z.number(), pad: z.string() });
        const wideSpec = { label: 'test', currentVersion: 1, schema: wide };
        await appendRecords(file, pads.map((pad, n) => ({ v: 1, n, pad })));
        const seen: Array<{ n: number; offset: number }> = [];
        await readRecords(file, wideSpec, (record, _line, offset) => seen.push({ n: record.n, offset }), { chunkBytes });
        expect(seen.map((s) => s.n)).toEqual(pads.map((_, n) => n));
        for (const { n, offset } of seen) expect(readRecordAt(file, wideSpec, offset)).toEqual({ v: 1, n, pad: pads[n] });
      }),
      { numRuns: 40 },
    );
  });

  it('returns null where no record starts: mid-line, past the end, an unterminated tail, a missing file', async () => {
    const file = await tempFile();
    await appendRecords(file, [{ v: 1, n: 1 }]);
    await appendFile(file, '{"v":1,"n":2');
    expect(readRecordAt(file, spec, 0)).toEqual({ v: 1, n: 1 });
    expect(readRecordAt(file, spec, 3)).toBeNull();
    const firstLine = (await readFile(file, 'utf8')).indexOf('\n') + 1;
    expect(readRecordAt(file, spec, firstLine)).toBeNull();
    expect(readRecordAt(file, spec, 10_000)).toBeNull();
    expect(readRecordAt(join(tmpdir(), 'does-not-exist-bernstein.jsonl'), spec, 0)).toBeNull();
  });
});
