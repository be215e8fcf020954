import { emptyArmStats } from './stats.js';
import type { ArmStats, DecisionSettings, EpochStats } from './types.js';

/** Test helper: an arm with only pass counts. */
export function arm(passed: number, tasks: number, extra: Partial<ArmStats> = {}): ArmStats {
  return { ...emptyArmStats(), tasks, passed, ...extra };
}

/** Test helper: a one-epoch window. */
export function window(canary: ArmStats, stable: ArmStats, percentage = 20): EpochStats[] {
  return [{ percentage, stable, canary }];
}

/** Counts for a window whose canary share matches `percentage` closely (no SRM). */
export function settings(overrides: Partial<DecisionSettings> = {}): DecisionSettings {
  return { policy: 'sequential', minCanaryTasks: 10, rollbackMargin: 0.1, guardrails: { costUsd: null, durationMs: null }, ...overrides };
}
