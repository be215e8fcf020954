import type { RoleStatus } from '@bernstein/rollout';
import { table, type Colours } from '../output.js';

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

const DISK_TEXT: Record<RoleView['disk']['state'], string> = {
  stable: 'matches stable',
  canary: 'matches the canary',
  pending: 'changed: the next route releases it or starts a canary (canary_percentage)',
  'moved-on': 'matches neither arm: it is handled when the canary ends',
  rejected: 'a rolled-back (rejected) version: not used again automatically',
  superseded: 'already acted on; a command changed stable since: the next edit is acted on',
  invalid: 'cannot be read: serving from the registry until the files are valid',
  missing: 'the role folder is missing: serving from the registry',
  empty: 'the role folder is empty: serving from the registry',
};

function modelName(model: Record<string, unknown>): string {
  return typeof model.default_model === 'string' ? model.default_model : JSON.stringify(model);
}

/** The `disk` line(s): only when disk says something beyond "matches stable". */
function diskLines(role: RoleView): string[] {
  const disk = role.disk;
  if (!disk) return [];
  const lines: string[] = [];
  if (disk.state !== 'stable') lines.push(`  disk: ${disk.versionId ?? '-'} ${DISK_TEXT[disk.state]}${disk.error ? `\n    ${disk.error}` : ''}`);
  if (disk.model) {
    lines.push(`  disk: model config on disk (${modelName(disk.model.disk)}) differs from the serving model (${modelName(disk.model.serving)}); \`bernstein config sync-model --role ${role.role}\` writes the serving model to disk`);
  }
  return lines;
}

const plain = (text: string) => text;
const NO_COLOURS = { bold: plain, green: plain, red: plain, yellow: plain } as Pick<Colours, 'bold' | 'green' | 'red' | 'yellow'>;

export function humanRole(role: RoleView, c: Pick<Colours, 'bold' | 'green' | 'red' | 'yellow'> = NO_COLOURS): string {
  const lines = [`${c.bold(role.role)}: stable ${role.stableVersion ?? '-'}${role.rejected.length ? `  (rejected: ${role.rejected.join(', ')})` : ''}`, ...diskLines(role)];
  const canary = role.canary;
  if (!canary) {
    const s = role.stableOutcomes;
    lines.push(
      `  no canary; stable ${s.tasks === 0 ? `has no outcomes outside a canary yet (route its tasks: \`bernstein canary route --role ${role.role} --task <id>\`)` : `${s.passed}/${s.tasks} passed ${pct(s.passed, s.tasks)}`}`,
    );
    const last = role.lastCanary;
    if (last) {
      const result = last.result === 'promoted' ? c.green('promoted') : c.red('rolled back');
      lines.push(`  last canary ${last.id}: version ${last.versionId} ${result} ${last.at} (${last.actor}): ${last.reason}`);
      if (last.stable && last.canary) {
        lines.push(
          table([
            ['  stable', `${last.stable.passed}/${last.stable.tasks} passed`, pct(last.stable.passed, last.stable.tasks)],
            ['  canary', `${last.canary.passed}/${last.canary.tasks} passed`, pct(last.canary.passed, last.canary.tasks)],
          ]).trimEnd(),
        );
      }
    }
    return `${lines.join('\n')}\n\n`;
  }
  const step = canary.step !== null ? ` · step ${canary.step}/${canary.steps.length} (${canary.steps.join(' → ')} %)` : '';
  lines.push(`  canary ${canary.id}: version ${canary.versionId} at ${canary.percentage} %${step} · policy ${canary.policy} · since ${canary.startedAt}`);
  const evidence = canary.decision.evidence as Record<string, unknown> | undefined;
  // Older memos (and callers) may lack the per-epoch fields: show what is there.
  const awaiting = canary.awaiting ?? { stable: 0, canary: 0 };
  const epochs = canary.epochs ?? [];
  const waitingText = (n: number) => (n > 0 ? `${n} awaiting an outcome` : '');
  lines.push(
    table([
      ['  stable', `${canary.stable.passed}/${canary.stable.tasks} passed`, `${pct(canary.stable.passed, canary.stable.tasks)}${interval(evidence, 'stable')}`, waitingText(awaiting.stable)],
      ['  canary', `${canary.canary.passed}/${canary.canary.tasks} passed`, `${pct(canary.canary.passed, canary.canary.tasks)}${interval(evidence, 'canary')}`, waitingText(awaiting.canary)],
    ]).trimEnd(),
  );
  if (epochs.length > 1 || epochs.some((e) => e.stable.timedOut + e.canary.timedOut + e.stable.late + e.canary.late > 0)) {
    // Each epoch is compared within itself; the lines above combine them.
    const side = (a: (typeof epochs)[number]['stable']) =>
      `${a.passed}/${a.tasks}${[a.awaiting ? `${a.awaiting} awaiting` : '', a.timedOut ? `${a.timedOut} timed out` : '', a.late ? `${a.late} late` : ''].filter(Boolean).map((x) => `, ${x}`).join('')}`;
    lines.push(
      table(
        epochs.map((e) => [
          `    epoch ${e.epoch}`,
          `${e.percentage} %`,
          `stable ${side(e.stable)}`,
          `canary ${side(e.canary)}`,
          e.srm ? `SRM p ${e.srm.pValue < 0.001 ? e.srm.pValue.toExponential(1) : e.srm.pValue.toFixed(3)}${e.srm.holding ? ' (holding promotion)' : ''}` : '',
        ]),
      ).trimEnd(),
    );
  }
  const attrition = canary.attrition;
  if (attrition && attrition.stable.timedOut + attrition.canary.timedOut > 0) {
    const share = (x: number | null) => (x === null ? '-' : `${Math.round(x * 1000) / 10} %`);
    lines.push(
      `  timeouts: stable ${attrition.stable.timedOut}/${attrition.stable.assigned} (${share(attrition.stable.share)}), canary ${attrition.canary.timedOut}/${attrition.canary.assigned} (${share(attrition.canary.share)})` +
        `${attrition.differential ? c.red(` · differential attrition (p = ${attrition.pValue.toFixed(4)}): one arm loses outcomes more than the other`) : ''}`,
    );
  }
  const strata = canary.strata ?? [];
  if (strata.length > 0) {
    lines.push(`  strata: ${strata.map((st) => `${st.stratum ?? '(none)'} stable ${st.stable.passed}/${st.stable.tasks}, canary ${st.canary.passed}/${st.canary.tasks}`).join(' · ')}`);
  }
  const action = canary.decision.action === 'promote' ? c.green('promote') : canary.decision.action === 'rollback' ? c.red('rollback') : c.yellow(canary.decision.action);
  lines.push(`  decision: ${action} (${canary.decision.rule}): ${canary.decision.reason}`);
  const needed = evidence?.tasksNeeded;
  if (canary.decision.action === 'continue' && typeof needed === 'number') lines.push(`  estimate: about ${needed} more canary outcomes before a decision`);
  return `${lines.join('\n')}\n\n`;
}

/**
 * What status says before any role has routing state. The advice depends on what was done
 * already, so it never sends the user back to a step they took (a scan registers versions but
 * does not route).
 */
export function noRolesText(registeredRoles: readonly string[]): string {
  if (registeredRoles.length === 0) {
    return 'no roles yet: run `bernstein versions scan` to register the role bundles, then `bernstein canary route --role <role> --task <id>`\n';
  }
  const first = registeredRoles[0]!;
  return (
    `${registeredRoles.length} role${registeredRoles.length === 1 ? '' : 's'} registered (${registeredRoles.join(', ')}), none routed yet: ` +
    `route a task with \`bernstein canary route --role ${first} --task <id>\`, or start a canary with \`bernstein config canary --role ${first} --percentage 20\`\n`
  );
}
