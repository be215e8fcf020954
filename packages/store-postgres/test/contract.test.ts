import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { describeStoreContract } from '@bernstein/rollout/contract';
import { openPostgresStore } from '../src/store.ts';
import { migratedDatabase, skipWithoutPostgres, useServer } from './fixture.ts';

/** The store-contract suite of the port, against a real PostgreSQL server: a fresh database per test. */
describe.skipIf(skipWithoutPostgres)('postgres adapter', () => {
  const server = useServer();
  describeStoreContract('postgres', async () => {
    const url = await migratedDatabase(server());
    const root = await mkdtemp(join(tmpdir(), 'bernstein-pg-contract-'));
    const opened = [await openPostgresStore(url, { root })];
    return {
      store: opened[0]!,
      root,
      reopen: async () => {
        const again = await openPostgresStore(url, { root });
        opened.push(again);
        return again;
      },
      cleanup: async () => {
        for (const store of opened) await store.close();
        await rm(root, { recursive: true, force: true });
      },
    };
  });
});
