import { appendFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { projectPaths } from '@bernstein/store';
import { FileLedger, LedgerIndex } from './ledger-file.js';
import { makeProject } from '@bernstein/test-utils';
import { assign } from './test-fixtures.js';

describe('ledger', () => {
  it('indexes assignments and outcomes incrementally', async () => {
    const paths = projectPaths(await makeProject({}));
    const ledger = new FileLedger(paths);
    const index = new LedgerIndex(ledger);
    await index.catchUp();
    expect(index.size).toBe(0);
    await index.append([assign('t1'), assign('t2', 'canary')]);
    expect((await index.get('t2'))?.assignment.arm).toBe('canary');
    await ledger.append([{ ...assign('t1'), type: 'outcome', passed: true, gates: { lint: true } }]);
    await index.catchUp();
    expect((await index.get('t1'))?.outcome?.passed).toBe(true);
    expect((await index.get('t2'))?.outcome).toBeNull();

    const fresh = new LedgerIndex(ledger);
    await fresh.catchUp();
    expect(fresh.size).toBe(2);
    expect((await fresh.get('t1'))?.outcome?.gates).toEqual({ lint: true });
  });

  it('skips a torn tail with a warning and keeps the rest', async () => {
    const paths = projectPaths(await makeProject({}));
    const ledger = new FileLedger(paths);
    await ledger.append([assign('t1')]);
    await appendFile(paths.ledger, '{"v":1,"type":"assi');
    const index = new LedgerIndex(ledger);
    await index.catchUp();
    expect(index.size).toBe(1);
    expect(index.warnings[0]).toMatch(/unterminated/);
    await index.append([assign('t2')]);
    expect(index.size).toBe(2);
  });

  it('refuses records that do not match the schema, naming the line', async () => {
    const paths = projectPaths(await makeProject({}));
    await appendFile(paths.ledger, `${JSON.stringify(assign('t1'))}\n{"v":1,"type":"assign","taskId":""}\n`).catch(async () => {
      const { mkdir } = await import('node:fs/promises');
      await mkdir(paths.sdd, { recursive: true });
      await appendFile(paths.ledger, `${JSON.stringify(assign('t1'))}\n{"v":1,"type":"assign","taskId":""}\n`);
    });
    await expect(new LedgerIndex(new FileLedger(paths)).catchUp()).rejects.toThrow(/ledger\.jsonl:2: invalid ledger record/);
  });
});
