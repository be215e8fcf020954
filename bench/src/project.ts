import { openRollout, type Rollout } from '@bernstein/rollout';
import { FileStore } from '@bernstein/store-file';

/** The bench measures the file adapter: the services over the `.sdd/` files of `root`. */
export function openBenchProject(root: string): Rollout & { store: FileStore } {
  return openRollout({ root, store: new FileStore(root) }) as Rollout & { store: FileStore };
}
