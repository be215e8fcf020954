import { spawn } from 'node:child_process';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modelName } from '../prompt.js';
import type { AgentResult, AgentTask, Executor } from './types.js';

export interface ProcessExecutorOptions {
  /** Shell command that runs the agent, in the task's working folder. */
  agentCmd: string;
  /** Quality-gate shell commands, run in order in the same folder; all must exit 0. */
  gates: readonly string[];
  /** Parent of the per-task working folders. */
  runsDir: string;
  /** Agent plus gates, per task; running out counts as a failure. */
  timeoutMs: number;
}

export interface CommandResult {
  ok: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  ms: number;
}

/** Grace period between SIGTERM and SIGKILL when a command is stopped. */
const KILL_GRACE_MS = 2000;

/** A folder name for a task id (ids are free text). */
export function taskFolderName(taskId: string): string {
  const safe = taskId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  return safe === '' || safe === '.' || safe === '..' ? `task_${Buffer.from(taskId).toString('hex').slice(0, 32)}` : safe;
}

/** A gate's name in the ledger: its command, shortened; duplicates get a suffix. */
export function gateNames(commands: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return commands.map((command) => {
    let name = command.trim().replace(/\s+/g, ' ');
    if (name.length > 100) name = `${name.slice(0, 99)}…`;
    if (name === '') name = 'gate';
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count > 1 ? `${name} #${count}` : name;
  });
}

/**
 * Run a shell command in its own process group (so a timeout or an abort stops everything it
 * started, and a Ctrl-C in the terminal reaches the orchestrator, not the agents), with stdout and
 * stderr appended to `logFile`.
 */
export async function runCommand(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; signal: AbortSignal; logFile: string },
): Promise<CommandResult> {
  const started = Date.now();
  if (options.signal.aborted) return { ok: false, code: null, signal: null, timedOut: false, aborted: true, ms: 0 };
  if (options.timeoutMs <= 0) return { ok: false, code: null, signal: null, timedOut: true, aborted: false, ms: 0 };
  const log = await open(options.logFile, 'a');
  try {
    await log.write(`$ ${command}\n`);
    return await new Promise<CommandResult>((resolve) => {
      let timedOut = false;
      let aborted = false;
      let killTimer: NodeJS.Timeout | undefined;
      const child = spawn('/bin/sh', ['-c', command], { cwd: options.cwd, env: options.env, stdio: ['ignore', log.fd, log.fd], detached: true });
      const stop = () => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const kill = (sig: NodeJS.Signals) => {
          try {
            process.kill(-child.pid!, sig);
          } catch {
            // already gone
          }
        };
        kill('SIGTERM');
        killTimer = setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        stop();
      }, options.timeoutMs);
      const onAbort = () => {
        aborted = true;
        stop();
      };
      options.signal.addEventListener('abort', onAbort, { once: true });
      const finish = (result: Omit<CommandResult, 'ms' | 'timedOut' | 'aborted'>) => {
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        options.signal.removeEventListener('abort', onAbort);
        resolve({ ...result, ok: result.ok && !timedOut && !aborted, timedOut, aborted, ms: Date.now() - started });
      };
      child.once('error', (error) => {
        void log.write(`error: ${error.message}\n`).catch(() => undefined);
        finish({ ok: false, code: null, signal: null });
      });
      child.once('exit', (code, signal) => finish({ ok: code === 0, code, signal }));
    });
  } finally {
    await log.close();
  }
}

/**
 * Real agents: each task gets its own working folder `<runsDir>/<task id>/` with the rendered
 * prompt in PROMPT.md; the agent command runs there with the BERNSTEIN_* variables set, then each
 * gate command. The task passes when the agent and every gate exit 0 within the time limit.
 */
export class ProcessExecutor implements Executor {
  readonly kind = 'process' as const;
  private readonly names: string[];

  constructor(private readonly options: ProcessExecutorOptions) {
    this.names = gateNames(options.gates);
  }

  describe(): string {
    const gates = this.options.gates.length ? this.options.gates.map((g) => `\`${g}\``).join(', ') : 'none (the agent\'s exit code decides)';
    return `REAL agents: \`${this.options.agentCmd}\` per task in ${this.options.runsDir}/<task>/; gates: ${gates}; timeout ${this.options.timeoutMs} ms per task`;
  }

  async run(task: AgentTask, signal: AbortSignal): Promise<AgentResult> {
    const started = Date.now();
    const deadline = started + this.options.timeoutMs;
    const dir = join(this.options.runsDir, taskFolderName(task.taskId));
    await mkdir(dir, { recursive: true });
    const promptFile = join(dir, 'PROMPT.md');
    await writeFile(promptFile, task.prompt);
    await writeFile(
      join(dir, 'TASK.json'),
      `${JSON.stringify({ taskId: task.taskId, title: task.title, role: task.role, arm: task.route.arm, versionId: task.route.versionId, canaryId: task.route.canaryId, model: task.route.model }, null, 2)}\n`,
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BERNSTEIN_TASK_ID: task.taskId,
      BERNSTEIN_TASK_TITLE: task.title,
      BERNSTEIN_ROLE: task.role,
      BERNSTEIN_VERSION_ID: task.route.versionId,
      BERNSTEIN_ARM: task.route.arm,
      BERNSTEIN_CANARY_ID: task.route.canaryId ?? '',
      BERNSTEIN_PROMPT_FILE: promptFile,
      BERNSTEIN_MODEL: modelName(task.route.model) ?? '',
    };
    const logFile = join(dir, 'run.log');
    const agent = await runCommand(this.options.agentCmd, { cwd: dir, env, timeoutMs: deadline - Date.now(), signal, logFile });
    if (!agent.ok) {
      const note = agent.aborted ? 'interrupted' : agent.timedOut ? `agent timed out after ${this.options.timeoutMs} ms` : `agent exited with ${agent.signal ?? `code ${agent.code}`}`;
      return { passed: false, gates: {}, durationMs: Date.now() - started, note, ...(agent.aborted ? { interrupted: true } : {}) };
    }
    const gates: Record<string, boolean> = {};
    let note: string | undefined;
    let interrupted = false;
    for (let i = 0; i < this.options.gates.length; i++) {
      const name = this.names[i]!;
      if (note !== undefined) {
        gates[name] = false;
        continue;
      }
      const result = await runCommand(this.options.gates[i]!, { cwd: dir, env, timeoutMs: deadline - Date.now(), signal, logFile });
      gates[name] = result.ok;
      if (result.aborted) {
        note = 'interrupted';
        interrupted = true;
      } else if (result.timedOut) note = `gate \`${name}\` timed out (task limit ${this.options.timeoutMs} ms)`;
    }
    const passed = Object.values(gates).every(Boolean) && note === undefined;
    return { passed, gates, durationMs: Date.now() - started, ...(note !== undefined ? { note } : {}), ...(interrupted ? { interrupted } : {}) };
  }
}
