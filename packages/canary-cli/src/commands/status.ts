import type { GlobalOptions, Io } from '../output.js';
import { isFileStore } from '../store-url.js';
import { fastStatus } from './status-fast.js';

/**
 * `canary status`: from the memo when nothing changed since the last full run (start-up time is
 * a product target), else the full path, which validates every file and recomputes the decisions.
 */
export async function status(global: GlobalOptions, options: { role?: string }, io: Io): Promise<number> {
  // The memo describes the .sdd/ files: a store named by --store or BERNSTEIN_STORE_URL (a shared
  // database) always takes the full path. (With store.url in config.yaml no memo is ever written.)
  const named = [global.store, process.env.BERNSTEIN_STORE_URL].some((url) => url !== undefined && url.trim() !== '');
  const fast = named ? null : await fastStatus(global, options, io).catch(() => null);
  if (fast !== null) return fast;
  return (await import('./canary.js')).status(global, options, io);
}
