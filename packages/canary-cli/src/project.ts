import { existsSync } from 'node:fs';
import { BernsteinError, MalformedFileError, projectPaths } from '@bernstein/store';
import { loadProjectConfigWarnings } from '@bernstein/canary-router';
import { openRollout, type Rollout } from '@bernstein/rollout';
import { warningLine, type GlobalOptions, type Io } from './output.js';
import { openProjectStore, storeFiles } from './store.js';

/**
 * Open the project and check its configuration, registry and routing state before a command
 * does anything, so that any malformed file fails every command the same way, naming the file,
 * and no command half-runs on top of it.
 */
export async function openCheckedProject(global: Pick<GlobalOptions, 'dir' | 'store'>, io: Io): Promise<Rollout> {
  const { dir } = global;
  if (!existsSync(dir)) throw new BernsteinError('INVALID_ARGUMENT', `--dir ${dir} does not exist`);
  const store = await openProjectStore(dir, { store: global.store });
  const rollout = openRollout({ root: dir, store });
  const [, versions, state] = await Promise.all([rollout.config(), store.listVersions(), store.loadState()]);
  const registered = new Set(versions.map((v) => v.id));
  // Valid YAML that we would silently ignore (our keys in the wrong place): say so on every command.
  const configWarnings = await loadProjectConfigWarnings(projectPaths(dir));
  for (const warning of configWarnings) io.stderr(warningLine(io, warning));
  if (configWarnings.length > 0) warned.add(rollout);
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


const warned = new WeakSet<Rollout>();

/** Whether opening the project printed configuration warnings (the status memo is not written then). */
export function configWarned(project: Rollout): boolean {
  return warned.has(project);
}
