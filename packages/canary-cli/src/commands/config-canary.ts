import { BernsteinError } from '@bernstein/store';
import { describeAuditEvent } from '@bernstein/canary-router';
import { canaryRole, promoteCanary, rollbackCanary, startCanaryOfVersion, type LifecycleResult } from '@bernstein/rollout';
import { announce } from '../announce.js';
import { printJson, type GlobalOptions, type Io } from '../output.js';
import { openCheckedProject } from '../project.js';
import { parsePercentage, parsePolicy, parseSteps } from '../parse.js';

export interface ConfigCanaryOptions {
  promptVersion?: string;
  role?: string;
  model?: string;
  percentage?: string;
  steps?: string;
  policy?: string;
  promote?: boolean;
  rollback?: boolean;
  reason?: string;
}

export async function configCanary(global: GlobalOptions, options: ConfigCanaryOptions, io: Io): Promise<number> {
  // Validate every argument before touching the project: a failed command changes nothing.
  const percentage = options.percentage === undefined ? undefined : parsePercentage(options.percentage);
  const steps = options.steps === undefined ? undefined : parseSteps(options.steps);
  const policy = options.policy === undefined ? undefined : parsePolicy(options.policy);
  const modes = [options.promote && '--promote', options.rollback && '--rollback', options.promptVersion !== undefined && '--prompt-version'].filter(Boolean);
  if (modes.length > 1) throw new BernsteinError('INVALID_ARGUMENT', `${modes.join(' and ')} cannot be combined`);
  if (options.reason !== undefined && !options.rollback && !options.promote) throw new BernsteinError('INVALID_ARGUMENT', '--reason goes with --promote or --rollback');
  if ((options.promote || options.rollback) && (percentage !== undefined || steps || policy || options.model !== undefined)) {
    throw new BernsteinError('INVALID_ARGUMENT', `${options.promote ? '--promote' : '--rollback'} takes only --role and --reason`);
  }
  if (options.model !== undefined && options.role === undefined) throw new BernsteinError('INVALID_ARGUMENT', '--model needs --role');
  if (options.model !== undefined && !/^[\w.:/@+-]{1,200}$/.test(options.model)) throw new BernsteinError('INVALID_ARGUMENT', `--model: invalid model name "${options.model}"`);
  if (steps && percentage !== undefined && steps[0] !== percentage) {
    throw new BernsteinError('INVALID_ARGUMENT', `--percentage ${percentage} disagrees with the first step ${steps[0]}; leave --percentage out with --steps`);
  }

  const project = await openCheckedProject(global.dir, global);
  const start = { ...(percentage !== undefined ? { percentage } : {}), ...(steps ? { steps } : {}), ...(policy ? { policy } : {}) };
  const needPercentage = () => {
    if (percentage === undefined && !steps) throw new BernsteinError('INVALID_ARGUMENT', 'give --percentage <n> (or --steps)');
  };
  // The command was issued when this process started: a canary changed by someone else since
  // then is a conflict, not something to act on.
  const issuedAt = new Date(Math.floor(performance.timeOrigin));
  let result: LifecycleResult;
  if (options.promote) {
    result = await promoteCanary(project, { issuedAt, ...(options.role !== undefined ? { role: options.role } : {}) });
  } else if (options.rollback) {
    result = await rollbackCanary(project, {
      issuedAt,
      ...(options.role !== undefined ? { role: options.role } : {}),
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
    });
  } else if (options.promptVersion !== undefined) {
    if (options.role !== undefined || options.model !== undefined) throw new BernsteinError('INVALID_ARGUMENT', '--prompt-version takes the role of the version; leave out --role and --model');
    needPercentage();
    result = await startCanaryOfVersion(project, options.promptVersion, start);
  } else if (options.role !== undefined) {
    needPercentage();
    result = await canaryRole(project, options.role, { ...start, ...(options.model !== undefined ? { model: options.model } : {}) });
  } else {
    throw new BernsteinError('INVALID_ARGUMENT', 'say what to do: --prompt-version <id>, --role <role>, --promote or --rollback (see --help)');
  }

  for (const event of result.events) if (!global.json) io.stdout(`${describeAuditEvent(event)}\n`);
  // Promotions and rollbacks alert, whoever made them.
  const alertable = result.events.filter((e) => e.action === 'promote' || e.action === 'rollback' || e.action === 'instant-rollback');
  const alerts = await announce(project, alertable, io);
  if (global.json) printJson(io, { events: result.events, alerts });
  return 0;
}
