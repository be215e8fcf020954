import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStoreContract } from '@bernstein/rollout/contract';
import { FileStore } from '../src/index.js';

describeStoreContract('file', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bernstein-contract-'));
  const store = new FileStore(root);
  return {
    store,
    root,
    reopen: async () => new FileStore(root),
    cleanup: async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});
