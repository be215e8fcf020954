import { existsSync } from 'node:fs';
import { BernsteinError, MalformedFileError } from '@bernstein/store';
import { openProject, type FileProject } from '@bernstein/canary-router';

/**
 * Open the project and check its configuration, registry and routing state before a command
 * does anything, so that any malformed file fails every command the same way, naming the file,
 * and no command half-runs on top of it.
 */
export async function openCheckedProject(dir: string): Promise<FileProject> {
  if (!existsSync(dir)) throw new BernsteinError('INVALID_ARGUMENT', `--dir ${dir} does not exist`);
  const project = openProject(dir);
  const [, registry, state] = await Promise.all([project.config(), project.registry.load(), project.load()]);
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
