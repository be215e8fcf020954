import { describeAuditEvent, routeTasks } from '@bernstein/canary-router';
import { colours, printJson, table, type GlobalOptions, type Io } from '../output.js';
import { openCheckedProject } from '../project.js';

export async function route(global: GlobalOptions, options: { role: string; task: string[] }, io: Io): Promise<number> {
  const project = await openCheckedProject(global, io);
  const revisionBefore = (await project.load()).revision;
  const results = await routeTasks(project, options.role, options.task);
  // Routing may have started a canary or released a changed bundle directly: say so on stderr, so
  // an orchestrator's log shows why the version changed.
  const after = await project.load();
  if (after.revision !== revisionBefore) {
    for (const event of after.lastEvents ?? []) {
      if (event.revision > revisionBefore && event.role === options.role && (event.action === 'start' || event.action === 'release')) {
        io.stderr(`${colours(io, 'stderr').cyan('notice:')} ${describeAuditEvent(event)}\n`);
      }
    }
  }
  if (global.json) {
    for (const r of results) printJson(io, { taskId: r.taskId, role: r.role, arm: r.arm, versionId: r.versionId, canaryId: r.canaryId, model: r.model, files: r.files });
    return 0;
  }
  io.stdout(
    table(
      results.map((r) => [r.taskId, r.arm, r.versionId, r.canaryId ?? '-', typeof r.model.default_model === 'string' ? r.model.default_model : '-', r.sticky ? 'yes' : '']),
      ['TASK', 'ARM', 'VERSION', 'CANARY', 'MODEL', 'RETRY'],
      colours(io),
    ),
  );
  return 0;
}
