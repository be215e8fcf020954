import { resolve } from 'node:path';
import type { VersionSummary } from '@bernstein/prompt-versions';
import type { AuditEvent } from '@bernstein/canary-router';
import { jeffreysInterval } from '@bernstein/quality-compare';
import type { Rollout } from '../rollout.js';
import { parseAuditEvidence, type AuditEvidence } from '../core/evidence.js';
import { evaluateCanaries } from '../services/evaluate.js';

/**
 * Everything the HTML canary report shows, as plain data: one pass over the ledger plus the audit
 * log (and the registry index for model names). `renderReport` turns it into a page; tests and
 * other front ends can use the data directly.
 */

export const REPORT_SCHEMA_VERSION = 1;

/** Series are drawn from at most this many points per arm (the last point is always kept). */
export const MAX_SERIES_POINTS = 400;

export interface ReportCounts {
  tasks: number;
  passed: number;
}

/** One point of an arm's cumulative pass rate within an evidence window. */
export interface ReportPoint {
  /**
   * Position on the x axis: canary outcomes so far over the canary's windows (the k-th canary
   * outcome is at window start + k); stable outcomes recorded between two canary outcomes are
   * spread evenly between them.
   */
  x: number;
  tasks: number;
  passed: number;
  rate: number;
  /** 95 % Jeffreys interval (the quality core's interval). */
  lower: number;
  upper: number;
}

/** A stretch of outcomes judged together: since evidence never restarts, a canary's whole life (its epochs are rows in `CanaryReport.epochs`). */
export interface ReportWindow {
  index: number;
  /** Canary percentages during this window (more than one after a manual change). */
  percentages: number[];
  /** The window covers (startX, endX] on the x axis: one unit per canary outcome, plus one for stable outcomes after the last. */
  startX: number;
  endX: number;
  stable: ReportPoint[];
  canary: ReportPoint[];
  totals: { stable: ReportCounts; canary: ReportCounts };
  /**
   * Where the transition that closed this window (a step to a new window, or the final promote /
   * rollback) was decided; outcomes to the right of it arrived later (tasks routed in this window
   * whose outcomes came after the decision) and were not part of its evidence. null while open.
   */
  evidenceEndX: number | null;
  /** Outcomes of this window recorded after evidenceEndX. */
  late: { stable: ReportCounts; canary: ReportCounts };
}

/** One epoch's arm in a decision's evidence: routed, awaiting, timed out, late, and the counted outcomes. */
export interface ReportEpochArm {
  assigned: number;
  awaiting: number;
  timedOut: number;
  late: number;
  tasks: number;
  passed: number;
}

/** One row of a canary's per-epoch evidence: an epoch (a period at one share), compared within itself. */
export interface ReportEpochRow {
  epoch: number;
  percentage: number;
  stable: ReportEpochArm;
  canary: ReportEpochArm;
  /** canary pass rate - stable pass rate within the epoch */
  difference: number | null;
}

/** Arm evidence as stored in an audit event (counts, rate, interval). */
export interface ReportArmEvidence {
  tasks: number;
  passed: number;
  passRate: number | null;
  interval: [number, number] | null;
}

export interface ReportEvidence {
  policy: string | null;
  /** The rule id, when the evidence names it (otherwise derived from the policy and the action). */
  rule: string | null;
  stable: ReportArmEvidence | null;
  canary: ReportArmEvidence | null;
  difference: { estimate: number; interval: [number, number] } | null;
  /** e-values and test statistics, as stored. */
  statistic: Record<string, number> | null;
  srm: { pValue: number; expectedShare: number; observedShare: number; holding: boolean } | null;
  guardrails: Array<{ metric: string; stableMean: number; canaryMean: number; limit: number; breached: boolean }> | null;
  /** Per epoch, when the evidence has them (decisions since evidence stopped restarting). */
  epochs: ReportEpochRow[] | null;
}

/** A transition of the canary placed on the chart. */
export interface ReportMarker {
  kind: 'start' | 'percentage' | 'step' | 'promote' | 'rollback';
  /**
   * Where the marker is drawn. A step that starts a new evidence window sits on that window's
   * left edge (its decision point is the previous window's evidenceEndX); any other transition
   * sits where it was decided.
   */
  x: number;
  /** True for a step that started a new evidence window (drawn on the window edge). */
  windowEdge: boolean;
  /** How x was found: from the evidence counts (exact), from timestamps, or the window's end. */
  placement: 'evidence' | 'time' | 'end';
  at: string;
  actor: string;
  reason: string;
  fromPercentage: number | null;
  toPercentage: number | null;
  /** The rule that fired, derived from the evidence (audit events store policy and evidence, not the rule id). */
  rule: string | null;
  evidence: ReportEvidence | null;
  revision: number;
}

export interface CanaryReport {
  canaryId: string;
  role: string;
  versionId: string;
  baseVersionId: string | null;
  /** default_model of the canary and stable versions, when the registry has them. */
  model: string | null;
  baseModel: string | null;
  origin: string | null;
  startedAt: string;
  startedBy: string;
  startPercentage: number | null;
  status: 'running' | 'promoted' | 'rolled back';
  /** Width of the x axis: the end of the last window. */
  totalX: number;
  windows: ReportWindow[];
  /** start is not drawn; percentage / step / promote / rollback are. */
  markers: ReportMarker[];
  /** The promote or rollback that ended the canary, or null while it runs. */
  decision: ReportMarker | null;
  /** For a running canary: what the quality core says now. */
  current: { action: string; rule: string; reason: string } | null;
  /**
   * The canary's one evidence window per epoch, with the combined counts after them: from the
   * decision that ended it, or, while it runs, from the current decision. [] when unknown.
   */
  epochs: ReportEpochRow[];
  totals: { stable: ReportCounts; canary: ReportCounts };
  alertFailures: Array<{ at: string; reason: string }>;
}

export interface RoleVersionCounts {
  versionId: string;
  model: string | null;
  stable: ReportCounts;
  canary: ReportCounts;
}

export interface RoleReport {
  role: string;
  /** Versions in order of first outcome, with outcomes per arm. */
  versions: RoleVersionCounts[];
  totals: ReportCounts;
}

export interface ReportData {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  generatedAt: string;
  projectRoot: string;
  role: string | null;
  canaries: CanaryReport[];
  roles: RoleReport[];
  /** Every audit event (filtered by role), for the timeline. */
  events: Array<Pick<AuditEvent, 'at' | 'role' | 'action' | 'from' | 'to' | 'canaryId' | 'actor' | 'reason' | 'revision'> & { percentage: number | null }>;
  warnings: string[];
}

export interface CollectOptions {
  role?: string;
  /** Evaluate running canaries for their current decision (default true). */
  evaluateRunning?: boolean;
  maxSeriesPoints?: number;
}

/** Per canary while reading the ledger: outcomes packed as numbers (epoch * 4 + arm * 2 + passed). */
interface RawCanary {
  packed: number[];
  times: number[];
}

/**
 * Read the audit log and the ledger (one streaming pass) and build the report data.
 */
export async function collectReport(rollout: Rollout, options: CollectOptions = {}): Promise<ReportData> {
  const roleFilter = options.role;
  const maxPoints = Math.max(10, options.maxSeriesPoints ?? MAX_SERIES_POINTS);
  const warnings: string[] = [];

  const audit = await rollout.store.readAudit(roleFilter === undefined ? {} : { role: roleFilter });
  warnings.push(...audit.warnings);
  const events = [...audit.events].sort((a, b) => a.revision - b.revision || (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));

  let versions: VersionSummary[] = [];
  try {
    versions = await rollout.store.listVersions(roleFilter === undefined ? {} : { role: roleFilter });
  } catch (error) {
    warnings.push(`version registry unreadable, models not shown: ${(error as Error).message}`);
  }
  const modelOf = new Map<string, string | null>();
  const originOf = new Map<string, string>();
  for (const v of versions) {
    const model = v.model.default_model;
    modelOf.set(v.id, typeof model === 'string' ? model : model === undefined ? null : JSON.stringify(model));
    originOf.set(v.id, v.origin.kind === 'model-override' ? `model change of ${v.origin.baseVersionId} to ${v.origin.model}` : 'templates on disk');
  }

  // Canaries, from their start events.
  const byCanary = new Map<string, AuditEvent[]>();
  for (const event of events) {
    if (event.canaryId === null) continue;
    const list = byCanary.get(event.canaryId);
    if (list) list.push(event);
    else if (event.action === 'start') byCanary.set(event.canaryId, [event]);
  }

  // One pass over the ledger.
  const raw = new Map<string, RawCanary>();
  for (const id of byCanary.keys()) raw.set(id, { packed: [], times: [] });
  const roleCounts = new Map<string, Map<string, { stable: ReportCounts; canary: ReportCounts }>>();
  const { warnings: ledgerWarnings } = await rollout.store.readLedger(null, (record) => {
    if (record.type !== 'outcome') return;
    if (roleFilter !== undefined && record.role !== roleFilter) return;
    let perVersion = roleCounts.get(record.role);
    if (!perVersion) roleCounts.set(record.role, (perVersion = new Map()));
    let counts = perVersion.get(record.versionId);
    if (!counts) perVersion.set(record.versionId, (counts = { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } }));
    const arm = counts[record.arm];
    arm.tasks += 1;
    if (record.passed) arm.passed += 1;
    if (record.canaryId === null) return;
    const target = raw.get(record.canaryId);
    if (!target) return;
    target.packed.push((record.epoch ?? 0) * 4 + (record.arm === 'canary' ? 2 : 0) + (record.passed ? 1 : 0));
    const time = Date.parse(record.at);
    target.times.push(Number.isNaN(time) ? 0 : time);
  });
  warnings.push(...ledgerWarnings);

  // Current decisions of running canaries.
  const current = new Map<string, { action: string; rule: string; reason: string; epochs: ReportEpochRow[] }>();
  if (options.evaluateRunning !== false) {
    try {
      // A read: no timeout sweep, nothing applied.
      const { evaluations } = await evaluateCanaries(rollout, { ...(roleFilter === undefined ? {} : { role: roleFilter }), sweep: false });
      for (const e of evaluations) {
        current.set(e.canaryId, { action: e.decision.action, rule: e.decision.rule, reason: e.decision.reason, epochs: epochRows(e.decision.evidence.epochs) ?? [] });
      }
    } catch (error) {
      warnings.push(`could not evaluate running canaries: ${(error as Error).message}`);
    }
  }

  const canaries: CanaryReport[] = [];
  for (const [canaryId, canaryEvents] of byCanary) {
    canaries.push(buildCanary(canaryId, canaryEvents, raw.get(canaryId)!, modelOf, originOf, current.get(canaryId) ?? null, maxPoints));
  }
  canaries.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));

  const roles: RoleReport[] = [...roleCounts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([role, perVersion]) => {
      const list = [...perVersion.entries()].map(([versionId, c]) => ({ versionId, model: modelOf.get(versionId) ?? null, stable: c.stable, canary: c.canary }));
      const totals = list.reduce((t, v) => ({ tasks: t.tasks + v.stable.tasks + v.canary.tasks, passed: t.passed + v.stable.passed + v.canary.passed }), { tasks: 0, passed: 0 });
      return { role, versions: list, totals };
    });

  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    generatedAt: rollout.now().toISOString(),
    projectRoot: resolve(rollout.root),
    role: roleFilter ?? null,
    canaries,
    roles,
    events: events.map((e) => ({
      at: e.at,
      role: e.role,
      action: e.action,
      from: e.from,
      to: e.to,
      canaryId: e.canaryId,
      actor: e.actor,
      reason: e.reason,
      revision: e.revision,
      percentage: e.toPercentage ?? e.percentage ?? null,
    })),
    warnings,
  };
}

function buildCanary(
  canaryId: string,
  events: readonly AuditEvent[],
  raw: RawCanary,
  modelOf: ReadonlyMap<string, string | null>,
  originOf: ReadonlyMap<string, string>,
  current: (CanaryReport['current'] & { epochs: ReportEpochRow[] }) | null,
  maxPoints: number,
): CanaryReport {
  const start = events[0]!;
  // Epoch -> evidence window, from the transitions. Evidence never restarts: every step and
  // percentage change starts a new epoch in the canary's one window (a canary judged by an
  // earlier version, whose steps restarted the evidence, is drawn the same way).
  let epoch = 0;
  const windowIndex = 0;
  const windowOfEpoch = new Map<number, number>([[0, 0]]);
  const percentagesOfWindow: number[][] = [[start.percentage ?? 0]];
  /** The window and epoch in force when each event happened (the decision's window). */
  const eventWindow = new Map<AuditEvent, number>();
  /** The window in force right after each event. */
  const windowAfter = new Map<AuditEvent, number>();
  const windowOfEpochAfter = (event: AuditEvent): number => windowAfter.get(event) ?? 0;
  for (const event of events) {
    eventWindow.set(event, windowIndex);
    if (event.action === 'step' || (event.action === 'percentage' && event.fromPercentage !== event.toPercentage)) {
      epoch += 1;
      const to = event.toPercentage ?? event.percentage;
      windowOfEpoch.set(epoch, windowIndex);
      if (to !== undefined) percentagesOfWindow[windowIndex]!.push(to);
    }
    windowAfter.set(event, windowIndex);
  }
  const windowFor = (e: number): number => {
    const direct = windowOfEpoch.get(e);
    if (direct !== undefined) return direct;
    // An epoch the audit log does not explain (e.g. a filtered or damaged log): the latest earlier one.
    let best = 0;
    for (const [known, w] of windowOfEpoch) if (known <= e && w > best) best = w;
    return best;
  };

  // Outcomes per window, in ledger order.
  const perWindow: number[][] = percentagesOfWindow.map(() => []);
  for (let i = 0; i < raw.packed.length; i++) perWindow[windowFor(Math.floor(raw.packed[i]! / 4))]!.push(i);

  const windows: ReportWindow[] = [];
  let axisStart = 0;
  const totals = { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } };
  /** Per window, after each outcome: [x, stable tasks, canary tasks], to place decisions exactly. */
  const cumulative: Array<Array<[number, number, number]>> = [];
  /** Per window, the x of each outcome (same order as perWindow), to place events by time. */
  const xsOfWindow: number[][] = [];
  for (let w = 0; w < perWindow.length; w++) {
    const indices = perWindow[w]!;
    const isCanary = (k: number) => (raw.packed[indices[k]!]! & 2) !== 0;
    // x = canary outcomes so far: the k-th canary outcome sits at axisStart + k; the stable outcomes
    // recorded between canary outcomes k and k + 1 are spread evenly over (axisStart + k, axisStart + k + 1).
    const xs: number[] = new Array<number>(indices.length);
    let canarySeen = 0;
    let gapStart = 0;
    const flushGap = (end: number) => {
      const size = end - gapStart;
      for (let j = 0; j < size; j++) xs[gapStart + j] = axisStart + canarySeen + (j + 1) / (size + 1);
    };
    for (let k = 0; k < indices.length; k++) {
      if (!isCanary(k)) continue;
      flushGap(k);
      canarySeen += 1;
      xs[k] = axisStart + canarySeen;
      gapStart = k + 1;
    }
    flushGap(indices.length);
    const trailing = indices.length - gapStart > 0 || canarySeen === 0 ? 1 : 0;
    const stableAll: Array<[number, number, number]> = [];
    const canaryAll: Array<[number, number, number]> = [];
    const cum: Array<[number, number, number]> = [];
    let st = 0;
    let sp = 0;
    let ct = 0;
    let cp = 0;
    for (let k = 0; k < indices.length; k++) {
      const passed = (raw.packed[indices[k]!]! & 1) !== 0;
      const x = xs[k]!;
      if (isCanary(k)) {
        ct += 1;
        if (passed) cp += 1;
        canaryAll.push([x, ct, cp]);
      } else {
        st += 1;
        if (passed) sp += 1;
        stableAll.push([x, st, sp]);
      }
      cum.push([x, st, ct]);
    }
    cumulative.push(cum);
    xsOfWindow.push(xs);
    totals.stable.tasks += st;
    totals.stable.passed += sp;
    totals.canary.tasks += ct;
    totals.canary.passed += cp;
    const width = canarySeen + trailing;
    windows.push({
      index: w,
      percentages: percentagesOfWindow[w]!,
      startX: axisStart,
      endX: axisStart + width,
      stable: downsample(stableAll, maxPoints).map(toPoint),
      canary: downsample(canaryAll, maxPoints).map(toPoint),
      totals: { stable: { tasks: st, passed: sp }, canary: { tasks: ct, passed: cp } },
      evidenceEndX: null,
      late: { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } },
    });
    axisStart += width;
  }

  const place = (event: AuditEvent, evidence: ReportEvidence | null): { x: number; placement: ReportMarker['placement'] } => {
    const w = eventWindow.get(event) ?? 0;
    const cum = cumulative[w] ?? [];
    const window = windows[w]!;
    if (evidence?.stable && evidence.canary) {
      const hit = cum.find(([, st, ct]) => st === evidence.stable!.tasks && ct === evidence.canary!.tasks);
      if (hit) return { x: hit[0], placement: 'evidence' };
    }
    const at = Date.parse(event.at);
    if (!Number.isNaN(at)) {
      const indices = perWindow[w]!;
      let last = -1;
      for (let k = 0; k < indices.length; k++) if (raw.times[indices[k]!]! <= at) last = k;
      if (last >= 0 && last < indices.length - 1) return { x: xsOfWindow[w]![last]!, placement: 'time' };
    }
    return { x: window.endX, placement: 'end' };
  };

  const markers: ReportMarker[] = [];
  let decision: ReportMarker | null = null;
  const alertFailures: CanaryReport['alertFailures'] = [];
  for (const event of events) {
    if (event.action === 'alert-failed') {
      alertFailures.push({ at: event.at, reason: event.reason });
      continue;
    }
    if (event.action !== 'start' && event.action !== 'percentage' && event.action !== 'step' && event.action !== 'promote' && event.action !== 'rollback') continue;
    const evidence = readEvidence(event.evidence);
    const { x, placement } = event.action === 'start' ? { x: 0, placement: 'end' as const } : place(event, evidence);
    const w = eventWindow.get(event) ?? 0;
    // A step that restarted evidence closes window w at its decision point and is drawn on the next window's edge.
    const closesWindow = event.action === 'step' ? windows[w + 1] !== undefined && windowOfEpochAfter(event) === w + 1 : event.action === 'promote' || event.action === 'rollback';
    if (closesWindow && event.action !== 'start') closeWindow(windows[w]!, perWindow[w]!, xsOfWindow[w]!, raw.packed, x);
    const edge = event.action === 'step' && closesWindow;
    const marker: ReportMarker = {
      kind: event.action,
      x: edge ? windows[w + 1]!.startX : x,
      windowEdge: edge,
      placement,
      at: event.at,
      actor: event.actor,
      reason: event.reason,
      fromPercentage: event.fromPercentage ?? (event.action === 'promote' || event.action === 'rollback' ? (event.percentage ?? null) : null),
      toPercentage: event.toPercentage ?? (event.action === 'start' ? (event.percentage ?? null) : event.action === 'promote' ? 100 : event.action === 'rollback' ? 0 : null),
      rule: deriveRule(event.action, evidence),
      evidence,
      revision: event.revision,
    };
    markers.push(marker);
    if (event.action === 'promote' || event.action === 'rollback') decision = marker;
  }

  const versionId = start.to ?? '';
  return {
    canaryId,
    role: start.role,
    versionId,
    baseVersionId: start.from,
    model: modelOf.get(versionId) ?? null,
    baseModel: start.from ? (modelOf.get(start.from) ?? null) : null,
    origin: originOf.get(versionId) ?? null,
    startedAt: start.at,
    startedBy: start.actor,
    startPercentage: start.percentage ?? null,
    status: decision === null ? 'running' : decision.kind === 'promote' ? 'promoted' : 'rolled back',
    totalX: axisStart,
    windows,
    markers,
    decision,
    current: decision === null && current !== null ? { action: current.action, rule: current.rule, reason: current.reason } : null,
    epochs: decision === null ? (current?.epochs ?? []) : (decision.evidence?.epochs ?? []),
    totals,
    alertFailures,
  };
}

/** Mark `window` as decided at `cutX`: the outcomes to its right are counted as late. */
function closeWindow(window: ReportWindow, indices: readonly number[], xs: readonly number[], packed: readonly number[], cutX: number): void {
  window.evidenceEndX = cutX;
  const late = { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } };
  for (let k = 0; k < indices.length; k++) {
    if (xs[k]! <= cutX) continue;
    const value = packed[indices[k]!]!;
    const arm = late[(value & 2) !== 0 ? 'canary' : 'stable'];
    arm.tasks += 1;
    if ((value & 1) !== 0) arm.passed += 1;
  }
  window.late = late;
}

function toPoint([x, tasks, passed]: [number, number, number]): ReportPoint {
  const interval = jeffreysInterval(passed, tasks) ?? [0, 1];
  return { x, tasks, passed, rate: tasks > 0 ? passed / tasks : 0, lower: interval[0], upper: interval[1] };
}

/** Keep at most `max` points, evenly spread, always the first and the last. */
function downsample<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  const step = (points.length - 1) / (max - 1);
  let last = -1;
  for (let i = 0; i < max; i++) {
    const index = Math.round(i * step);
    if (index !== last) out.push(points[index]!);
    last = index;
  }
  return out;
}

/** The audit evidence (AuditEvidenceSchema) as the report draws it; null when the event carries none. */
export function readEvidence(value: unknown): ReportEvidence | null {
  const evidence = parseAuditEvidence(value);
  if (evidence === null) return null;
  return {
    policy: evidence.policy,
    rule: evidence.rule ?? null,
    stable: evidence.stable,
    canary: evidence.canary,
    difference: evidence.difference ?? null,
    statistic: evidence.statistic ?? null,
    srm: evidence.srm ?? null,
    guardrails: evidence.guardrails ?? null,
    epochs: epochRows(evidence.epochs),
  };
}

function epochRows(epochs: AuditEvidence['epochs']): ReportEpochRow[] | null {
  if (!epochs) return null;
  const arm = (a: NonNullable<AuditEvidence['epochs']>[number]['stable']): ReportEpochArm => ({
    assigned: a.assigned,
    awaiting: a.awaiting,
    timedOut: a.timedOut,
    late: a.late,
    tasks: a.tasks,
    passed: a.passed,
  });
  return epochs.map((e) => ({ epoch: e.epoch, percentage: e.percentage, stable: arm(e.stable), canary: arm(e.canary), difference: e.difference }));
}

function deriveRule(action: AuditEvent['action'], evidence: ReportEvidence | null): string | null {
  if (evidence === null) return null;
  if (evidence.rule !== null) return evidence.rule;
  const breached = evidence.guardrails?.find((g) => g.breached);
  if (action === 'rollback' && breached) return `guardrail.${breached.metric}`;
  const verdict = action === 'rollback' ? 'rollback' : action === 'promote' || action === 'step' ? 'promote' : null;
  if (verdict === null || evidence.policy === null) return null;
  return `${evidence.policy}.${verdict}`;
}
