import type { AuditEvent, Canary, RoleState } from '@bernstein/canary-router';
import type { ArmStats, AttritionEvidence, Decision, Policy, StratumEvidence } from '@bernstein/quality-compare';
import { roleAggregateKey } from '../core/aggregate.js';
import type { Rollout } from '../rollout.js';
import { inspectDisk, type DiskView } from './disk.js';
import { decisionSettings, evaluateCanary, type Aggregates } from './evaluate.js';

export interface ArmCounts {
  tasks: number;
  passed: number;
}

/** One arm in one epoch: routed, still awaiting an outcome, timed out (counted as failed), late, and the counted outcomes. */
export interface EpochArmStatus extends ArmCounts {
  assigned: number;
  awaiting: number;
  timedOut: number;
  late: number;
}

/** One epoch of a running canary (a period at one percentage), compared within itself. */
export interface EpochStatus {
  epoch: number;
  percentage: number;
  startedAt: string;
  stable: EpochArmStatus;
  canary: EpochArmStatus;
  /** canary pass rate - stable pass rate within the epoch (null without counted outcomes on both arms) */
  difference: number | null;
  /** Sample ratio mismatch on this epoch's assignments (epochs at one percentage are tested together); null before any. */
  srm: { pValue: number; expectedShare: number; observedShare: number; holding: boolean } | null;
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
    /** Counted outcomes over every epoch (timeouts as failures; see the judge's routing-order prefix). */
    stable: ArmCounts;
    canary: ArmCounts;
    /** Routed tasks still awaiting an outcome, per arm (they count as failed after canary.outcome_timeout). */
    awaiting: { stable: number; canary: number };
    /** Per epoch, oldest first: the evidence of each, with its SRM check; `stable` / `canary` above combine them. */
    epochs: EpochStatus[];
    /** Timeouts per arm and whether one arm loses outcomes more than the other; null before any assignment. */
    attrition: AttritionEvidence | null;
    /** Counted outcomes per stratum, when routed tasks carry one (`canary route --stratum`); [] otherwise. */
    strata: StratumEvidence[];
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
  const { decision, policy } = judge(canary);
  const evidence = decision.evidence;
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
      stable: { tasks: evidence.stable.tasks, passed: evidence.stable.passed },
      canary: { tasks: evidence.canary.tasks, passed: evidence.canary.passed },
      awaiting: evidence.awaiting ?? { stable: 0, canary: 0 },
      epochs: epochStatuses(canary, decision),
      attrition: evidence.attrition ?? null,
      strata: evidence.strata ?? [],
      decision: { action: decision.action, reason: decision.reason, rule: decision.rule, evidence },
    },
  };
}

/** The judge's per-epoch evidence with each epoch's start and SRM group. */
function epochStatuses(canary: Canary, decision: Decision): EpochStatus[] {
  const groups = decision.evidence.srm?.groups ?? [];
  const byEpoch = new Map((decision.evidence.epochs ?? []).map((e) => [e.epoch, e]));
  const arm = (e: { assigned: number; awaiting: number; timedOut: number; late: number; tasks: number; passed: number } | undefined): EpochArmStatus => ({
    assigned: e?.assigned ?? 0,
    awaiting: e?.awaiting ?? 0,
    timedOut: e?.timedOut ?? 0,
    late: e?.late ?? 0,
    tasks: e?.tasks ?? 0,
    passed: e?.passed ?? 0,
  });
  return canary.epochs.map((e) => {
    const found = byEpoch.get(e.epoch);
    const group = groups.find((g) => g.epochs.includes(e.epoch));
    const srm = group ? { pValue: group.pValue, expectedShare: group.percentage / 100, observedShare: group.total > 0 ? group.canary / group.total : 0, holding: group.holding } : null;
    return { epoch: e.epoch, percentage: e.percentage, startedAt: e.startedAt, stable: arm(found?.stable), canary: arm(found?.canary), difference: found?.difference ?? null, srm };
  });
}

function counts(arm: ArmStats | undefined): ArmCounts {
  return { tasks: arm?.tasks ?? 0, passed: arm?.passed ?? 0 };
}
