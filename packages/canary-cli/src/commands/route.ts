import { hashFiles } from '@bernstein/prompt-versions';
import { describeAuditEvent } from '@bernstein/canary-router';
import { routeTasks } from '@bernstein/rollout';
import { BernsteinError, formatZodIssues } from '@bernstein/store';
import { StratumSchema } from '@bernstein/prompt-versions';
import type { AuditEvent } from '@bernstein/canary-router';
import { announce } from '../announce.js';
import { colours, printJson, table, warningLine, type GlobalOptions, type Io } from '../output.js';
import { openCheckedProject } from '../project.js';

export async function route(global: GlobalOptions, options: { role: string; task: string[]; files?: boolean; stratum?: string }, io: Io): Promise<number> {
  if (options.stratum !== undefined) {
    const check = StratumSchema.safeParse(options.stratum);
    if (!check.success) throw new BernsteinError('INVALID_ARGUMENT', `--stratum: ${formatZodIssues(check.error.issues)}`);
  }
  const project = await openCheckedProject(global, io);
  // A decision the timeout sweep brought (e.g. a rollback of a canary whose failures never
  // report) is announced like one that recording brings, alerts included.
  const decisions: AuditEvent[] = [];
  // Problems with the files on disk never stop routing: one line each on stderr (SPEC, Routing rule 7).
  // Routing may release a changed bundle directly or start a canary: say so on stderr, so an
  // orchestrator's log shows why the version changed.
  const results = await routeTasks(project, options.role, options.task, {
    ...(options.stratum !== undefined ? { stratum: options.stratum } : {}),
    onWarning: (message) => io.stderr(warningLine(io, message)),
    onTransitions: (events) => {
      for (const event of events) {
        if (event.action === 'start' || event.action === 'release') io.stderr(`${colours(io, 'stderr').cyan('notice:')} ${describeAuditEvent(event)}\n`);
        else if (event.action === 'rollback' || event.action === 'promote' || event.action === 'step') decisions.push(event);
      }
    },
  });
  if (decisions.length > 0) await announce(project, decisions, io);
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
      colours(io),
    ),
  );
  return 0;
}
