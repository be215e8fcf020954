import { z } from 'zod';
import { assertCount, StatsInputError } from './errors.js';
import { addOutcomeInPlace, emptyArmStats } from './stats.js';
import { ArmStatsSchema, RoutingCountsSchema, type ArmStats, type OutcomeSample } from './types.js';

/**
 * The per-canary evidence fold: the one structure both production (the rollout aggregates) and
 * the simulator feed, so the simulator measures exactly what production decides.
 *
 * Pass/fail evidence counts tasks in ROUTING ORDER. A task enters the counted cells only when it
 * and every task of this canary routed before it are resolved (a real outcome, or a timeout that
 * counts as failed): the counted tasks are always a prefix of the routing order, so the order in
 * which outcomes arrive (slow failures, fast passes) can never bias the comparison. Tasks routed
 * but not yet in the prefix wait in `pending`, in routing order, with their resolution once known.
 *
 * Counted cells are keyed by (epoch, stratum). Per epoch and arm the state also keeps the
 * assignments, the tasks awaiting an outcome, timeouts, late outcomes (a real outcome after its
 * timeout: kept and shown, never evidence) and ArmStats of the real outcomes (gates, cost,
 * duration; late ones included) for guardrails and display.
 *
 * An outcome or timeout of a task the state never saw assigned (the ledger was started mid-canary,
 * e.g. by an import) is counted directly in its (epoch, stratum) cell: there is no routing order
 * to wait for. Assignments of a task already pending (a re-route of the same task) are ignored;
 * the router writes no assignment for a sticky retry.
 *
 * Folding is O(1) amortised per record: the persisted pending array is consumed from
 * `pendingHead` and compacted when half of it is consumed; the task-id index is rebuilt lazily in
 * memory (it is not part of the JSON).
 */

export const CANARY_EVIDENCE_VERSION = 1;

const count = z.number().int().nonnegative();
const epochNumber = z.number().int().nonnegative();
const ARMS = ['stable', 'canary'] as const;
export type Arm = (typeof ARMS)[number];
const ArmSchema = z.enum(ARMS);

export const PassTallySchema = z
  .object({ tasks: count, passed: count })
  .refine((t) => t.passed <= t.tasks, { message: 'passed must be <= tasks' });
export type PassTally = z.infer<typeof PassTallySchema>;

const ArmPairSchema = z.object({ stable: PassTallySchema, canary: PassTallySchema });
export type ArmPair = z.infer<typeof ArmPairSchema>;

/** Counted (routing-prefix) tasks of one (epoch, stratum). `gates`: per gate, tasks whose outcome reported it. */
export const EvidenceCellSchema = z.object({
  epoch: epochNumber,
  stratum: z.string().nullable(),
  stable: PassTallySchema,
  canary: PassTallySchema,
  gates: z.record(z.string(), ArmPairSchema),
});
export type EvidenceCell = z.infer<typeof EvidenceCellSchema>;

const ResolutionSchema = z.object({
  passed: z.boolean(),
  timedOut: z.boolean(),
  gates: z.record(z.string(), z.boolean()).optional(),
});

export const PendingTaskSchema = z.object({
  taskId: z.string(),
  epoch: epochNumber,
  arm: ArmSchema,
  stratum: z.string().nullable(),
  /** null while the task awaits its outcome */
  resolution: ResolutionSchema.nullable(),
});
export type PendingTask = z.infer<typeof PendingTaskSchema>;

export const EpochArmSchema = RoutingCountsSchema.extend({
  /** outcomes or timeouts of tasks never seen assigned (counted directly) */
  unassigned: count,
  /** every real outcome (late ones included): gates, cost, duration */
  outcomes: ArmStatsSchema,
});
export type EpochArm = z.infer<typeof EpochArmSchema>;

export const CanaryEvidenceSchema = z
  .object({
    v: z.literal(CANARY_EVIDENCE_VERSION),
    cells: z.array(EvidenceCellSchema),
    pending: z.array(PendingTaskSchema),
    /** entries of `pending` before this index are already counted (not yet compacted away) */
    pendingHead: count,
    epochs: z.record(z.string().regex(/^(0|[1-9]\d*)$/), z.object({ stable: EpochArmSchema, canary: EpochArmSchema })),
  })
  .refine((e) => e.pendingHead <= e.pending.length, { message: 'pendingHead must be <= pending.length' });
export type CanaryEvidence = z.infer<typeof CanaryEvidenceSchema>;

export function emptyCanaryEvidence(): CanaryEvidence {
  return { v: CANARY_EVIDENCE_VERSION, cells: [], pending: [], pendingHead: 0, epochs: {} };
}

export interface CanaryAssignment {
  taskId: string;
  epoch: number;
  arm: Arm;
  stratum?: string | null;
}

export interface CanaryResolution {
  taskId: string;
  epoch: number;
  arm: Arm;
  kind: 'outcome' | 'timeout' | 'late';
  sample: OutcomeSample;
  /** Only used for a task the state never saw assigned (its cell); otherwise the assignment's. */
  stratum?: string | null;
}

// ---------------------------------------------------------------------------------------------
// in-memory indexes (rebuilt lazily; never persisted)

interface Index {
  pending: Map<string, PendingTask>;
  cells: Map<string, EvidenceCell>;
}

const indexes = new WeakMap<CanaryEvidence, Index>();

const cellKey = (epoch: number, stratum: string | null) => (stratum === null ? `${epoch}` : `${epoch}:${stratum}`);

function indexOf(ev: CanaryEvidence): Index {
  let ix = indexes.get(ev);
  if (ix === undefined) {
    ix = { pending: new Map(), cells: new Map() };
    for (let i = ev.pendingHead; i < ev.pending.length; i++) {
      const p = ev.pending[i]!;
      ix.pending.set(p.taskId, p);
    }
    for (const c of ev.cells) ix.cells.set(cellKey(c.epoch, c.stratum), c);
    indexes.set(ev, ix);
  }
  return ix;
}

function emptyEpochArm(): EpochArm {
  return { assigned: 0, awaiting: 0, timedOut: 0, late: 0, unassigned: 0, outcomes: emptyArmStats() };
}

function epochArm(ev: CanaryEvidence, epoch: number, arm: Arm): EpochArm {
  const e = (ev.epochs[String(epoch)] ??= { stable: emptyEpochArm(), canary: emptyEpochArm() });
  return e[arm];
}

function cell(ev: CanaryEvidence, ix: Index, epoch: number, stratum: string | null): EvidenceCell {
  const key = cellKey(epoch, stratum);
  let c = ix.cells.get(key);
  if (c === undefined) {
    c = { epoch, stratum, stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 }, gates: {} };
    ev.cells.push(c);
    ix.cells.set(key, c);
  }
  return c;
}

function count1(c: EvidenceCell, arm: Arm, passed: boolean, gates: Record<string, boolean> | undefined): void {
  c[arm].tasks += 1;
  if (passed) c[arm].passed += 1;
  if (gates !== undefined) {
    for (const [name, ok] of Object.entries(gates)) {
      const g = (c.gates[name] ??= { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } });
      g[arm].tasks += 1;
      if (ok === true) g[arm].passed += 1;
    }
  }
}

function checkEpoch(epoch: unknown): asserts epoch is number {
  assertCount(epoch, 'epoch');
}

function checkArm(arm: unknown): asserts arm is Arm {
  if (arm !== 'stable' && arm !== 'canary') throw new StatsInputError(`arm must be 'stable' or 'canary', got ${String(arm)}`);
}

function checkSample(s: OutcomeSample): void {
  if (typeof s.passed !== 'boolean') throw new StatsInputError(`outcome.passed must be a boolean, got ${String(s.passed)}`);
  for (const m of ['costUsd', 'durationMs'] as const) {
    const v = s[m];
    if (v !== undefined && !Number.isFinite(v)) throw new StatsInputError(`outcome.${m} must be a finite number, got ${String(v)}`);
  }
}

/** Move the resolved routing prefix into the counted cells; compact the array now and then. */
function drain(ev: CanaryEvidence, ix: Index): void {
  let head = ev.pendingHead;
  const pending = ev.pending;
  while (head < pending.length) {
    const p = pending[head]!;
    if (p.resolution === null) break;
    count1(cell(ev, ix, p.epoch, p.stratum), p.arm, p.resolution.passed, p.resolution.gates);
    ix.pending.delete(p.taskId);
    head++;
  }
  if (head === pending.length) {
    pending.length = 0;
    head = 0;
  } else if (head >= 64 && head * 2 >= pending.length) {
    pending.splice(0, head);
    head = 0;
  }
  ev.pendingHead = head;
}

/** An assignment of this canary, in routing (= ledger) order. Mutates and returns `ev`. */
export function foldCanaryAssignment(ev: CanaryEvidence, a: CanaryAssignment): CanaryEvidence {
  checkEpoch(a.epoch);
  checkArm(a.arm);
  const ix = indexOf(ev);
  if (ix.pending.has(a.taskId)) return ev;
  const entry: PendingTask = { taskId: a.taskId, epoch: a.epoch, arm: a.arm, stratum: a.stratum ?? null, resolution: null };
  ev.pending.push(entry);
  ix.pending.set(a.taskId, entry);
  const ea = epochArm(ev, a.epoch, a.arm);
  ea.assigned += 1;
  ea.awaiting += 1;
  return ev;
}

/**
 * A resolution of a routed task: its real outcome (`kind: 'outcome'`), a timeout written by the
 * sweep (`kind: 'timeout'`, counts as failed), or a real outcome arriving after its timeout
 * (`kind: 'late'`: counted as late, never changes the evidence). Mutates and returns `ev`.
 * The task's epoch, arm and stratum are the assignment's when the state has it pending.
 */
export function foldCanaryOutcome(ev: CanaryEvidence, o: CanaryResolution): CanaryEvidence {
  checkEpoch(o.epoch);
  checkArm(o.arm);
  checkSample(o.sample);
  const ix = indexOf(ev);
  const p = ix.pending.get(o.taskId);
  const epoch = p?.epoch ?? o.epoch;
  const arm = p?.arm ?? o.arm;
  const ea = epochArm(ev, epoch, arm);
  if (o.kind === 'late') {
    ea.late += 1;
    addOutcomeInPlace(ea.outcomes, o.sample);
    return ev;
  }
  if (o.kind !== 'outcome' && o.kind !== 'timeout') throw new StatsInputError(`resolution kind must be outcome, timeout or late, got ${String(o.kind)}`);
  const timedOut = o.kind === 'timeout';
  const passed = timedOut ? false : o.sample.passed;
  const gates = timedOut ? undefined : o.sample.gates;
  if (timedOut) ea.timedOut += 1;
  else addOutcomeInPlace(ea.outcomes, o.sample);
  if (p === undefined) {
    // never seen assigned (ledger started mid-canary): no routing order to wait for
    ea.unassigned += 1;
    count1(cell(ev, ix, epoch, o.stratum ?? null), arm, passed, gates);
    return ev;
  }
  if (p.resolution !== null) return ev; // a second resolution of a pending task: the first one stands
  p.resolution = gates === undefined ? { passed, timedOut } : { passed, timedOut, gates: { ...gates } };
  ea.awaiting -= 1;
  drain(ev, ix);
  return ev;
}

// ---------------------------------------------------------------------------------------------
// summary

export interface EpochArmSummary {
  assigned: number;
  awaiting: number;
  timedOut: number;
  late: number;
  unassigned: number;
  /** resolved (outcome or timeout) but waiting for an earlier-routed task's outcome */
  resolvedWaiting: number;
  /** in the counted routing prefix */
  counted: PassTally;
  outcomes: ArmStats;
}

export interface EvidenceSummary {
  /** per epoch (decimal string keys) and arm */
  epochs: Record<string, { stable: EpochArmSummary; canary: EpochArmSummary }>;
  /** counted tasks over every epoch */
  combined: { stable: PassTally; canary: PassTally };
  /** counted tasks per stratum over every epoch ('' never occurs: null stratum is absent here) */
  strata: Record<string, { stable: PassTally; canary: PassTally }>;
  /** tasks awaiting an outcome, per arm, over every epoch */
  awaiting: { stable: number; canary: number };
}

/** Per epoch and per arm: assignments, awaiting, timeouts, late, counted tallies and ArmStats. */
export function canaryEvidenceSummary(ev: CanaryEvidence): EvidenceSummary {
  const epochs: EvidenceSummary['epochs'] = {};
  const summaryOf = (key: string) => {
    let s = epochs[key];
    if (s === undefined) {
      const src = ev.epochs[key];
      const mk = (a: EpochArm | undefined): EpochArmSummary => ({
        assigned: a?.assigned ?? 0,
        awaiting: a?.awaiting ?? 0,
        timedOut: a?.timedOut ?? 0,
        late: a?.late ?? 0,
        unassigned: a?.unassigned ?? 0,
        resolvedWaiting: 0,
        counted: { tasks: 0, passed: 0 },
        outcomes: a?.outcomes ?? emptyArmStats(),
      });
      s = epochs[key] = { stable: mk(src?.stable), canary: mk(src?.canary) };
    }
    return s;
  };
  for (const key of Object.keys(ev.epochs).sort((a, b) => Number(a) - Number(b))) summaryOf(key);
  const combined = { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } };
  const strata: EvidenceSummary['strata'] = {};
  for (const c of ev.cells) {
    const s = summaryOf(String(c.epoch));
    for (const arm of ARMS) {
      s[arm].counted.tasks += c[arm].tasks;
      s[arm].counted.passed += c[arm].passed;
      combined[arm].tasks += c[arm].tasks;
      combined[arm].passed += c[arm].passed;
      if (c.stratum !== null) {
        const st = (strata[c.stratum] ??= { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } });
        st[arm].tasks += c[arm].tasks;
        st[arm].passed += c[arm].passed;
      }
    }
  }
  for (let i = ev.pendingHead; i < ev.pending.length; i++) {
    const p = ev.pending[i]!;
    if (p.resolution !== null) summaryOf(String(p.epoch))[p.arm].resolvedWaiting += 1;
  }
  const awaiting = { stable: 0, canary: 0 };
  for (const s of Object.values(epochs)) {
    awaiting.stable += s.stable.awaiting;
    awaiting.canary += s.canary.awaiting;
  }
  return { epochs, combined, strata, awaiting };
}
