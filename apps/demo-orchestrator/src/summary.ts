import type { ReportData, ReportMarker } from '@bernstein/rollout';
import { displayPath, percent, table, type Colors } from './output.js';
import type { StoryResult } from './story.js';

const time = (iso: string) => /T(\d{2}:\d{2}:\d{2})/.exec(iso)?.[1] ?? iso;
const ci = (i: [number, number] | null | undefined) => (i ? `, 95 % CI ${Math.round(i[0] * 100)}–${Math.round(i[1] * 100)} %` : '');

/** What became of each version: replay the audit events. */
function versionFates(data: ReportData): Map<string, string> {
  const stable = new Map<string, string>();
  const everStable = new Set<string>();
  const rejected = new Set<string>();
  const canaryOf = new Map<string, string>();
  for (const e of data.events) {
    if ((e.action === 'init' || e.action === 'promote' || e.action === 'release' || e.action === 'instant-rollback') && e.to) {
      stable.set(e.role, e.to);
      everStable.add(e.to);
      canaryOf.delete(e.role);
    }
    if ((e.action === 'rollback' || e.action === 'instant-rollback') && e.from) rejected.add(e.from);
    if (e.action === 'rollback') canaryOf.delete(e.role);
    if (e.action === 'start' && e.to) canaryOf.set(e.role, e.to);
    if (e.action === 'start' && e.to) rejected.delete(e.to);
  }
  const fates = new Map<string, string>();
  for (const role of data.roles) {
    for (const v of role.versions) {
      const fate =
        stable.get(role.role) === v.versionId
          ? everStable.has(v.versionId) && data.events.some((e) => e.action === 'promote' && e.to === v.versionId)
            ? 'stable (promoted)'
            : 'stable'
          : rejected.has(v.versionId)
            ? 'rejected (rolled back)'
            : canaryOf.get(role.role) === v.versionId
              ? 'canary (running)'
              : everStable.has(v.versionId)
                ? 'replaced'
                : '';
      fates.set(`${role.role}:${v.versionId}`, fate);
    }
  }
  return fates;
}

function decisionLines(marker: ReportMarker, role: string, afterTask: number | undefined, c: Colors): string[] {
  const e = marker.evidence;
  const what =
    marker.kind === 'step'
      ? `stepped ${marker.fromPercentage} → ${marker.toPercentage} %`
      : marker.kind === 'promote'
        ? `${c.green('promoted')} at ${marker.fromPercentage ?? '?'} %`
        : marker.kind === 'rollback'
          ? `${c.red('rolled back')} at ${marker.fromPercentage ?? '?'} %`
          : `${marker.kind} ${marker.fromPercentage ?? ''} → ${marker.toPercentage ?? ''} %`;
  const counts = e?.canary && e.stable ? ` after ${e.canary.tasks} canary / ${e.stable.tasks} stable outcomes` : '';
  const when = `${time(marker.at)}${afterTask !== undefined ? `, task #${afterTask}` : ''}, ${marker.actor}${marker.rule ? `, ${marker.rule}` : ''}`;
  const lines = [`  ${role.padEnd(9)} ${what}${counts} (${when})`];
  if (e?.canary && e.stable) {
    lines.push(
      c.dim(
        `  ${' '.repeat(9)}   canary ${e.canary.passed}/${e.canary.tasks} passed (${percent(e.canary.passed, e.canary.tasks)}${ci(e.canary.interval)}) vs stable ${e.stable.passed}/${e.stable.tasks} (${percent(e.stable.passed, e.stable.tasks)}${ci(e.stable.interval)})`,
      ),
    );
  }
  return lines;
}

/** The closing summary: per role its versions and arms, the decisions and when, where things are. */
export function formatSummary(result: StoryResult, data: ReportData | null, c: Colors): string[] {
  const lines: string[] = ['', c.bold('Summary')];
  if (data) {
    const fates = versionFates(data);
    const rows: string[][] = [['ROLE', 'VERSION', 'MODEL', 'NOW', 'AS STABLE', 'AS CANARY']];
    for (const role of data.roles) {
      role.versions.forEach((v, i) => {
        rows.push([
          i === 0 ? role.role : '',
          v.versionId,
          v.model ?? '–',
          fates.get(`${role.role}:${v.versionId}`) ?? '',
          v.stable.tasks ? `${v.stable.tasks} tasks, ${percent(v.stable.passed, v.stable.tasks)} passed` : '–',
          v.canary.tasks ? `${v.canary.tasks} tasks, ${percent(v.canary.passed, v.canary.tasks)} passed` : '–',
        ]);
      });
    }
    lines.push(...table(rows));
    const decisions = data.canaries.flatMap((canary) => {
      const phase = result.phases.find((p) => p.change?.canaryId === canary.canaryId);
      let step = 0;
      return canary.markers
        .filter((m) => m.kind === 'step' || m.kind === 'promote' || m.kind === 'rollback' || m.kind === 'percentage')
        .flatMap((m) => decisionLines(m, canary.role, m.kind === 'step' ? phase?.steps[step++]?.afterTask : m.kind === 'percentage' ? undefined : phase?.decision?.afterTask, c));
    });
    if (decisions.length > 0) lines.push('', c.bold('Decisions'), ...decisions);
  }
  lines.push('');
  const rel = displayPath;
  const workspace = rel(result.workspace);
  if (result.simulated) lines.push(c.magenta('Agents were simulated (pass probabilities from the scenario); routing, recording, decisions, alerts and the audit log were real.'));
  lines.push(`${result.tasks} tasks in ${(result.wallMs / 1000).toFixed(1)} s · seed ${result.seed} · alerts delivered: ${result.alerts} (${rel(result.alertsFile)})`);
  if (result.report) lines.push(`HTML report: ${c.bold(rel(result.report))}`);
  if (result.store === null) lines.push(`audit log:   pnpm bernstein canary history --dir ${workspace} --json`);
  else lines.push(`audit log:   pnpm bernstein canary history --dir ${workspace} --store <the same URL> --json   (the state is in ${result.store})`);
  for (const problem of result.problems) lines.push(c.red(`problem: ${problem}`));
  if (result.interrupted) lines.push(c.yellow('interrupted (Ctrl-C): stopped early; everything recorded so far is consistent'));
  return lines;
}
