import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { comparison, type Comparison, type Stratum } from './comparison.js';
import { assertPassCounts, StatsInputError } from './errors.js';
import type { CanaryEvidence, EvidenceCell, PassTally } from './evidence.js';
import { checkGuardrail, GUARDRAIL_CONSTANTS, type GuardrailResult, type MetricGroup } from './guardrails.js';
import { jeffreysInterval, moverDifferenceInterval } from './intervals.js';
import {
  differenceConfidenceSequence,
  logEvidenceBetter,
  logEvidenceWorse,
  projectedDecisionSize,
  SEQUENTIAL_CONSTANTS,
  sequentialParams,
  sequentialVerdict,
  type SequentialParams,
} from './sequential.js';
import { SRM_ALPHA, srmCheck } from './srm.js';
import { mergeMetric } from './stats.js';
import { scaledMargin, thresholdVerdict } from './threshold.js';
import {
  GUARDRAIL_METRICS,
  type ArmEvidence,
  type ArmStats,
  type AttritionEvidence,
  type Decision,
  type DecisionAction,
  type DecisionEvidence,
  type DecisionSettings,
  type EpochEvidence,
  type GateEvidence,
  type GuardrailMetric,
  type RuleId,
  type SrmEvidence,
  type StratumEvidence,
} from './types.js';

/** An epoch of the canary and its configured percentage (0..100). */
export interface EpochConfig {
  epoch: number;
  percentage: number;
}

export interface DecideContext {
  /** The epoch the canary is in now (promotion needs min_canary_tasks in it); default: the last listed. */
  currentEpoch?: number;
}

/** Settings with everything derived from them precomputed (shared by `decide` and the simulator). */
export interface CompiledSettings {
  settings: DecisionSettings;
  /** how many guardrails are configured (each takes GUARDRAIL_CONSTANTS.alpha of the family's alpha) */
  guardrails: GuardrailMetric[];
  /** pass-rate tests without / with per-gate tests in the family */
  sequential: SequentialParams;
  sequentialWithGates: SequentialParams;
  marginMillionths: bigint;
}

export function compileSettings(settings: DecisionSettings): CompiledSettings {
  if (settings.policy !== 'sequential' && settings.policy !== 'threshold') throw new StatsInputError(`unknown policy ${String(settings.policy)}`);
  if (!Number.isInteger(settings.minCanaryTasks) || settings.minCanaryTasks < 1) {
    throw new StatsInputError(`minCanaryTasks must be an integer >= 1, got ${settings.minCanaryTasks}`);
  }
  if (!(settings.rollbackMargin >= 0 && settings.rollbackMargin <= 1)) {
    throw new StatsInputError(`rollbackMargin must be in [0, 1], got ${settings.rollbackMargin}`);
  }
  const guardrails = GUARDRAIL_METRICS.filter((m) => {
    const g = settings.guardrails?.[m] ?? null;
    if (g !== null && !(Number.isFinite(g.maxIncrease) && g.maxIncrease >= 0)) throw new StatsInputError(`guardrail ${m}: maxIncrease must be a finite number >= 0`);
    return g !== null;
  });
  const c = SEQUENTIAL_CONSTANTS;
  const alpha = c.alphaFamily - guardrails.length * c.alphaGuardrail;
  return {
    settings,
    guardrails,
    sequential: sequentialParams(settings.rollbackMargin, alpha),
    sequentialWithGates: sequentialParams(settings.rollbackMargin, alpha - c.alphaGates),
    marginMillionths: scaledMargin(settings.rollbackMargin),
  };
}

// ---------------------------------------------------------------------------------------------
// the evidence, prepared for a decision

interface Group {
  percentage: number;
  stratum: string | null;
  stable: PassTally;
  canary: PassTally;
}

/** The evidence grouped for the tests; built once per decision. */
export interface PreparedEvidence {
  evidence: CanaryEvidence;
  epochs: ReadonlyMap<number, number>;
  currentEpoch: number | null;
  /** counted tallies per (percentage, stratum): splitting an epoch changes nothing */
  groups: Group[];
  combined: { stable: PassTally; canary: PassTally };
  currentCanaryTasks: number;
  hasStrata: boolean;
  gateNames: string[];
}

const tally = (): PassTally => ({ tasks: 0, passed: 0 });

export function epochMap(epochs: readonly EpochConfig[]): Map<number, number> {
  if (!Array.isArray(epochs)) throw new StatsInputError('epochs must be an array of { epoch, percentage }');
  const map = new Map<number, number>();
  for (const e of epochs) {
    if (!Number.isSafeInteger(e?.epoch) || e.epoch < 0) throw new StatsInputError(`epoch must be a non-negative integer, got ${String(e?.epoch)}`);
    if (typeof e.percentage !== 'number' || !Number.isFinite(e.percentage) || e.percentage < 0 || e.percentage > 100) {
      throw new StatsInputError(`epoch ${e.epoch}: percentage must be a finite number in [0, 100], got ${String(e.percentage)}`);
    }
    const prev = map.get(e.epoch);
    if (prev !== undefined && prev !== e.percentage) throw new StatsInputError(`epoch ${e.epoch} is listed with two percentages (${prev} and ${e.percentage})`);
    map.set(e.epoch, e.percentage);
  }
  return map;
}

function percentageOf(epochs: ReadonlyMap<number, number>, epoch: number): number {
  const p = epochs.get(epoch);
  if (p === undefined) throw new StatsInputError(`the evidence has tasks of epoch ${epoch}, which the epochs list does not describe`);
  return p;
}

function checkCell(c: EvidenceCell): void {
  assertPassCounts(c.stable?.passed, c.stable?.tasks, `epoch ${String(c.epoch)} stable`);
  assertPassCounts(c.canary?.passed, c.canary?.tasks, `epoch ${String(c.epoch)} canary`);
  for (const [name, g] of Object.entries(c.gates ?? {})) {
    assertPassCounts(g.stable?.passed, g.stable?.tasks, `epoch ${String(c.epoch)} gate ${name} stable`);
    assertPassCounts(g.canary?.passed, g.canary?.tasks, `epoch ${String(c.epoch)} gate ${name} canary`);
  }
}

export function prepareEvidence(evidence: CanaryEvidence, epochs: readonly EpochConfig[], context: DecideContext = {}): PreparedEvidence {
  return prepareWithMap(evidence, epochMap(epochs), context);
}

/** prepareEvidence with the epochs already checked and mapped (the simulator's hot path). */
export function prepareWithMap(evidence: CanaryEvidence, map: ReadonlyMap<number, number>, context: DecideContext = {}): PreparedEvidence {
  if (evidence === null || typeof evidence !== 'object' || !Array.isArray(evidence.cells)) throw new StatsInputError('evidence must be a CanaryEvidence (see emptyCanaryEvidence)');
  let currentEpoch: number | null = null;
  if (context.currentEpoch !== undefined) {
    percentageOf(map, context.currentEpoch);
    currentEpoch = context.currentEpoch;
  } else for (const e of map.keys()) if (currentEpoch === null || e > currentEpoch) currentEpoch = e;
  const byKey = new Map<string, Group>();
  const combined = { stable: tally(), canary: tally() };
  let currentCanaryTasks = 0;
  let hasStrata = false;
  const gates = new Set<string>();
  for (const c of evidence.cells) {
    checkCell(c);
    const percentage = percentageOf(map, c.epoch);
    if (c.stratum !== null) hasStrata = true;
    const key = c.stratum === null ? `${percentage}` : `${percentage}:${c.stratum}`;
    let g = byKey.get(key);
    if (g === undefined) byKey.set(key, (g = { percentage, stratum: c.stratum, stable: tally(), canary: tally() }));
    for (const arm of ['stable', 'canary'] as const) {
      g[arm].tasks += c[arm].tasks;
      g[arm].passed += c[arm].passed;
      combined[arm].tasks += c[arm].tasks;
      combined[arm].passed += c[arm].passed;
    }
    if (c.epoch === currentEpoch) currentCanaryTasks += c.canary.tasks;
    for (const name in c.gates) gates.add(name);
  }
  for (const key of Object.keys(evidence.epochs ?? {})) percentageOf(map, Number(key));
  return { evidence, epochs: map, currentEpoch, groups: [...byKey.values()], combined, currentCanaryTasks, hasStrata, gateNames: [...gates].sort() };
}

/** The standardized comparison over groups (strata weighted by their share of comparable tasks). */
function comparisonOf(groups: ReadonlyArray<{ stratum: string | null; stable: PassTally; canary: PassTally }>): Comparison | null {
  const strata = new Map<string | null, { tasks: number; cells: Stratum['cells'] }>();
  let total = 0;
  for (const g of groups) {
    if (g.stable.tasks === 0 || g.canary.tasks === 0) continue; // a cell with one arm says nothing about the difference
    let s = strata.get(g.stratum);
    if (s === undefined) strata.set(g.stratum, (s = { tasks: 0, cells: [] }));
    s.cells.push({ stablePassed: g.stable.passed, stableTasks: g.stable.tasks, canaryPassed: g.canary.passed, canaryTasks: g.canary.tasks });
    s.tasks += g.stable.tasks + g.canary.tasks;
    total += g.stable.tasks + g.canary.tasks;
  }
  if (total === 0) return null;
  const keys = [...strata.keys()].sort((a, b) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1));
  return comparison(keys.map((k) => ({ weight: strata.get(k)!.tasks / total, cells: strata.get(k)!.cells })));
}

function gateGroups(prep: PreparedEvidence, gate: string): Group[] {
  const byKey = new Map<string, Group>();
  for (const c of prep.evidence.cells) {
    const t = c.gates[gate];
    if (t === undefined) continue;
    const percentage = prep.epochs.get(c.epoch)!;
    const key = c.stratum === null ? `${percentage}` : `${percentage}:${c.stratum}`;
    let g = byKey.get(key);
    if (g === undefined) byKey.set(key, (g = { percentage, stratum: c.stratum, stable: tally(), canary: tally() }));
    for (const arm of ['stable', 'canary'] as const) {
      g[arm].tasks += t[arm].tasks;
      g[arm].passed += t[arm].passed;
    }
  }
  return [...byKey.values()];
}

/** Real-outcome metrics per percentage group (for guardrails). */
function metricGroups(prep: PreparedEvidence, metric: GuardrailMetric): MetricGroup[] {
  const byPct = new Map<number, { stable: ArmStats['costUsd']; canary: ArmStats['costUsd'] }>();
  for (const [key, e] of Object.entries(prep.evidence.epochs)) {
    const pct = prep.epochs.get(Number(key))!;
    const g = byPct.get(pct) ?? { stable: null, canary: null };
    g.stable = mergeMetric(g.stable, e.stable.outcomes[metric]);
    g.canary = mergeMetric(g.canary, e.canary.outcomes[metric]);
    byPct.set(pct, g);
  }
  return [...byPct.values()];
}


// ---------------------------------------------------------------------------------------------
// the verdict (shared by decide and the simulator)

export interface CountsVerdict {
  action: DecisionAction;
  rule: RuleId | `gate.${string}` | `guardrail.${GuardrailMetric}`;
}

export interface Verdict extends CountsVerdict {
  guardrails: GuardrailResult[];
  comparison: Comparison | null;
  params: SequentialParams;
  gates: Array<{ gate: string; groups: Group[]; comparison: Comparison | null; logEvidence: number; alpha: number; breached: boolean }>;
  srm: SrmEvidence | null;
  enoughTasks: boolean;
}

function srmOf(prep: PreparedEvidence): SrmEvidence | null {
  const rows = Object.entries(prep.evidence.epochs).map(([key, e]) => ({ epoch: Number(key), percentage: prep.epochs.get(Number(key))!, stable: e.stable.assigned, canary: e.canary.assigned }));
  return srmCheck(rows).evidence;
}

/**
 * The rules, in order (README, "Rules"): guardrails -> pass-rate rollback (any time the evidence
 * is strong) -> per-gate rollback -> min-tasks / no-stable-outcomes -> promote (held by a sample
 * ratio mismatch) -> continue. The threshold policy is the seed's rule on the pooled counts.
 */
export function evidenceVerdict(c: CompiledSettings, prep: PreparedEvidence): Verdict {
  const s = c.settings;
  const guardrails: GuardrailResult[] = [];
  for (const metric of c.guardrails) {
    const r = checkGuardrail(metric, metricGroups(prep, metric), s.guardrails[metric]!, s.minCanaryTasks);
    if (r !== null) guardrails.push(r);
  }
  const params = prep.gateNames.length > 0 ? c.sequentialWithGates : c.sequential;
  const out: Verdict = { action: 'continue', rule: 'min-tasks', guardrails, comparison: null, params, gates: [], srm: null, enoughTasks: false };
  const done = (action: DecisionAction, rule: Verdict['rule']): Verdict => {
    out.action = action;
    out.rule = rule;
    return out;
  };
  const breached = guardrails.find((r) => r.breached);
  if (breached !== undefined) return done('rollback', `guardrail.${breached.metric}`);
  const { stable, canary } = prep.combined;
  if (s.policy === 'threshold') {
    out.enoughTasks = canary.tasks >= s.minCanaryTasks;
    if (!out.enoughTasks) return done('continue', 'min-tasks');
    if (stable.tasks < 1) return done('continue', 'no-stable-outcomes');
    const v = thresholdVerdict(stable.passed, stable.tasks, canary.passed, canary.tasks, c.marginMillionths);
    if (v === -1) return done('rollback', 'threshold.rollback');
    if (v === 0) return done('continue', 'threshold.continue');
    out.srm = srmOf(prep);
    return out.srm?.holding ? done('continue', 'srm-hold') : done('promote', 'threshold.promote');
  }
  out.enoughTasks = canary.tasks >= s.minCanaryTasks && prep.currentCanaryTasks >= s.minCanaryTasks;
  const cmp = comparisonOf(prep.groups);
  out.comparison = cmp;
  const v = cmp === null ? 0 : sequentialVerdict(cmp, params, out.enoughTasks);
  if (v === -1) return done('rollback', 'sequential.rollback');
  if (prep.gateNames.length > 0) {
    const alpha = SEQUENTIAL_CONSTANTS.alphaGates / prep.gateNames.length;
    const gp = sequentialParams(s.rollbackMargin, alpha);
    for (const gate of prep.gateNames) {
      const groups = gateGroups(prep, gate);
      const gc = comparisonOf(groups);
      const logEvidence = gc === null || gc.estimate >= 0 ? 0 : logEvidenceWorse(gc, 0, gp);
      out.gates.push({ gate, groups, comparison: gc, logEvidence, alpha, breached: logEvidence >= gp.logThresholdRollback });
    }
    const g = out.gates.find((x) => x.breached);
    if (g !== undefined) return done('rollback', `gate.${g.gate}`);
  }
  if (!out.enoughTasks) return done('continue', 'min-tasks');
  if (cmp === null) return done('continue', 'no-stable-outcomes');
  if (v === 0) return done('continue', 'sequential.continue');
  out.srm = srmOf(prep);
  return out.srm?.holding ? done('continue', 'srm-hold') : done('promote', 'sequential.promote');
}

// ---------------------------------------------------------------------------------------------
// formatting

const pct = (x: number) => `${Math.round(x * 100)} %`;
const pctRange = (i: readonly [number, number]) => `${Math.round(i[0] * 100)}-${Math.round(i[1] * 100)} %`;
const points = (x: number) => `${(Math.round(x * 1000) / 10).toFixed(1)} points`;

function fmtNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return x.toExponential(1);
  if (a >= 100) return String(Math.round(x));
  return String(Number(x.toPrecision(3)));
}

function fmtEValue(logE: number): string {
  if (logE === Infinity || logE > Math.log(1e12)) return '> 10^12';
  if (logE === -Infinity || logE < Math.log(1e-3)) return '< 0.001';
  return fmtNumber(Math.exp(logE));
}

function armPhrase(name: string, a: ArmEvidence): string {
  if (a.passRate === null || a.interval === null) return `${name} 0/0`;
  return `${name} ${a.passed}/${a.tasks} passed (${pct(a.passRate)}, 95 % CI ${pctRange(a.interval)})`;
}

function armEvidence(t: PassTally): ArmEvidence {
  return { tasks: t.tasks, passed: t.passed, passRate: t.tasks > 0 ? t.passed / t.tasks : null, interval: jeffreysInterval(t.passed, t.tasks) };
}

/** Keep statistics JSON-safe (no Infinity / NaN in persisted evidence). */
const finiteLog = (x: number) => (Number.isNaN(x) ? 0 : Math.max(-1000, Math.min(1000, x)));

function epochEvidence(prep: PreparedEvidence): EpochEvidence[] {
  const counted = new Map<number, { stable: PassTally; canary: PassTally }>();
  for (const c of prep.evidence.cells) {
    const t = counted.get(c.epoch) ?? { stable: tally(), canary: tally() };
    for (const arm of ['stable', 'canary'] as const) {
      t[arm].tasks += c[arm].tasks;
      t[arm].passed += c[arm].passed;
    }
    counted.set(c.epoch, t);
  }
  const keys = new Set<number>([...counted.keys(), ...Object.keys(prep.evidence.epochs).map(Number)]);
  return [...keys]
    .sort((a, b) => a - b)
    .map((epoch) => {
      const e = prep.evidence.epochs[String(epoch)];
      const t = counted.get(epoch) ?? { stable: tally(), canary: tally() };
      const arm = (name: 'stable' | 'canary') => ({
        assigned: e?.[name].assigned ?? 0,
        awaiting: e?.[name].awaiting ?? 0,
        timedOut: e?.[name].timedOut ?? 0,
        late: e?.[name].late ?? 0,
        tasks: t[name].tasks,
        passed: t[name].passed,
        passRate: t[name].tasks > 0 ? t[name].passed / t[name].tasks : null,
      });
      const stable = arm('stable');
      const canary = arm('canary');
      return { epoch, percentage: prep.epochs.get(epoch)!, stable, canary, difference: stable.passRate !== null && canary.passRate !== null ? canary.passRate - stable.passRate : null };
    });
}

/** Differential attrition: equal timeout shares per arm, tested within percentage groups (CMH). */
function attrition(prep: PreparedEvidence): AttritionEvidence | null {
  const byPct = new Map<number, { ns: number; nc: number; ts: number; tc: number }>();
  const tot = { ns: 0, nc: 0, ts: 0, tc: 0 };
  for (const [key, e] of Object.entries(prep.evidence.epochs)) {
    const p = prep.epochs.get(Number(key))!;
    const g = byPct.get(p) ?? { ns: 0, nc: 0, ts: 0, tc: 0 };
    g.ns += e.stable.assigned;
    g.nc += e.canary.assigned;
    g.ts += e.stable.timedOut;
    g.tc += e.canary.timedOut;
    byPct.set(p, g);
    tot.ns += e.stable.assigned;
    tot.nc += e.canary.assigned;
    tot.ts += e.stable.timedOut;
    tot.tc += e.canary.timedOut;
  }
  if (tot.ns + tot.nc === 0) return null;
  let num = 0;
  let varSum = 0;
  for (const g of byPct.values()) {
    const n = g.ns + g.nc;
    const m = Math.min(n, g.ts + g.tc);
    if (n < 2) continue;
    num += g.tc - (m * g.nc) / n;
    varSum += (g.nc * g.ns * m * (n - m)) / (n * n * (n - 1));
  }
  const pValue = varSum > 0 ? Math.min(1, 2 * (1 - normalCdf(Math.abs(num) / Math.sqrt(varSum), 0, 1))) : 1;
  const share = (t: number, n: number) => (n > 0 ? Math.min(1, t / n) : null);
  return {
    stable: { assigned: tot.ns, timedOut: tot.ts, share: share(tot.ts, tot.ns) },
    canary: { assigned: tot.nc, timedOut: tot.tc, share: share(tot.tc, tot.nc) },
    pValue: Number.isFinite(pValue) ? pValue : 1,
    differential: pValue < SRM_ALPHA,
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * Decide what to do with a canary from its evidence over its whole life (every epoch, every
 * stratum). Pure; evaluation after every outcome is intended. Impossible input throws
 * StatsInputError ('INVALID_STATS_INPUT').
 */
export function decide(evidence: CanaryEvidence, epochs: readonly EpochConfig[], settings: DecisionSettings, context: DecideContext = {}): Decision {
  const compiled = compileSettings(settings);
  const prep = prepareEvidence(evidence, epochs, context);
  const verdict = evidenceVerdict(compiled, prep);
  const policy = settings.policy;
  const { stable, canary } = prep.combined;
  const stableEv = armEvidence(stable);
  const canaryEv = armEvidence(canary);
  const after = `${policy} policy, after ${canary.tasks} canary task${canary.tasks === 1 ? '' : 's'}${prep.epochs.size > 1 ? ` over ${prep.epochs.size} epochs` : ''}`;
  const arms = `${armPhrase('canary', canaryEv)} vs ${armPhrase('stable', stableEv)}`;
  const evidenceOut: DecisionEvidence = { policy, stable: stableEv, canary: canaryEv };
  const cmp = verdict.comparison;
  const p = verdict.params;

  let logWorse = 0;
  let logBetter = 0;
  if (policy === 'sequential') {
    if (cmp !== null) {
      evidenceOut.difference = { estimate: cmp.estimate, interval: differenceConfidenceSequence(cmp, canary.tasks) };
      logWorse = logEvidenceWorse(cmp, 0, p);
      logBetter = logEvidenceBetter(cmp, -settings.rollbackMargin, p);
    }
    evidenceOut.statistic = {
      logEvidenceWorse: finiteLog(logWorse),
      logEvidenceNotWorseByMargin: finiteLog(logBetter),
      logThresholdRollback: p.logThresholdRollback,
      logThresholdPromote: p.logThresholdPromote,
      alphaRollback: p.alphaRollback,
      alphaPromote: SEQUENTIAL_CONSTANTS.alphaPromote,
      alphaGuardrails: compiled.guardrails.length * GUARDRAIL_CONSTANTS.alpha,
      alphaGates: prep.gateNames.length > 0 ? SEQUENTIAL_CONSTANTS.alphaGates : 0,
    };
  } else if (canary.tasks > 0 && stable.tasks > 0) {
    const estimate = canaryEv.passRate! - stableEv.passRate!;
    evidenceOut.difference = { estimate, interval: moverDifferenceInterval(canaryEv.passRate!, canaryEv.interval!, stableEv.passRate!, stableEv.interval!) };
    evidenceOut.statistic = { stableMinusCanary: 0 - estimate, margin: settings.rollbackMargin };
  }

  const srm = verdict.srm ?? srmOf(prep);
  if (srm !== null) evidenceOut.srm = srm;
  evidenceOut.epochs = epochEvidence(prep);
  const summaryAwaiting = { stable: 0, canary: 0 };
  for (const e of Object.values(prep.evidence.epochs)) {
    summaryAwaiting.stable += e.stable.awaiting;
    summaryAwaiting.canary += e.canary.awaiting;
  }
  evidenceOut.awaiting = summaryAwaiting;
  const att = attrition(prep);
  if (att !== null) evidenceOut.attrition = att;
  if (prep.hasStrata) evidenceOut.strata = strataEvidence(prep, cmp);
  if (verdict.gates.length > 0) {
    evidenceOut.gates = verdict.gates.map((g): GateEvidence => {
      const s = tally();
      const c = tally();
      for (const x of g.groups) {
        s.tasks += x.stable.tasks;
        s.passed += x.stable.passed;
        c.tasks += x.canary.tasks;
        c.passed += x.canary.passed;
      }
      return { gate: g.gate, stable: armEvidence(s), canary: armEvidence(c), logEvidenceWorse: finiteLog(g.logEvidence), alpha: g.alpha, breached: g.breached };
    });
  }
  if (verdict.guardrails.length > 0) {
    evidenceOut.guardrails = verdict.guardrails.map((r) => ({ metric: r.metric, stableMean: r.stableMean, canaryMean: r.canaryMean, limit: r.limit, breached: r.breached }));
  }
  evidenceOut.tasksNeeded = tasksNeeded(verdict, compiled, prep);

  const rule = verdict.rule;
  let reason: string;
  if (rule.startsWith('guardrail.')) {
    const b = verdict.guardrails.find((r) => r.breached)!;
    const rel = b.stableMean > 0 ? ` (${b.canaryMean >= b.stableMean ? '+' : ''}${Math.round((b.canaryMean / b.stableMean - 1) * 100)} %)` : '';
    reason =
      `${b.metric} guardrail breached: canary mean ${fmtNumber(b.canaryMean)} vs stable ${fmtNumber(b.stableMean)}${rel}, ` +
      `above the +${Math.round(b.maxIncrease * 100)} % limit (${fmtNumber(b.limit)}) with e-value ${fmtEValue(b.logEvidence)} >= ${fmtNumber(1 / GUARDRAIL_CONSTANTS.alpha)} ` +
      `(${b.canarySamples} canary and ${b.stableSamples} stable samples; ${arms})`;
  } else if (rule.startsWith('gate.')) {
    const g = verdict.gates.find((x) => x.breached)!;
    const ge = evidenceOut.gates!.find((x) => x.gate === g.gate)!;
    reason = `gate ${g.gate}: ${armPhrase('canary', ge.canary)} vs ${armPhrase('stable', ge.stable)}; evidence that the canary is worse on it: e-value ${fmtEValue(g.logEvidence)} >= ${fmtNumber(1 / g.alpha)} (${after})`;
  } else {
    switch (rule) {
      case 'min-tasks': {
        const cur = prep.currentCanaryTasks;
        const where = cur < settings.minCanaryTasks && canary.tasks >= settings.minCanaryTasks ? `only ${cur} of ${settings.minCanaryTasks} canary outcomes in the current epoch` : `only ${canary.tasks} of ${settings.minCanaryTasks} canary outcomes so far`;
        reason = `${where} (${arms}); no promotion or step before min_canary_tasks (a rollback needs strong evidence: e-value ${fmtEValue(logWorse)}, needs ${fmtNumber(1 / p.alphaRollback)})`;
        break;
      }
      case 'no-stable-outcomes':
        reason = `canary has ${canary.tasks} outcomes (${canary.passed} passed) but stable has none in the same epochs, so there is nothing to compare against`;
        break;
      case 'threshold.promote':
        reason = `${arms}: canary pass rate >= stable's (${after})`;
        break;
      case 'threshold.rollback':
        reason = `${arms}: canary is ${points(stableEv.passRate! - canaryEv.passRate!)} below stable, more than the margin of ${points(settings.rollbackMargin)} (${after})`;
        break;
      case 'threshold.continue':
        reason = `${arms}: canary is ${points(stableEv.passRate! - canaryEv.passRate!)} below stable, not more than the margin of ${points(settings.rollbackMargin)} (${after})`;
        break;
      case 'sequential.rollback':
        reason = `${arms}; evidence that the canary is worse: e-value ${fmtEValue(logWorse)} >= ${fmtNumber(1 / p.alphaRollback)} (${after})`;
        break;
      case 'sequential.promote':
      case 'srm-hold':
        reason = `${arms}; evidence that the canary is not worse by more than ${points(settings.rollbackMargin)}: e-value ${fmtEValue(logBetter)} >= ${fmtNumber(1 / SEQUENTIAL_CONSTANTS.alphaPromote)} (${after})`;
        if (policy === 'threshold') reason = `${arms}: canary pass rate >= stable's (${after})`;
        break;
      default: {
        const needed = evidenceOut.tasksNeeded;
        const eta = needed === null || needed === undefined ? 'no estimate of the tasks still needed' : `roughly ${needed} more canary task${needed === 1 ? '' : 's'} needed at the current rates`;
        reason =
          `${arms}; no conclusion yet: e-value ${fmtEValue(logWorse)} that the canary is worse (needs ${fmtNumber(1 / p.alphaRollback)}) and ${fmtEValue(logBetter)} that it is not worse by more than ${points(settings.rollbackMargin)} ` +
          `(needs ${fmtNumber(1 / SEQUENTIAL_CONSTANTS.alphaPromote)}), ${eta} (${after})`;
      }
    }
    if (rule === 'srm-hold' && srm !== null) {
      reason =
        `promotion held by a sample ratio mismatch: the canary got ${pct(srm.observedShare)} of the routed tasks at a configured ${pct(srm.expectedShare)} ` +
        `(epoch${(srm.epochs?.length ?? 0) === 1 ? '' : 's'} ${(srm.epochs ?? []).join(', ')}; p = ${fmtNumber(srm.pValue)} < ${SRM_ALPHA}), a sign of broken routing; otherwise: ${reason}`;
    }
  }
  return { action: verdict.action, rule, reason, evidence: evidenceOut };
}

function strataEvidence(prep: PreparedEvidence, cmp: Comparison | null): StratumEvidence[] {
  const by = new Map<string | null, { stable: PassTally; canary: PassTally }>();
  for (const g of prep.groups) {
    const t = by.get(g.stratum) ?? { stable: tally(), canary: tally() };
    for (const arm of ['stable', 'canary'] as const) {
      t[arm].tasks += g[arm].tasks;
      t[arm].passed += g[arm].passed;
    }
    by.set(g.stratum, t);
  }
  let total = 0;
  for (const g of prep.groups) if (g.stable.tasks > 0 && g.canary.tasks > 0) total += g.stable.tasks + g.canary.tasks;
  const weightOf = (stratum: string | null) => {
    if (cmp === null || total === 0) return 0;
    let n = 0;
    for (const g of prep.groups) if (g.stratum === stratum && g.stable.tasks > 0 && g.canary.tasks > 0) n += g.stable.tasks + g.canary.tasks;
    return n / total;
  };
  return [...by.entries()]
    .sort(([a], [b]) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1))
    .map(([stratum, t]) => {
      const s = armEvidence(t.stable);
      const c = armEvidence(t.canary);
      return { stratum, weight: weightOf(stratum), stable: s, canary: c, difference: s.passRate !== null && c.passRate !== null ? c.passRate - s.passRate : null };
    });
}

/** Rough further canary outcomes before a decision (README, "tasksNeeded"). */
function tasksNeeded(verdict: Verdict, c: CompiledSettings, prep: PreparedEvidence): number | null {
  if (verdict.action !== 'continue') return 0;
  if (verdict.rule === 'srm-hold') return null;
  const { stable, canary } = prep.combined;
  if (canary.tasks < 1 || stable.tasks < 1) return null;
  const min = c.settings.minCanaryTasks;
  const missing = Math.max(0, min - canary.tasks, min - prep.currentCanaryTasks);
  if (c.settings.policy === 'threshold') {
    // the rule only looks at rates: at the current rates it fires at min_canary_tasks or never
    if (missing === 0) return null;
    return thresholdVerdict(stable.passed, stable.tasks, canary.passed, canary.tasks, c.marginMillionths) === 0 ? null : missing;
  }
  if (verdict.comparison === null) return null;
  const n = projectedDecisionSize(verdict.comparison, canary.tasks, verdict.params);
  if (n === null) return null;
  return Math.max(missing, n - canary.tasks);
}
