import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, parse, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BernsteinError, writeFileAtomic } from '@bernstein/store';

/** The file that marks a folder as a demo workspace (so that only such folders are ever deleted). */
export const WORKSPACE_MARKER = '.bernstein-demo-workspace.json';

export interface Workspace {
  dir: string;
  /** Created (or recreated) by this run. */
  fresh: boolean;
  /** 1 for a fresh workspace; +1 for each kept run. */
  run: number;
}

/** `demo-workspace/` at the root of the monorepo this module lives in (else in the current folder). */
export function defaultWorkspaceDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  const { root } = parse(dir);
  while (dir !== root) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return join(dir, 'demo-workspace');
    dir = dirname(dir);
  }
  return resolve('demo-workspace');
}

/**
 * Make the workspace. Without `keep` it is recreated, but only a folder that is empty or carries
 * the demo's marker is ever deleted; anything else is refused with an error.
 */
export async function prepareWorkspace(dir: string, options: { keep: boolean }): Promise<Workspace> {
  const abs = resolve(dir);
  const markerFile = join(abs, WORKSPACE_MARKER);
  let entries: string[] = [];
  try {
    entries = await readdir(abs);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new BernsteinError('IO_ERROR', `cannot use ${abs} as the demo workspace: ${(error as Error).message}`, { dir: abs });
    }
  }
  let run = 1;
  let fresh = true;
  if (entries.length > 0) {
    if (!entries.includes(WORKSPACE_MARKER)) {
      throw new BernsteinError(
        'INVALID_ARGUMENT',
        `${abs} is not empty and was not created by the demo (no ${WORKSPACE_MARKER}); pick another --dir or empty it first`,
        { dir: abs },
      );
    }
    if (options.keep) {
      fresh = false;
      try {
        const marker = JSON.parse(await readFile(markerFile, 'utf8')) as { runs?: unknown };
        run = (typeof marker.runs === 'number' && Number.isInteger(marker.runs) ? marker.runs : 1) + 1;
      } catch {
        run = 2;
      }
    } else {
      await rm(abs, { recursive: true, force: true });
    }
  }
  await mkdir(abs, { recursive: true });
  await writeFileAtomic(markerFile, `${JSON.stringify({ createdBy: '@bernstein/demo-orchestrator', runs: run }, null, 2)}\n`);
  return { dir: abs, fresh, run };
}
