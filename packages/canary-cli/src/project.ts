import { existsSync } from 'node:fs';
import { BernsteinError, MalformedFileError } from '@bernstein/store';
import { openRollout, type Rollout } from '@bernstein/rollout';
import { openProjectStore, storeFiles, type StoreChoice } from './store.js';

/**
 * Open the project and check its configuration, registry and routing state before a command
 * does anything, so that any malformed file fails every command the same way, naming the file,
 * and no command half-runs on top of it.
 */
export async function openCheckedProject(dir: string, choice: StoreChoice = {}): Promise<Rollout> {
  if (!existsSync(dir)) throw new BernsteinError('INVALID_ARGUMENT', `--dir ${dir} does not exist`);
  const store = await openProjectStore(dir, choice);
  const rollout = openRollout({ root: dir, store });
  const [, versions, state] = await Promise.all([rollout.config(), store.listVersions(), store.loadState()]);
  const registered = new Set(versions.map((v) => v.id));
  // Cross-check: every version the routing state names must be registered.
  for (const [role, roleState] of Object.entries(state.roles)) {
    const named: Array<[string, string | null | undefined]> = [
      ['stable', roleState.stable],
      ['canary', roleState.canary?.versionId],
    ];
    for (const [what, id] of named) {
      if (id && !registered.has(id)) {
        const files = storeFiles(store);
        throw new MalformedFileError(files.state, `role "${role}": ${what} names version ${id}, which is not in the registry ${files.registry}`);
      }
    }
  }
  return rollout;
}
