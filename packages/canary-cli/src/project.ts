import { existsSync } from 'node:fs';
import { BernsteinError, MalformedFileError } from '@bernstein/store';
import { loadProjectConfigWarnings, openProject, type FileProject } from '@bernstein/canary-router';
import { warningLine, type GlobalOptions, type Io } from './output.js';
import { isFileStore } from './store-url.js';

/**
 * Open the project and check its configuration, registry and routing state before a command
 * does anything, so that any malformed file fails every command the same way, naming the file,
 * and no command half-runs on top of it.
 */
export async function openCheckedProject(global: Pick<GlobalOptions, 'dir' | 'store'>, io: Io): Promise<FileProject> {
  const { dir, store } = global;
  checkStoreUrl(store);
  if (!existsSync(dir)) throw new BernsteinError('INVALID_ARGUMENT', `--dir ${dir} does not exist`);
  const project = openProject(dir);
  const [, registry, state] = await Promise.all([project.config(), project.registry.load(), project.load()]);
  // Valid YAML that we would silently ignore (our keys in the wrong place): say so on every command.
  const configWarnings = await loadProjectConfigWarnings(project.paths);
  for (const warning of configWarnings) io.stderr(warningLine(io, warning));
  if (configWarnings.length > 0) warned.add(project);
  // Cross-check: every version the routing state names must be registered.
  for (const [role, roleState] of Object.entries(state.roles)) {
    const named: Array<[string, string | null | undefined]> = [
      ['stable', roleState.stable],
      ['canary', roleState.canary?.versionId],
    ];
    for (const [what, id] of named) {
      if (id && !Object.hasOwn(registry.versions, id)) {
        throw new MalformedFileError(project.paths.canaryState, `role "${role}": ${what} names version ${id}, which is not in the registry ${project.paths.registry}`);
      }
    }
  }
  return project;
}

/**
 * `--store` / BERNSTEIN_STORE_URL: empty or `file:` means the project's .sdd/ files, the only store
 * this build has. Anything else is refused before the command does anything, rather than being
 * ignored (a command that silently wrote to the files instead of the database the user named
 * would split the state in two).
 */
export function checkStoreUrl(store: string | undefined): void {
  if (store === undefined) return;
  if (isFileStore(store)) return;
  // Never echo credentials (postgres://user:secret@host).
  const url = store.trim().replace(/\/\/[^@/]*@/, '//***@');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new BernsteinError(
    'INVALID_ARGUMENT',
    scheme
      ? `--store ${url}: this build has no store for "${scheme}:" URLs; use an empty value or "file:" for the .sdd/ files`
      : `--store ${url}: not a store URL (expected an empty value or "file:")`,
  );
}


const warned = new WeakSet<FileProject>();

/** Whether opening the project printed configuration warnings (the status memo is not written then). */
export function configWarned(project: FileProject): boolean {
  return warned.has(project);
}
