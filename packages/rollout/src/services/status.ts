import type { Canary, RoleState } from '@bernstein/canary-router';
import { windowStats, type ArmStats, type Decision, type Policy } from '@bernstein/quality-compare';
import { roleAggregateKey } from '../core/aggregate.js';
import type { Rollout } from '../rollout.js';
import { inspectDisk, type DiskView } from './disk.js';
import { canaryWindow, decisionSettings, evaluateCanary, type Aggregates } from './evaluate.js';

export interface ArmCounts {
  tasks: number;
  passed: number;
}

/** One role in `bernstein canary status --json` (names fixed by the SPEC). */
export interface RoleStatus {
  role: string;
  stableVersion: string | null;
  canary: null | {
    id: string;
    versionId: string;
    percentage: number;
    policy: Policy;
    steps: number[];
    /** 1-based step number, or null without a ramp. */
    step: number | null;
    startedAt: string;
    stable: ArmCounts;
    canary: ArmCounts;
    decision: Pick<Decision, 'action' | 'reason' | 'rule' | 'evidence'>;
  };
  /** Outcomes of the stable version outside any canary window (for context). */
  stableOutcomes: ArmCounts;
  rejected: string[];
  /** The role's files on disk against what is served (SPEC, Routing rules 7 and 8). */
  disk: DiskView;
}

/**
 * Every role's status. `diskInputs` lists the paths the `disk` entries were read from (null when
 * some could not be read), so a cache of the result can tell when the files on disk changed.
 */
export async function canaryStatus(
  rollout: Rollout,
  options: { role?: string } = {},
): Promise<{ roles: RoleStatus[]; warnings: string[]; diskInputs: string[] | null }> {
  const [config, state, { aggregates, warnings }] = await Promise.all([rollout.config(), rollout.store.loadState(), rollout.store.aggregates()]);
  const roles: RoleStatus[] = [];
  let diskInputs: string[] | null = [];
  for (const [role, roleState] of Object.entries(state.roles).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (options.role !== undefined && role !== options.role) continue;
    const disk = await inspectDisk(rollout, role, roleState, state.disk?.[role]);
    diskInputs = disk.inputs && diskInputs ? [...diskInputs, ...disk.inputs] : null;
    roles.push({
      ...roleStatus(role, roleState, aggregates, (canary) => ({ decision: evaluateCanary(config, canary, aggregates), policy: decisionSettings(config, canary).policy })),
      disk: disk.view,
    });
  }
  return { roles, warnings, diskInputs };
}

function roleStatus(
  role: string,
  roleState: RoleState,
  aggregates: Aggregates,
  judge: (canary: Canary) => { decision: Decision; policy: Policy },
): Omit<RoleStatus, 'disk'> {
  const stableArm = roleState.stable ? aggregates.get(roleAggregateKey(role))?.versions[roleState.stable] : undefined;
  const base = { role, stableVersion: roleState.stable, stableOutcomes: counts(stableArm), rejected: roleState.rejected };
  const canary = roleState.canary;
  if (!canary) return { ...base, canary: null };
  const window = windowStats(canaryWindow(aggregates, canary));
  const { decision, policy } = judge(canary);
  return {
    ...base,
    canary: {
      id: canary.id,
      versionId: canary.versionId,
      percentage: canary.percentage,
      policy,
      steps: canary.steps,
      step: canary.steps.length > 0 ? canary.stepIndex + 1 : null,
      startedAt: canary.startedAt,
      stable: counts(window.stable),
      canary: counts(window.canary),
      decision: { action: decision.action, reason: decision.reason, rule: decision.rule, evidence: decision.evidence },
    },
  };
}

function counts(arm: ArmStats | undefined): ArmCounts {
  return { tasks: arm?.tasks ?? 0, passed: arm?.passed ?? 0 };
}
