import type { RouteResult } from '@bernstein/rollout';

/** One task as an executor sees it: the route result and the prompt rendered for the task. */
export interface AgentTask {
  taskId: string;
  role: string;
  title: string;
  /** The scenario phase that queued the task. */
  phase: string;
  route: RouteResult;
  prompt: string;
}

/** What the quality gates said, in the shape `recordOutcomes` takes. */
export interface AgentResult {
  passed: boolean;
  gates: Record<string, boolean>;
  costUsd?: number;
  durationMs: number;
  /** Why it failed when no gate says so (agent exit code, timeout, interrupted). */
  note?: string;
  /** Cut short by a shutdown: recorded as failed. */
  interrupted?: boolean;
}

/** Runs one task's agent and its quality gates. */
export interface Executor {
  readonly kind: 'simulated' | 'process';
  /** One line for the terminal: what runs the agents. */
  describe(): string;
  /** Never rejects for a failing agent or gate: that is a failed result. `signal` aborts the task. */
  run(task: AgentTask, signal: AbortSignal): Promise<AgentResult>;
}
