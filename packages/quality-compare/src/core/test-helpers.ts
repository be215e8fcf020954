import type { EpochConfig } from './decide.js';
import { emptyCanaryEvidence, type CanaryEvidence, type EvidenceCell } from './evidence.js';
import { emptyArmStats } from './stats.js';
import type { ArmStats, DecisionSettings } from './types.js';

/** Test helper: an arm with only pass counts. */
export function arm(passed: number, tasks: number, extra: Partial<ArmStats> = {}): ArmStats {
  return { ...emptyArmStats(), tasks, passed, ...extra };
}

export interface EpochArms {
  epoch?: number;
  percentage: number;
  stratum?: string | null;
  stable: ArmStats;
  canary: ArmStats;
}

/**
 * Test helper: the evidence of fully resolved epochs (every routed task has its outcome; the
 * arms' tasks are the assignments) and the epochs list for `decide`.
 */
export function evidenceOf(list: readonly EpochArms[]): [CanaryEvidence, EpochConfig[]] {
  const ev = emptyCanaryEvidence();
  const epochs = new Map<number, number>();
  list.forEach((e, i) => {
    const epoch = e.epoch ?? i;
    epochs.set(epoch, e.percentage);
    const gates: EvidenceCell['gates'] = {};
    for (const name of new Set([...Object.keys(e.stable.gates), ...Object.keys(e.canary.gates)])) {
      gates[name] = { stable: { ...(e.stable.gates[name] ?? { tasks: 0, passed: 0 }) }, canary: { ...(e.canary.gates[name] ?? { tasks: 0, passed: 0 }) } };
    }
    ev.cells.push({ epoch, stratum: e.stratum ?? null, stable: { tasks: e.stable.tasks, passed: e.stable.passed }, canary: { tasks: e.canary.tasks, passed: e.canary.passed }, gates });
    const slot = (ev.epochs[String(epoch)] ??= {
      stable: { assigned: 0, awaiting: 0, timedOut: 0, late: 0, unassigned: 0, outcomes: emptyArmStats() },
      canary: { assigned: 0, awaiting: 0, timedOut: 0, late: 0, unassigned: 0, outcomes: emptyArmStats() },
    });
    for (const a of ['stable', 'canary'] as const) {
      slot[a].assigned += e[a].tasks;
      slot[a].outcomes = { ...e[a] };
    }
  });
  return [ev, [...epochs.entries()].map(([epoch, percentage]) => ({ epoch, percentage }))];
}

/** Test helper: a one-epoch canary. */
export function window(canary: ArmStats, stable: ArmStats, percentage = 20): [CanaryEvidence, EpochConfig[]] {
  return evidenceOf([{ percentage, stable, canary }]);
}

/** A window whose configured percentage equals the observed share (no sample-ratio mismatch). */
export function fair(canary: ArmStats, stable: ArmStats): [CanaryEvidence, EpochConfig[]] {
  return window(canary, stable, (100 * canary.tasks) / Math.max(1, canary.tasks + stable.tasks));
}

export function settings(overrides: Partial<DecisionSettings> = {}): DecisionSettings {
  return { policy: 'sequential', minCanaryTasks: 10, rollbackMargin: 0.1, guardrails: { costUsd: null, durationMs: null }, ...overrides };
}
