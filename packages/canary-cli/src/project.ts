import { existsSync } from 'node:fs';
import { BernsteinError } from '@bernstein/store';
import { openProject, type FileProject } from '@bernstein/canary-router';

/**
 * Open the project and check its configuration, registry and routing state before a command
 * does anything, so that any malformed file fails every command the same way, naming the file,
 * and no command half-runs on top of it.
 */
export async function openCheckedProject(dir: string): Promise<FileProject> {
  if (!existsSync(dir)) throw new BernsteinError('INVALID_ARGUMENT', `--dir ${dir} does not exist`);
  const project = openProject(dir);
  await Promise.all([project.config(), project.registry.load(), project.load()]);
  return project;
}
