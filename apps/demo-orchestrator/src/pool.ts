import type { RouteResult, SkippedLine } from '@bernstein/rollout';
import type { AgentResult, Executor } from './executors/types.js';
import { renderPrompt } from './prompt.js';
import type { Toolkit } from './toolkit.js';

/** A task in the queue. */
export interface TaskSpec {
  taskId: string;
  role: string;
  title: string;
  phase: string;
}

/** Where workers take their next task from; null means "no more tasks". */
export interface TaskSource {
  next(): TaskSpec | null;
}

export interface CompletedTask {
  task: TaskSpec;
  route: RouteResult;
  result: AgentResult;
  /** False when the toolkit refused the outcome (reported in `skipped`). */
  recorded: boolean;
  skipped?: SkippedLine;
}

export interface PoolOptions {
  toolkit: Toolkit;
  executor: Executor;
  concurrency: number;
  onTaskStart?: (task: TaskSpec) => void;
  onTaskDone?: (done: CompletedTask) => void;
}

export interface PoolRun {
  started: number;
  completed: number;
  /** The run stopped early: stop() was called. */
  stopped: boolean;
}

/**
 * A pool of workers over a task source. Each task goes through the pipeline: route (which version
 * runs it) -> render the role's prompt from the version's files -> run the agent and its quality
 * gates -> record the outcome (the toolkit evaluates the canary and applies any decision).
 *
 * `stop()`: workers take no new task; tasks in flight finish and are recorded. `abort()`: tasks in
 * flight are cut short (their agents are killed) and recorded as failed. Either way every task that
 * was routed gets exactly one outcome, unless the toolkit itself fails (then the run rejects).
 */
export class WorkerPool {
  private stopping = false;
  private readonly abortController = new AbortController();
  private inFlight_ = 0;

  constructor(private readonly options: PoolOptions) {}

  get inFlight(): number {
    return this.inFlight_;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  stop(): void {
    this.stopping = true;
  }

  abort(): void {
    this.stopping = true;
    this.abortController.abort();
  }

  async run(source: TaskSource): Promise<PoolRun> {
    const stats: PoolRun = { started: 0, completed: 0, stopped: false };
    let fatal: { error: unknown } | undefined;
    const worker = async () => {
      while (!this.stopping && fatal === undefined) {
        const task = source.next();
        if (task === null) return;
        stats.started += 1;
        this.inFlight_ += 1;
        try {
          await this.runTask(task);
          stats.completed += 1;
        } catch (error) {
          fatal ??= { error };
        } finally {
          this.inFlight_ -= 1;
        }
      }
    };
    const workers = Array.from({ length: Math.max(1, this.options.concurrency) }, () => worker());
    await Promise.all(workers);
    if (fatal !== undefined) throw fatal.error;
    stats.stopped = this.stopping;
    return stats;
  }

  private async runTask(task: TaskSpec): Promise<void> {
    const { toolkit, executor } = this.options;
    this.options.onTaskStart?.(task);
    const route = await toolkit.route(task.role, task.taskId);
    const prompt = renderPrompt(route.files, { task: task.taskId, title: task.title, role: task.role });
    let result: AgentResult;
    try {
      result = await executor.run({ taskId: task.taskId, role: task.role, title: task.title, phase: task.phase, route, prompt }, this.abortController.signal);
    } catch (error) {
      // An executor bug or an I/O error (e.g. the disk is full): the task failed, the run goes on.
      result = { passed: false, gates: {}, durationMs: 0, note: `executor error: ${(error as Error).message}` };
    }
    const recorded = await toolkit.record({
      taskId: task.taskId,
      passed: result.passed,
      ...(Object.keys(result.gates).length > 0 ? { gates: result.gates } : {}),
      ...(result.costUsd !== undefined ? { costUsd: result.costUsd } : {}),
      durationMs: result.durationMs,
    });
    this.options.onTaskDone?.({ task, route, result, recorded: recorded.recorded, ...(recorded.skipped ? { skipped: recorded.skipped } : {}) });
  }
}
