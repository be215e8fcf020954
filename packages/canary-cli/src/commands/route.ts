import { hashFiles } from '@bernstein/prompt-versions';
import { routeTasks } from '@bernstein/rollout';
import { printJson, table, type GlobalOptions, type Io } from '../output.js';
import { openCheckedProject } from '../project.js';

export async function route(global: GlobalOptions, options: { role: string; task: string[]; files?: boolean }, io: Io): Promise<number> {
  const project = await openCheckedProject(global.dir, global);
  // Problems with the files on disk never stop routing: one line each on stderr (SPEC, Routing rule 7).
  const results = await routeTasks(project, options.role, options.task, { onWarning: (message) => io.stderr(`warning: ${message}\n`) });
  if (global.json) {
    // --no-files: the content hash instead of the files, so an orchestrator caching versions by id does not move them per task.
    const withFiles = options.files !== false;
    const hashes = new Map<string, string>();
    for (const r of results) {
      const content = withFiles ? { files: r.files } : { filesHash: hashes.get(r.versionId) ?? hashes.set(r.versionId, hashFiles(r.files)).get(r.versionId)! };
      printJson(io, { taskId: r.taskId, role: r.role, arm: r.arm, versionId: r.versionId, canaryId: r.canaryId, model: r.model, ...content });
    }
    return 0;
  }
  io.stdout(
    table(
      results.map((r) => [r.taskId, r.arm, r.versionId, r.canaryId ?? '-', typeof r.model.default_model === 'string' ? r.model.default_model : '-', r.sticky ? 'yes' : '']),
      ['TASK', 'ARM', 'VERSION', 'CANARY', 'MODEL', 'RETRY'],
    ),
  );
  return 0;
}
