import type { GlobalOptions, Io } from '../output.js';
import { isFileStore } from '../store-url.js';
import { fastStatus } from './status-fast.js';

/**
 * `canary status`: from the memo when nothing changed since the last full run (start-up time is
 * a product target), else the full path, which validates every file and recomputes the decisions.
 */
export async function status(global: GlobalOptions, options: { role?: string }, io: Io): Promise<number> {
  // The memo is of the .sdd/ files; any other store takes the full path (which checks --store).
  const fast = isFileStore(global.store) ? await fastStatus(global, options, io).catch(() => null) : null;
  if (fast !== null) return fast;
  return (await import('./canary.js')).status(global, options, io);
}
