import type { AuditEvent, Canary, RoleState } from '@bernstein/canary-router';
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
  /**
   * The role's last ended canary: how it ended and the evidence it ended on (so that right after
   * a promotion or rollback, status shows that result rather than an empty stable arm).
   */
  lastCanary: LastCanary | null;
}

export interface LastCanary {
  id: string;
  versionId: string;
  result: 'promoted' | 'rolled back';
  at: string;
  actor: string;
  reason: string;
  /** Outcomes per arm at the decision (from its audit event), or null for a manual one without evidence. */
  stable: ArmCounts | null;
  canary: ArmCounts | null;
}

/** The last promote or rollback of a canary of `role` in the audit log, with its evidence counts. */
export function lastCanaryOf(events: readonly AuditEvent[], role: string): LastCanary | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.role !== role || e.canaryId === null || (e.action !== 'promote' && e.action !== 'rollback')) continue;
    const evidence = (e.evidence ?? {}) as Record<string, unknown>;
    const arm = (value: unknown): ArmCounts | null => {
      const v = value as { tasks?: unknown; passed?: unknown } | null | undefined;
      return v && typeof v.tasks === 'number' && typeof v.passed === 'number' ? { tasks: v.tasks, passed: v.passed } : null;
    };
    return {
      id: e.canaryId,
      versionId: (e.action === 'promote' ? e.to : e.from) ?? '',
      result: e.action === 'promote' ? 'promoted' : 'rolled back',
      at: e.at,
      actor: e.actor,
      reason: e.reason,
      stable: arm(evidence.stable),
      canary: arm(evidence.canary),
    };
  }
  return null;
}

/**
 * Every role's status. `diskInputs` lists the paths the `disk` entries were read from (null when
 * some could not be read), so a cache of the result can tell when the files on disk changed.
 */
export async function canaryStatus(
  rollout: Rollout,
  options: { role?: string } = {},
): Promise<{ roles: RoleStatus[]; warnings: string[]; diskInputs: string[] | null }> {
  const [config, state, { aggregates, warnings }, audit] = await Promise.all([
    rollout.config(),
    rollout.store.loadState(),
    rollout.store.aggregates(),
    rollout.store.readAudit(options.role === undefined ? {} : { role: options.role }),
  ]);
  const roles: RoleStatus[] = [];
  let diskInputs: string[] | null = [];
  for (const [role, roleState] of Object.entries(state.roles).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (options.role !== undefined && role !== options.role) continue;
    const disk = await inspectDisk(rollout, role, roleState, state.disk?.[role]);
    diskInputs = disk.inputs && diskInputs ? [...diskInputs, ...disk.inputs] : null;
    const status = roleStatus(role, roleState, aggregates, (canary) => ({ decision: evaluateCanary(config, canary, aggregates), policy: decisionSettings(config, canary).policy }));
    roles.push({ ...status, disk: disk.view, lastCanary: lastCanaryOf(audit.events, role) });
  }
  return { roles, warnings: [...warnings, ...audit.warnings], diskInputs };
}

function roleStatus(
  role: string,
  roleState: RoleState,
  aggregates: Aggregates,
  judge: (canary: Canary) => { decision: Decision; policy: Policy },
): Omit<RoleStatus, 'disk' | 'lastCanary'> {
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
