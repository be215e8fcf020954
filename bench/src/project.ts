import { openRollout, type Rollout } from '@bernstein/rollout';
import { FileStore } from '@bernstein/store-file';

/** The bench measures the file adapter: the services over the `.sdd/` files of `root`. */
export function openBenchProject(root: string): Rollout & { store: FileStore } {
  return openRollout({ root, store: new FileStore(root) }) as Rollout & { store: FileStore };
}

/** The same services over a PostgreSQL store (the bench's fleet-mode rows); templates and config still come from `root`. */
export async function openBenchProjectOn(root: string, url: string): Promise<Rollout> {
  const { openPostgresStore } = await import('@bernstein/store-postgres');
  return openRollout({ root, store: await openPostgresStore(url, { root }) });
}
