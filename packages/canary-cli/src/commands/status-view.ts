import type { RoleStatus } from '@bernstein/rollout';
import { table } from '../output.js';

/**
 * One role as `canary status --json` prints it (SPEC key names), and what the memo stores. A
 * type-only import: this module is on the start-up fast path and loads no library code.
 */
export type RoleView = RoleStatus;

const pct = (passed: number, tasks: number) => (tasks === 0 ? '-' : `${Math.round((passed / tasks) * 100)} %`);

function interval(evidence: unknown, arm: 'stable' | 'canary'): string {
  const value = (evidence as Record<string, { interval?: [number, number] | null } | undefined> | undefined)?.[arm]?.interval;
  return value ? ` (95 % CI ${Math.round(value[0] * 100)}-${Math.round(value[1] * 100)} %)` : '';
}

export function humanRole(role: RoleView): string {
  const lines = [`${role.role}: stable ${role.stableVersion ?? '-'}${role.rejected.length ? `  (rejected: ${role.rejected.join(', ')})` : ''}`];
  const canary = role.canary;
  if (!canary) {
    const s = role.stableOutcomes;
    lines.push(`  no canary; stable ${s.passed}/${s.tasks} passed ${pct(s.passed, s.tasks)}`);
    return `${lines.join('\n')}\n\n`;
  }
  const step = canary.step !== null ? ` · step ${canary.step}/${canary.steps.length} (${canary.steps.join(' → ')} %)` : '';
  lines.push(`  canary ${canary.id}: version ${canary.versionId} at ${canary.percentage} %${step} · policy ${canary.policy} · since ${canary.startedAt}`);
  const evidence = canary.decision.evidence as Record<string, unknown> | undefined;
  lines.push(
    table([
      ['  stable', `${canary.stable.passed}/${canary.stable.tasks} passed`, `${pct(canary.stable.passed, canary.stable.tasks)}${interval(evidence, 'stable')}`],
      ['  canary', `${canary.canary.passed}/${canary.canary.tasks} passed`, `${pct(canary.canary.passed, canary.canary.tasks)}${interval(evidence, 'canary')}`],
    ]).trimEnd(),
  );
  lines.push(`  decision: ${canary.decision.action} (${canary.decision.rule}): ${canary.decision.reason}`);
  const needed = evidence?.tasksNeeded;
  if (canary.decision.action === 'continue' && typeof needed === 'number') lines.push(`  estimate: about ${needed} more canary outcomes before a decision`);
  return `${lines.join('\n')}\n\n`;
}

export const NO_ROLES_TEXT = 'no roles routed yet: run `bernstein canary route --role <role> --task <id>` or `bernstein versions scan`\n';
