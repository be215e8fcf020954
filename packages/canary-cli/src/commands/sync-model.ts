import { syncModelToDisk } from '@bernstein/rollout';
import { printJson, type GlobalOptions, type Io } from '../output.js';
import { openCheckedProject } from '../project.js';

/** `config sync-model --role R [--dry-run]`: print the diff, then write the serving model into the role's model config. */
export async function syncModel(global: GlobalOptions, options: { role: string; dryRun?: boolean }, io: Io): Promise<number> {
  const project = await openCheckedProject(global, io);
  const result = await syncModelToDisk(project, options.role, { dryRun: Boolean(options.dryRun) });
  if (global.json) {
    printJson(io, result);
    return 0;
  }
  if (!result.changed) {
    io.stdout(`${result.file} already holds the model of stable ${result.servingVersionId}; nothing to do\n`);
    return 0;
  }
  io.stdout(result.patch);
  io.stdout(result.written ? `wrote ${result.file} (the model of stable ${result.servingVersionId})\n` : `not written (--dry-run)\n`);
  return 0;
}
