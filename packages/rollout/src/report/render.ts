import type { CanaryReport, ReportArmEvidence, ReportEpochArm, ReportEpochRow, ReportData, ReportMarker, ReportPoint, ReportWindow, RoleReport } from './collect.js';

/**
 * The canary report as one self-contained HTML page: inline CSS and SVG, no script, no external
 * resource of any kind (it opens offline and from a file:// URL). Pure: data in, HTML out; every
 * string from the data is escaped.
 *
 * Stable hooks for tests and scrapers: `data-testid` = `canary-report`, `canary` (one section per
 * canary, with `data-canary-id`, `data-role`, `data-status`), `pass-rate-chart` (the SVG),
 * `series-stable` / `series-canary` (lines), `band-stable` / `band-canary` (interval bands),
 * `window` (an evidence window's background, with `data-x0` / `data-x1` in chart pixels),
 * `late-region` (the part of a window after its decision), `late-stable` / `late-canary` (the
 * lines of outcomes that arrived after the decision), `step-marker` (`data-window-edge`,
 * `data-px`), `decision-marker`, `chart-label` (every text label inside the plot),
 * `canary-oneline` (a canary with no outcomes), `evidence-table`, `roles-table`, `timeline`.
 */

const CHART = { width: 760, height: 300, left: 52, right: 20, top: 30, bottom: 46 } as const;

export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
const esc = escapeHtml;

const pct = (x: number | null | undefined, digits = 0): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)} %`);
const range = (i: readonly [number, number] | null | undefined): string => (i ? `${(i[0] * 100).toFixed(0)}–${(i[1] * 100).toFixed(0)} %` : '–');
const signedPoints = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} pts`;
const n = (x: number): string => (Number.isInteger(x) ? String(x) : Number(x.toPrecision(4)).toString());
const fixed = (x: number): string => (Math.round(x * 10) / 10).toFixed(1);

function formatEValue(logE: number): string {
  if (logE > Math.log(1e12)) return '> 10¹²';
  if (logE < Math.log(1e-3)) return '< 0.001';
  const e = Math.exp(logE);
  return e >= 100 ? e.toFixed(0) : e.toPrecision(3);
}

function when(iso: string): string {
  // ISO to "2026-11-26 14:02:11 UTC" without locale dependence.
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

const ACTION_LABEL: Record<ReportMarker['kind'], string> = {
  start: 'started',
  percentage: 'percentage changed',
  step: 'stepped up',
  promote: 'promoted',
  rollback: 'rolled back',
};

export function renderReport(data: ReportData): string {
  const title = data.role === null ? 'Canary report' : `Canary report: ${data.role}`;
  const decided = data.canaries.filter((c) => c.status !== 'running').length;
  const body = [
    `<header><h1>${esc(title)}</h1>`,
    `<p class="meta">Project <code>${esc(data.projectRoot)}</code> · generated ${esc(when(data.generatedAt))} · ${data.canaries.length} canar${data.canaries.length === 1 ? 'y' : 'ies'}, ${decided} decided</p>`,
    `<p class="meta">Each chart shows the cumulative pass rate of both arms as the canary's outcomes come in (x axis: canary outcomes), with 95 % Jeffreys intervals as bands. Evidence never restarts: each epoch (a period at one share, between steps or percentage changes) is compared within itself and the epochs are combined into one test over the canary's life, shown as one shaded window with a row per epoch below; tasks with no outcome after canary.outcome_timeout count as failed; dashed lines mark percentage steps, the solid line marks the decision, and hatched stretches with thin dashed lines are outcomes that arrived after the decision (not part of its evidence).</p></header>`,
    data.warnings.length > 0 ? `<div class="warnings">${data.warnings.map((w) => `<p>warning: ${esc(w)}</p>`).join('')}</div>` : '',
    data.canaries.length === 0
      ? `<section class="empty"><p>No canaries${data.role === null ? '' : ` for role ${esc(data.role)}`} yet. A canary starts when a role's bundle changes with <code>canary_percentage &gt; 0</code>, or with <code>bernstein config canary</code>.</p></section>`
      : data.canaries.map(renderCanary).join('\n'),
    renderRoles(data.roles),
    renderTimeline(data),
  ].join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body data-testid="canary-report">
${body}
</body>
</html>
`;
}

function renderCanary(c: CanaryReport): string {
  const statusClass = c.status === 'promoted' ? 'ok' : c.status === 'rolled back' ? 'bad' : 'run';
  if (c.totals.stable.tasks + c.totals.canary.tasks === 0) return renderOneLine(c, statusClass);
  const model = c.model !== null && c.model !== c.baseModel ? ` · model ${esc(c.baseModel ?? '?')} → <b>${esc(c.model)}</b>` : c.model !== null ? ` · model ${esc(c.model)}` : '';
  const steps = c.windows.map((w) => w.percentages.map((p) => `${n(p)} %`).join(' → ')).join(' ⇒ ');
  const current = c.current
    ? `<p class="current">Now: <b>${esc(c.current.action)}</b> (${esc(c.current.rule)}): ${esc(c.current.reason)}</p>`
    : '';
  const alerts = c.alertFailures.length
    ? `<p class="warn">Alerts not delivered: ${c.alertFailures.map((a) => `${esc(when(a.at))}: ${esc(a.reason)}`).join('; ')}</p>`
    : '';
  return `<section class="canary" data-testid="canary" data-canary-id="${esc(c.canaryId)}" data-role="${esc(c.role)}" data-status="${esc(c.status)}">
<h2>${esc(c.role)} <span class="id">canary ${esc(c.canaryId)}</span> <span class="badge ${statusClass}">${esc(c.status)}</span></h2>
<p class="meta">Version <code>${esc(c.versionId)}</code> against stable <code>${esc(c.baseVersionId ?? '–')}</code>${model}${c.origin ? ` · ${esc(c.origin)}` : ''}<br>
Started ${esc(when(c.startedAt))} by ${esc(c.startedBy)} · percentages ${esc(steps)} · ${c.totals.canary.tasks} canary and ${c.totals.stable.tasks} stable outcomes in its windows</p>
${current}${alerts}
<div class="legend"><span class="key stable"></span>stable arm <span class="key canary"></span>canary arm <span class="key band"></span>95 % interval <span class="key step"></span>step <span class="key decision ${statusClass}"></span>decision <span class="key late"></span>after the decision (not evidence)</div>
${renderChart(c)}
${renderEpochs(c)}
${renderEvidence(c)}
</section>`;
}

/** A canary that never got an outcome: one line, not an empty full-size chart. */
function renderOneLine(c: CanaryReport, statusClass: string): string {
  const ended = c.decision ? ` · ${esc(ACTION_LABEL[c.decision.kind])} ${esc(when(c.decision.at))} by ${esc(c.decision.actor)}: ${esc(c.decision.reason)}` : '';
  const now = c.current ? ` · now: ${esc(c.current.action)} (${esc(c.current.reason)})` : '';
  return `<section class="canary oneline" data-testid="canary" data-canary-id="${esc(c.canaryId)}" data-role="${esc(c.role)}" data-status="${esc(c.status)}">
<p data-testid="canary-oneline"><b>${esc(c.role)}</b> <span class="id">canary ${esc(c.canaryId)}</span> <span class="badge ${statusClass}">${esc(c.status)}</span> version <code>${esc(c.versionId)}</code> against <code>${esc(c.baseVersionId ?? '–')}</code> · started ${esc(when(c.startedAt))} by ${esc(c.startedBy)}${c.startPercentage !== null ? ` at ${n(c.startPercentage)} %` : ''} · no outcomes recorded${ended}${now}</p>
</section>`;
}

/** Rough width of chart text at 11 px (generous, so labels placed apart never touch). */
const labelWidth = (text: string): number => [...text].reduce((w, ch) => w + (/[0-9 .%]/.test(ch) ? 6.4 : ch === '→' ? 12 : 7.2), 4);

interface Box {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}
const overlaps = (a: Box, b: Box): boolean => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

function renderChart(c: CanaryReport): string {
  const { width, height, left, right, top, bottom } = CHART;
  // (A canary with no outcomes never gets here: it is a one-line entry.)
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const maxX = Math.max(c.totalX, 1);
  const sx = (x: number) => left + (x / maxX) * plotW;
  const sy = (y: number) => top + (1 - Math.max(0, Math.min(1, y))) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg data-testid="pass-rate-chart" class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`${c.role}: pass rate of the stable and canary arms over the canary's outcomes`)}">`,
  );
  parts.push(`<rect class="plot" x="${left}" y="${top}" width="${plotW}" height="${plotH}"/>`);
  /** Every label drawn inside the plot, so that none is placed on top of another. */
  const placed: Box[] = [];
  parts.push(
    `<defs><pattern id="late-hatch-${esc(c.canaryId)}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" class="hatch"/></pattern></defs>`,
  );
  // Evidence windows, as the router pooled them.
  for (const w of c.windows) {
    const x0 = sx(w.startX);
    const x1 = sx(Math.max(w.endX, w.startX));
    const label = w.percentages.map((p) => `${n(p)} %`).join('→');
    const box: Box = { x0: (x0 + x1) / 2 - labelWidth(label) / 2, x1: (x0 + x1) / 2 + labelWidth(label) / 2, y0: top + 3, y1: top + 18 };
    const fits = box.x0 >= x0 + 2 && box.x1 <= x1 - 2;
    if (fits) placed.push(box);
    const lateCount = w.late.stable.tasks + w.late.canary.tasks;
    const cut = w.evidenceEndX !== null && w.evidenceEndX < w.endX ? sx(w.evidenceEndX) : null;
    parts.push(
      `<g data-testid="window" class="window w${w.index % 2}" data-x0="${fixed(x0)}" data-x1="${fixed(x1)}"><rect x="${fixed(x0)}" y="${top}" width="${fixed(Math.max(x1 - x0, 0))}" height="${plotH}"><title>${esc(`evidence window ${w.index + 1}: canary at ${label}; ${w.totals.canary.tasks} canary, ${w.totals.stable.tasks} stable outcomes${lateCount ? ` (${lateCount} of them after the decision)` : ''}`)}</title></rect>` +
        (cut !== null
          ? `<rect data-testid="late-region" class="late" fill="url(#late-hatch-${esc(c.canaryId)})" x="${fixed(cut)}" y="${top}" width="${fixed(Math.max(x1 - cut, 0))}" height="${plotH}"><title>${esc(`${lateCount} outcome${lateCount === 1 ? '' : 's'} of tasks routed in this window arrived after the decision (${w.late.canary.tasks} canary, ${w.late.stable.tasks} stable): shown, not part of its evidence`)}</title></rect>`
          : '') +
        (fits ? `<text data-testid="chart-label" class="wlabel" x="${fixed((x0 + x1) / 2)}" y="${top + 14}" text-anchor="middle">${esc(label)}</text>` : '') +
        `</g>`,
    );
  }
  // Grid and axes.
  for (const y of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line class="grid" x1="${left}" x2="${left + plotW}" y1="${fixed(sy(y))}" y2="${fixed(sy(y))}"/>`);
    parts.push(`<text class="tick" x="${left - 6}" y="${fixed(sy(y) + 4)}" text-anchor="end">${y * 100} %</text>`);
  }
  for (const x of xTicks(maxX)) {
    parts.push(`<text class="tick" x="${fixed(sx(x))}" y="${top + plotH + 16}" text-anchor="middle">${x}</text>`);
  }
  parts.push(`<text class="axis" x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle">canary outcomes (stable outcomes drawn between them in recording order; one window over every step)</text>`);
  parts.push(`<text class="axis" transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">pass rate</text>`);
  // Bands, then lines, per window (one window per canary since evidence never restarts). Each
  // line is solid up to its window's decision and thin and dashed after it (late outcomes).
  const split = (w: (typeof c.windows)[number], points: readonly ReportPoint[]) => {
    if (w.evidenceEndX === null) return { evidence: points, late: [] as ReportPoint[] };
    const cut = w.evidenceEndX;
    const evidence = points.filter((p) => p.x <= cut);
    const after = points.filter((p) => p.x > cut);
    // A cumulative rate holds until the arm's next outcome: the evidence line runs on to the
    // decision, and the late line starts there, so the two read as one arm that changes style.
    const last = evidence[evidence.length - 1];
    const atCut = last && last.x < cut && after.length > 0 ? { ...last, x: cut } : undefined;
    return { evidence: atCut ? [...evidence, atCut] : evidence, late: after.length > 0 && last ? [atCut ?? last, ...after] : after };
  };
  for (const arm of ['stable', 'canary'] as const) {
    for (const w of c.windows) {
      const { evidence } = split(w, w[arm]);
      if (evidence.length === 0) continue;
      parts.push(`<path data-testid="band-${arm}" class="band ${arm}" d="${bandPath(evidence, sx, sy)}"/>`);
    }
  }
  for (const arm of ['stable', 'canary'] as const) {
    for (const w of c.windows) {
      const { evidence, late } = split(w, w[arm]);
      if (evidence.length > 0) {
        const last = evidence[evidence.length - 1]!;
        parts.push(
          `<path data-testid="series-${arm}" class="line ${arm}" d="${linePath(evidence, sx, sy)}"><title>${esc(`${arm}: ${last.passed}/${last.tasks} passed (${pct(last.rate)}, 95 % interval ${range([last.lower, last.upper])}) in window ${w.index + 1}`)}</title></path>`,
        );
        if (evidence.length === 1) parts.push(`<circle class="dot ${arm}" cx="${fixed(sx(last.x))}" cy="${fixed(sy(last.rate))}" r="2.5"/>`);
      }
      if (late.length > 0) {
        const end = late[late.length - 1]!;
        const count = w.late[arm].tasks;
        parts.push(
          `<path data-testid="late-${arm}" class="line late ${arm}" d="${linePath(late.length === 1 ? [late[0]!, late[0]!] : late, sx, sy)}"><title>${esc(`${arm}: ${count} outcome${count === 1 ? '' : 's'} after the decision; cumulative ${end.passed}/${end.tasks} passed (${pct(end.rate)}) including them`)}</title></path>`,
        );
      }
    }
  }
  // The decision's label box first (fixed place near the top), then the step labels around it.
  const d = c.decision;
  const decisionAnchor = d && sx(d.x) > left + plotW - 90 ? 'end' : 'start';
  if (d) placed.push({ x0: decisionAnchor === 'end' ? sx(d.x) - 92 : sx(d.x) + 2, x1: decisionAnchor === 'end' ? sx(d.x) - 2 : sx(d.x) + 92, y0: top + 20, y1: top + 38 });
  // Steps and manual percentage changes. Labels go in lanes from the bottom of the plot up:
  // a label that would touch one already placed moves up a lane.
  for (const m of c.markers) {
    if (m.kind !== 'step' && m.kind !== 'percentage') continue;
    const px = sx(m.x);
    const x = fixed(px);
    const label = `${n(m.fromPercentage ?? 0)}→${n(m.toPercentage ?? 0)} %`;
    const width = labelWidth(label);
    const anchorEnd = px + 3 + width > left + plotW;
    let lane = 0;
    let box: Box;
    for (;;) {
      const baseline = top + plotH - 6 - lane * 15;
      box = { x0: anchorEnd ? px - 3 - width : px + 3, x1: anchorEnd ? px - 3 : px + 3 + width, y0: baseline - 11, y1: baseline + 3 };
      if (!placed.some((other) => overlaps(box, other)) || baseline - 11 < top + 40) break;
      lane += 1;
    }
    placed.push(box);
    parts.push(
      `<g data-testid="step-marker" class="marker step" data-kind="${m.kind}" data-x="${fixed(m.x)}" data-px="${x}" data-window-edge="${m.windowEdge}"><line x1="${x}" x2="${x}" y1="${top}" y2="${top + plotH}"/>` +
        `<rect class="hit" x="${fixed(px - 4)}" y="${top}" width="8" height="${plotH}"/>` +
        `<text data-testid="chart-label" x="${fixed(anchorEnd ? px - 3 : px + 3)}" y="${fixed(box.y1 - 3)}" text-anchor="${anchorEnd ? 'end' : 'start'}">${esc(label)}</text>` +
        `<title>${esc(`${ACTION_LABEL[m.kind]} ${label} at ${when(m.at)} (${m.actor}): ${m.reason}`)}</title></g>`,
    );
  }
  // The decision.
  if (d) {
    const x = sx(d.x);
    const cls = d.kind === 'promote' ? 'ok' : 'bad';
    const y = d.evidence?.canary?.passRate ?? canaryRateAt(c, d.x);
    const anchor = decisionAnchor;
    const tx = anchor === 'end' ? x - 6 : x + 6;
    parts.push(
      `<g data-testid="decision-marker" class="marker decision ${cls}" data-action="${d.kind}" data-x="${fixed(d.x)}" data-placement="${d.placement}">` +
        `<line x1="${fixed(x)}" x2="${fixed(x)}" y1="${top}" y2="${top + plotH}"/>` +
        (y !== null ? `<circle cx="${fixed(x)}" cy="${fixed(sy(y))}" r="5"/>` : '') +
        `<rect class="label" x="${fixed(anchor === 'end' ? x - 92 : x + 2)}" y="${top + 20}" width="90" height="18" rx="3"/>` +
        `<text data-testid="chart-label" x="${fixed(tx)}" y="${top + 33}" text-anchor="${anchor}">${esc(ACTION_LABEL[d.kind])}</text>` +
        `<title>${esc(`${ACTION_LABEL[d.kind]} at ${when(d.at)} (${d.actor}), after ${d.evidence?.canary?.tasks ?? '?'} canary outcomes: ${d.reason}`)}</title></g>`,
    );
  }
  parts.push('</svg>');
  return `<div class="chartbox">${parts.join('')}</div>`;
}

function canaryRateAt(c: CanaryReport, x: number): number | null {
  let best: ReportPoint | null = null;
  for (const w of c.windows) for (const p of w.canary) if (p.x <= x && (best === null || p.x > best.x)) best = p;
  return best?.rate ?? null;
}

function xTicks(maxX: number): number[] {
  const rough = maxX / 6;
  const magnitude = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? magnitude * 10;
  const ticks: number[] = [];
  for (let x = 0; x <= maxX; x += step) ticks.push(x);
  return ticks;
}

function linePath(points: readonly ReportPoint[], sx: (x: number) => number, sy: (y: number) => number): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${fixed(sx(p.x))} ${fixed(sy(p.rate))}`).join(' ');
}

function bandPath(points: readonly ReportPoint[], sx: (x: number) => number, sy: (y: number) => number): string {
  if (points.length === 1) {
    const p = points[0]!;
    return `M${fixed(sx(p.x) - 2)} ${fixed(sy(p.upper))} L${fixed(sx(p.x) + 2)} ${fixed(sy(p.upper))} L${fixed(sx(p.x) + 2)} ${fixed(sy(p.lower))} L${fixed(sx(p.x) - 2)} ${fixed(sy(p.lower))} Z`;
  }
  const upper = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${fixed(sx(p.x))} ${fixed(sy(p.upper))}`);
  const lower = [...points].reverse().map((p) => `L${fixed(sx(p.x))} ${fixed(sy(p.lower))}`);
  return `${upper.join(' ')} ${lower.join(' ')} Z`;
}

function armCells(arm: ReportArmEvidence | null): string {
  if (!arm) return '<td>–</td><td>–</td><td>–</td>';
  return `<td class="num">${arm.passed}/${arm.tasks}</td><td class="num">${pct(arm.passRate, 1)}</td><td class="num">${range(arm.interval)}</td>`;
}

/** The evidence per epoch (one window, a row per epoch), then the epochs combined. */
function renderEpochs(c: CanaryReport): string {
  if (c.epochs.length === 0) return '';
  const side = (a: ReportEpochArm) => {
    const extra = [a.awaiting ? `${a.awaiting} awaiting` : '', a.timedOut ? `${a.timedOut} timed out` : '', a.late ? `${a.late} late` : ''].filter(Boolean).join(', ');
    return `<td class="num">${a.passed}/${a.tasks}</td><td class="num">${pct(a.tasks ? a.passed / a.tasks : null)}</td><td class="num">${a.assigned}${extra ? `<br><small>${esc(extra)}</small>` : ''}</td>`;
  };
  const total = (pick: (e: ReportEpochRow) => ReportEpochArm): ReportEpochArm =>
    c.epochs.reduce(
      (acc, e) => {
        const a = pick(e);
        return { assigned: acc.assigned + a.assigned, awaiting: acc.awaiting + a.awaiting, timedOut: acc.timedOut + a.timedOut, late: acc.late + a.late, tasks: acc.tasks + a.tasks, passed: acc.passed + a.passed };
      },
      { assigned: 0, awaiting: 0, timedOut: 0, late: 0, tasks: 0, passed: 0 },
    );
  const rows = c.epochs.map(
    (e) =>
      `<tr data-testid="epoch-row" data-epoch="${e.epoch}"><th scope="row">epoch ${e.epoch}</th><td class="num">${n(e.percentage)} %</td>${side(e.stable)}${side(e.canary)}<td class="num">${e.difference === null ? '–' : esc(signedPoints(e.difference))}</td></tr>`,
  );
  rows.push(`<tr class="combined" data-testid="epoch-combined"><th scope="row">combined</th><td></td>${side(total((e) => e.stable))}${side(total((e) => e.canary))}<td></td></tr>`);
  return `<table class="evidence epochs" data-testid="epoch-table">
<thead><tr><th>epoch</th><th>share</th><th>stable passed</th><th>rate</th><th>routed</th><th>canary passed</th><th>rate</th><th>routed</th><th>canary − stable</th></tr></thead>
<tbody>${rows.join('\n')}</tbody>
</table>`;
}

function renderEvidence(c: CanaryReport): string {
  const rows: string[] = [];
  for (const m of c.markers) {
    if (m.kind === 'start') {
      rows.push(
        `<tr class="event"><th scope="row">${esc(ACTION_LABEL.start)}${m.toPercentage !== null ? ` at ${n(m.toPercentage)} %` : ''}</th><td>${esc(when(m.at))}</td><td>${esc(m.actor)}</td><td colspan="6" class="reason">${esc(m.reason)}</td></tr>`,
      );
      continue;
    }
    const e = m.evidence;
    const what =
      m.kind === 'step' || m.kind === 'percentage'
        ? `${ACTION_LABEL[m.kind]} ${n(m.fromPercentage ?? 0)} → ${n(m.toPercentage ?? 0)} %`
        : `${ACTION_LABEL[m.kind]}${m.fromPercentage !== null ? ` at ${n(m.fromPercentage)} %` : ''}`;
    const diff = e?.difference ? `${signedPoints(e.difference.estimate)} (${signedPoints(e.difference.interval[0])} to ${signedPoints(e.difference.interval[1])})` : '–';
    const stats: string[] = [];
    const s = e?.statistic;
    if (s?.logEvidenceWorse !== undefined) stats.push(`e-value worse ${formatEValue(s.logEvidenceWorse)}`);
    if (s?.logEvidenceNotWorseByMargin !== undefined) stats.push(`not worse ${formatEValue(s.logEvidenceNotWorseByMargin)}`);
    if (e?.srm) stats.push(`SRM p ${e.srm.pValue < 0.001 ? e.srm.pValue.toExponential(1) : e.srm.pValue.toFixed(3)}${e.srm.holding ? ' (holding)' : ''}`);
    for (const g of e?.guardrails ?? []) stats.push(`${g.metric} ${n(g.canaryMean)} vs ${n(g.stableMean)} (limit ${n(g.limit)})${g.breached ? ' breached' : ''}`);
    const cls = m.kind === 'promote' ? 'ok' : m.kind === 'rollback' ? 'bad' : '';
    rows.push(
      `<tr class="event ${cls}" data-kind="${m.kind}"><th scope="row" rowspan="2">${esc(what)}</th><td rowspan="2">${esc(when(m.at))}</td><td rowspan="2">${esc(m.actor)}</td>` +
        `<td>stable</td>${armCells(e?.stable ?? null)}<td rowspan="2" class="num">${esc(diff)}</td><td rowspan="2">${esc(m.rule ?? '–')}${stats.length ? `<br><small>${esc(stats.join(' · '))}</small>` : ''}</td></tr>` +
        `<tr class="${cls}"><td>canary</td>${armCells(e?.canary ?? null)}</tr>` +
        `<tr class="reasonrow ${cls}"><td colspan="9" class="reason">${esc(m.reason)}${m.placement !== 'evidence' && m.kind !== 'percentage' ? ` <small>(placed on the chart by ${m.placement === 'time' ? 'time' : 'window end'})</small>` : ''}</td></tr>`,
    );
  }
  return `<table class="evidence" data-testid="evidence-table">
<thead><tr><th>transition</th><th>when</th><th>actor</th><th>arm</th><th>passed</th><th>pass rate</th><th>95 % interval</th><th>canary − stable</th><th>rule, statistics</th></tr></thead>
<tbody>${rows.join('\n')}</tbody>
</table>`;
}

function renderRoles(roles: readonly RoleReport[]): string {
  if (roles.length === 0) return '';
  const rows = roles.flatMap((r) =>
    r.versions.map(
      (v, i) =>
        `<tr>${i === 0 ? `<th scope="rowgroup" rowspan="${r.versions.length}">${esc(r.role)}<br><small>${r.totals.tasks} outcomes, ${pct(r.totals.tasks ? r.totals.passed / r.totals.tasks : null)} passed</small></th>` : ''}` +
        `<td><code>${esc(v.versionId)}</code></td><td>${esc(v.model ?? '–')}</td>` +
        `<td class="num">${v.stable.tasks ? `${v.stable.passed}/${v.stable.tasks} (${pct(v.stable.passed / v.stable.tasks)})` : '–'}</td>` +
        `<td class="num">${v.canary.tasks ? `${v.canary.passed}/${v.canary.tasks} (${pct(v.canary.passed / v.canary.tasks)})` : '–'}</td></tr>`,
    ),
  );
  return `<section><h2>Versions per role</h2>
<table class="roles" data-testid="roles-table"><thead><tr><th>role</th><th>version</th><th>model</th><th>as stable: passed</th><th>as canary: passed</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></section>`;
}

function renderTimeline(data: ReportData): string {
  if (data.events.length === 0) return '';
  const rows = data.events.map(
    (e) =>
      `<tr class="${e.action === 'rollback' || e.action === 'instant-rollback' || e.action === 'alert-failed' ? 'bad' : e.action === 'promote' ? 'ok' : ''}"><td>${esc(when(e.at))}</td><td>${esc(e.role)}</td><td>${esc(e.action)}${e.percentage !== null ? ` (${n(e.percentage)} %)` : ''}</td><td><code>${esc(e.from ?? '–')}</code> → <code>${esc(e.to ?? '–')}</code></td><td>${esc(e.actor)}</td><td class="reason">${esc(e.reason)}</td></tr>`,
  );
  return `<section><h2>Audit log</h2>
<table class="timeline" data-testid="timeline"><thead><tr><th>when</th><th>role</th><th>action</th><th>versions</th><th>actor</th><th>reason</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></section>`;
}

const STYLE = `
:root{--stable:#2563eb;--canary:#ea580c;--ok:#15803d;--bad:#b91c1c;--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);margin:0 auto;padding:24px;max-width:1040px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 4px;border-radius:3px}
.meta{color:var(--muted);margin:4px 0}
.id{font-weight:normal;color:var(--muted);font-size:14px}
.badge{font-size:12px;padding:2px 8px;border-radius:10px;color:#fff;vertical-align:middle}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.run{background:var(--muted)}
.canary{border-top:1px solid var(--line);margin-top:20px}
.legend{margin:8px 0;color:var(--muted);font-size:12px}
.key{display:inline-block;width:18px;height:3px;margin:0 4px 3px 12px;vertical-align:middle}
.key.stable{background:var(--stable)}.key.canary{background:var(--canary)}
.key.band{height:10px;background:rgba(107,114,128,.25)}
.key.step{border-top:2px dashed var(--muted);height:0}
.key.decision{width:3px;height:14px}.key.decision.ok{background:var(--ok)}.key.decision.bad{background:var(--bad)}.key.decision.run{background:var(--muted)}
.chartbox{overflow-x:auto}
svg.chart{display:block;max-width:100%;height:auto;font:11px system-ui,sans-serif}
.plot{fill:#fff;stroke:var(--line)}
.window.w0 rect{fill:#f9fafb}.window.w1 rect{fill:#f1f5f9}
.wlabel{fill:var(--muted);font-size:11px}
.grid{stroke:var(--line)}
.tick{fill:var(--muted)}.axis{fill:var(--muted);font-size:12px}
.band.stable{fill:var(--stable);opacity:.14}.band.canary{fill:var(--canary);opacity:.16}
.line{fill:none;stroke-width:2}.line.stable{stroke:var(--stable)}.line.canary{stroke:var(--canary)}
.dot.stable{fill:var(--stable)}.dot.canary{fill:var(--canary)}
.marker.step line{stroke:var(--muted);stroke-width:1.5;stroke-dasharray:5 4}
.marker.step text{fill:var(--muted)}
.marker .hit{fill:transparent}
.hatch{stroke:#d1d5db;stroke-width:2}
.line.late{stroke-width:1.2;stroke-dasharray:3 3;opacity:.8}
.key.late{height:10px;background:repeating-linear-gradient(45deg,#d1d5db 0 2px,transparent 2px 5px)}
.oneline p{margin:10px 0}
.marker.decision line{stroke-width:2.5}
.marker.decision.ok line{stroke:var(--ok)}.marker.decision.bad line{stroke:var(--bad)}
.marker.decision.ok circle{fill:var(--ok)}.marker.decision.bad circle{fill:var(--bad)}
.marker.decision .label{fill:#fff;opacity:.9}
.marker.decision.ok text{fill:var(--ok);font-weight:600}.marker.decision.bad text{fill:var(--bad);font-weight:600}
table{border-collapse:collapse;width:100%;margin:10px 0;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
thead th{color:var(--muted);font-weight:600;border-bottom:2px solid var(--line)}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.reason{color:#374151}
tr.ok th{color:var(--ok)}tr.bad th{color:var(--bad)}
.current{background:#f9fafb;border-left:3px solid var(--muted);padding:6px 10px}
.warn,.warnings{color:var(--bad)}
small{color:var(--muted)}
`;
