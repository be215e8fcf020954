import { BernsteinError } from '@bernstein/store';
import { FileStore } from '@bernstein/store-file';
import { projectPaths } from '@bernstein/store';
import { loadProjectConfig } from '@bernstein/canary-router';
import type { RolloutStore } from '@bernstein/rollout';
import { isFileStore } from './store-url.js';

export interface StoreChoice {
  /** `--store <url>` when given. */
  store?: string | undefined;
}

/**
 * The adapter picker: the one place the CLI chooses a store. `--store`, else
 * `BERNSTEIN_STORE_URL`, else `store.url` in `.sdd/config.yaml`; empty or `file:` is the `.sdd/`
 * files of the root, `postgres://` a shared database (its package is loaded only then, so the
 * file store's start-up pays nothing for it).
 */
export async function openProjectStore(root: string, choice: StoreChoice = {}): Promise<RolloutStore> {
  const given = [choice.store, process.env.BERNSTEIN_STORE_URL].find((url) => url !== undefined && url.trim() !== '');
  const configUrl = given === undefined ? (await loadProjectConfig(projectPaths(root))).store.url : '';
  if (given === undefined && configUrl.trim() === '') return new FileStore(root);
  const { openPostgresStore, selectStore } = await import('@bernstein/store-postgres');
  const location = selectStore({ flag: choice.store, configUrl });
  if (location.kind === 'file') return new FileStore(root);
  return openPostgresStore(location.connectionString, { root });
}

/** Whether `--store` or BERNSTEIN_STORE_URL name a store (the file-only status memo must not answer then). */
export function storeGivenOutsideConfig(choice: StoreChoice): boolean {
  return [choice.store, process.env.BERNSTEIN_STORE_URL].some((url) => url !== undefined && url.trim() !== '');
}

/** Where a store keeps its routing state and registry, for messages about them. */
export function storeFiles(store: RolloutStore): { state: string; registry: string } {
  if (store instanceof FileStore) return { state: store.paths.canaryState, registry: store.paths.registry };
  return { state: `${store.name} (routing state)`, registry: `${store.name} (version registry)` };
}
