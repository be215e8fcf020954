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

/** Per-epoch routing counts of one arm, as `canary status --json` (and the dashboard's events) show them. */
interface ArmRouting {
  assigned: number;
  awaiting: number;
}

/**
 * Tasks of a canary that have an outcome (or a timeout), over every epoch and both arms. The
 * evidence totals (`stable.tasks + canary.tasks`) count only the routing-order prefix of these, so
 * they stand still while an earlier task awaits its outcome: a bench counting what it recorded
 * counts this instead.
 */
export function resolvedTasks(canary: { epochs: ReadonlyArray<{ stable: ArmRouting; canary: ArmRouting }> }): number {
  return canary.epochs.reduce((sum, e) => sum + e.stable.assigned - e.stable.awaiting + e.canary.assigned - e.canary.awaiting, 0);
}
