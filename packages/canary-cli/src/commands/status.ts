import type { GlobalOptions, Io } from '../output.js';
import { fastStatus } from './status-fast.js';

/**
 * `canary status`: from the memo when nothing changed since the last full run (start-up time is
 * a product target), else the full path, which validates every file and recomputes the decisions.
 */
export async function status(global: GlobalOptions, options: { role?: string }, io: Io): Promise<number> {
  const fast = await fastStatus(global, options, io).catch(() => null);
  if (fast !== null) return fast;
  return (await import('./canary.js')).status(global, options, io);
}
