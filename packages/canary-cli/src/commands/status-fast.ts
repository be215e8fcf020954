import { colours, printJson, type GlobalOptions, type Io } from '../output.js';
import { readStatusSnapshot } from './status-snapshot.js';
import { humanRole } from './status-view.js';

/**
 * `canary status` from the memo, when nothing it depends on has changed since the last full run.
 * Returns null when the full path must run (no memo, any input changed, or an unknown --role).
 */
export async function fastStatus(global: GlobalOptions, options: { role?: string }, io: Io): Promise<number | null> {
  const all = await readStatusSnapshot(global.dir);
  if (!all) return null;
  const roles = options.role === undefined ? all : all.filter((r) => r.role === options.role);
  // No roles: the advice depends on the registry, which the full path reads.
  if (roles.length === 0) return null;
  if (global.json) printJson(io, { roles });
  else for (const role of roles) io.stdout(humanRole(role, colours(io)));
  return 0;
}
