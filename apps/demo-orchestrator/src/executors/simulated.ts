import { Rng } from '../prng.js';
import type { AgentResult, AgentTask, Executor } from './types.js';

/** The truth about one version, as the scenario defines it. */
export interface SimulatedVersion {
  passProbability: number;
  costUsd: number;
  durationMs: number;
}

export interface SimulatedExecutorOptions {
  seed: number;
  /** The version's true pass probability, cost and duration; called for every task. */
  versionTruth: (versionId: string, role: string) => SimulatedVersion;
  /** Real wall-clock time per task, a few ms at most, so that the worker pool interleaves. */
  latencyMs?: number;
}

/** Gates a failed task can fail, with their share of failures. */
const GATES = [
  { name: 'lint', weight: 0.2 },
  { name: 'typecheck', weight: 0.25 },
  { name: 'tests', weight: 0.55 },
] as const;

/**
 * Simulated agents: a task passes with its version's true probability, drawn from a generator
 * seeded by (seed, task id, version id), so a task's fate does not depend on scheduling. Failed
 * tasks fail one gate (tests most often) and sometimes another; cost and duration vary around the
 * version's typical values (log-normal).
 */
export class SimulatedExecutor implements Executor {
  readonly kind = 'simulated' as const;

  constructor(private readonly options: SimulatedExecutorOptions) {}

  describe(): string {
    return `SIMULATED agents: each version passes its quality gates with a probability set by the scenario (seed ${this.options.seed}); no model is called`;
  }

  async run(task: AgentTask, signal: AbortSignal): Promise<AgentResult> {
    const rng = Rng.of(this.options.seed, task.taskId, task.route.versionId);
    const truth = this.options.versionTruth(task.route.versionId, task.role);
    const latency = this.options.latencyMs ?? 1;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, rng.next() * latency));
    const passed = rng.next() < truth.passProbability;
    const gates: Record<string, boolean> = { lint: true, typecheck: true, tests: true };
    if (!passed) {
      const first = GATES[rng.weighted(GATES.map((g) => g.weight))]!.name;
      gates[first] = false;
      for (const gate of GATES) if (gate.name !== first && rng.next() < 0.2) gates[gate.name] = false;
    }
    const costUsd = Math.round(truth.costUsd * Math.exp(0.3 * rng.normal() - 0.045) * 10000) / 10000;
    const durationMs = Math.round(truth.durationMs * Math.exp(0.35 * rng.normal() - 0.06));
    if (signal.aborted) return { passed: false, gates: {}, durationMs, note: 'interrupted', interrupted: true };
    return { passed, gates, costUsd, durationMs };
  }
}
