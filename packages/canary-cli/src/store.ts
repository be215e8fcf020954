import { FileStore } from '@bernstein/store-file';
import type { RolloutStore } from '@bernstein/rollout';

/**
 * The adapter picker: the one place the CLI chooses a store. Today every project is the `.sdd/`
 * files of its root; a shared database plugs in here (see `store.url` in the SPEC).
 */
export async function openProjectStore(root: string): Promise<RolloutStore> {
  return new FileStore(root);
}

/** Where a store keeps its routing state and registry, for messages about them. */
export function storeFiles(store: RolloutStore): { state: string; registry: string } {
  if (store instanceof FileStore) return { state: store.paths.canaryState, registry: store.paths.registry };
  return { state: `${store.name} (routing state)`, registry: `${store.name} (version registry)` };
}
