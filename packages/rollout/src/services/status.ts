import type { Canary, RoleState } from '@bernstein/canary-router';
import { windowStats, type ArmStats, type Decision, type Policy } from '@bernstein/quality-compare';
import { roleAggregateKey } from '../core/aggregate.js';
import type { Rollout } from '../rollout.js';
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
}

export async function canaryStatus(rollout: Rollout, options: { role?: string } = {}): Promise<{ roles: RoleStatus[]; warnings: string[] }> {
  const [config, state, { aggregates, warnings }] = await Promise.all([rollout.config(), rollout.store.loadState(), rollout.store.aggregates()]);
  const roles: RoleStatus[] = [];
  for (const [role, roleState] of Object.entries(state.roles).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (options.role !== undefined && role !== options.role) continue;
    roles.push(roleStatus(role, roleState, aggregates, (canary) => ({ decision: evaluateCanary(config, canary, aggregates), policy: decisionSettings(config, canary).policy })));
  }
  return { roles, warnings };
}

function roleStatus(
  role: string,
  roleState: RoleState,
  aggregates: Aggregates,
  judge: (canary: Canary) => { decision: Decision; policy: Policy },
): RoleStatus {
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
