import { routeTasks } from '@bernstein/rollout';
import { printJson, table, type GlobalOptions, type Io } from '../output.js';
import { openCheckedProject } from '../project.js';

export async function route(global: GlobalOptions, options: { role: string; task: string[] }, io: Io): Promise<number> {
  const project = await openCheckedProject(global.dir, global);
  const results = await routeTasks(project, options.role, options.task, { onWarning: (message) => io.stderr(`warning: ${message}\n`) });
  if (global.json) {
    for (const r of results) printJson(io, { taskId: r.taskId, role: r.role, arm: r.arm, versionId: r.versionId, canaryId: r.canaryId, model: r.model, files: r.files });
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
