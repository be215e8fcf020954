import { defineJsonDocument } from '@bernstein/store';
import { isVersionId, VersionIdSchema } from '@bernstein/prompt-versions';
import { z } from 'zod';
import { ActorSchema, AuditEventSchema } from './audit-event.js';
import { CANARY_POLICIES, StepsSchema } from './config.js';

/**
 * The routing state, `.sdd/config/canary.json`: per role, its stable version, the versions it can
 * instantly roll back to, the rejected versions, and its active canary. Every applied transition
 * (see transitions.ts) bumps `revision` by one.
 */

export const STATE_SCHEMA_VERSION = 1;
/** How many earlier stable versions a role keeps for instant rollback. */
export const MAX_PREVIOUS_STABLES = 20;

const CANARY_ID_RE = /^[0-9a-f]{12}$/;

/** Version ids are defined once, in @bernstein/prompt-versions. */
export { isVersionId, VersionIdSchema };

/** A canary id: 12 lowercase hex chars, random per start. */
export function isCanaryId(value: string): boolean {
  return CANARY_ID_RE.test(value);
}

export const CanaryIdSchema = z.string().regex(CANARY_ID_RE, 'expected a canary id (12 lowercase hex chars)');
const TimestampSchema = z.string().min(1);

const PercentageSchema = z.number().min(0).max(100);

export const EpochSchema = z.strictObject({
  epoch: z.number().int().min(0),
  percentage: PercentageSchema,
  startedAt: TimestampSchema,
});

export const CanarySchema = z
  .strictObject({
    /** 12 hex chars, random per start: the bucketing seed and the comparison window's key. */
    id: CanaryIdSchema,
    versionId: VersionIdSchema,
    /** The stable version when the canary started. */
    baseVersionId: VersionIdSchema.nullable(),
    percentage: PercentageSchema,
    /** [] = no ramp. */
    steps: StepsSchema,
    /**
     * Index into steps of the step the ramp is at; -1 when there are no steps. After a manual
     * percentage change: the highest step <= percentage (0 when below the first step).
     */
    stepIndex: z.number().int().min(-1),
    /** +1 each time the percentage changes. */
    epoch: z.number().int().min(0),
    /**
     * Written by earlier versions, when a step restarted the evidence. Evidence never restarts now
     * (every epoch of a canary counts, compared within itself): accepted so old state files load, ignored.
     */
    evidenceFromEpoch: z.number().int().min(0).optional(),
    /** Every epoch of this canary, oldest first; the last one is the current one. */
    epochs: z.array(EpochSchema).min(1),
    /** null = the configured default policy. */
    policy: z.enum(CANARY_POLICIES).nullable(),
    startedAt: TimestampSchema,
    startedBy: ActorSchema,
  })
  .superRefine((canary, ctx) => {
    const expectedIndexOk = canary.steps.length === 0 ? canary.stepIndex === -1 : canary.stepIndex >= 0 && canary.stepIndex < canary.steps.length;
    if (!expectedIndexOk) {
      ctx.addIssue({ code: 'custom', path: ['stepIndex'], message: `stepIndex ${canary.stepIndex} does not fit steps [${canary.steps.join(', ')}]` });
    }
    const last = canary.epochs[canary.epochs.length - 1];
    if (last && (last.epoch !== canary.epoch || last.percentage !== canary.percentage)) {
      ctx.addIssue({ code: 'custom', path: ['epochs'], message: 'the last epoch must match the canary epoch and percentage' });
    }
  });

export const RoleStateSchema = z
  .strictObject({
    stable: VersionIdSchema.nullable(),
    /** Earlier stables, most recent last, at most MAX_PREVIOUS_STABLES. */
    previousStables: z.array(VersionIdSchema).max(MAX_PREVIOUS_STABLES),
    /** Rolled-back versions: never released or canaried again automatically (SPEC, Routing rule 4). */
    rejected: z.array(VersionIdSchema),
    canary: CanarySchema.nullable(),
    updatedAt: TimestampSchema,
  })
  .superRefine((role, ctx) => {
    if (role.canary && role.canary.versionId === role.stable) {
      ctx.addIssue({ code: 'custom', path: ['canary', 'versionId'], message: `the canary version ${role.stable} is also the stable version` });
    }
    if (role.stable !== null && role.rejected.includes(role.stable)) {
      ctx.addIssue({ code: 'custom', path: ['rejected'], message: `the stable version ${role.stable} is also listed as rejected` });
    }
  });

export const CanaryStateSchema = z.strictObject({
  schemaVersion: z.literal(STATE_SCHEMA_VERSION),
  /** +1 per applied transition. */
  revision: z.number().int().min(0),
  roles: z.record(z.string().min(1), RoleStateSchema),
  /**
   * Optional: the audit events of the latest revision, written by the state store together with
   * the state so that a crash between the state write and the audit append can be repaired.
   * applyTransition never reads it and returns documents without it.
   */
  lastEvents: z.array(AuditEventSchema).optional(),
  /**
   * Per role, the id of the bundle on disk when routing last acted on it. A bundle counts as
   * changed when it differs from this (not from stable), so a promoted `--model` canary, whose
   * version exists only in the registry, is not undone by the unchanged files on disk.
   */
  disk: z.record(z.string(), VersionIdSchema).optional(),
});

export type EpochRecord = z.output<typeof EpochSchema>;
export type Canary = z.output<typeof CanarySchema>;
export type RoleState = z.output<typeof RoleStateSchema>;
export type CanaryState = z.output<typeof CanaryStateSchema>;
export type { Actor } from './audit-event.js';

export function emptyCanaryState(): CanaryState {
  return { schemaVersion: STATE_SCHEMA_VERSION, revision: 0, roles: {} };
}

/** `.sdd/config/canary.json` (paths.canaryState). Load validates; save is an atomic replace. */
export const canaryStateDocument = defineJsonDocument({
  label: 'canary state',
  schema: CanaryStateSchema,
  currentVersion: STATE_SCHEMA_VERSION,
  migrations: {},
  empty: emptyCanaryState,
  recogniseUnversioned: recogniseUpstreamCanaryFile,
});

/**
 * The original Bernstein implementation keeps its canary in the same file, without a schema
 * version: a few settings and four counters (passes and totals of each arm), at the top level or
 * per role. Nothing in it says which task ran which version, so it cannot be carried over; say
 * what the file is and how to start from it, instead of only "missing schemaVersion".
 */
export function recogniseUpstreamCanaryFile(document: Record<string, unknown>): string | undefined {
  const isMap = (value: unknown): value is Record<string, unknown> => Boolean(value) && typeof value === 'object' && !Array.isArray(value);
  // stable_passed, canary_total, canaryTasks, ...: at the top level, per role, or per role in a map.
  const keys = new Set<string>();
  const visit = (value: unknown, depth: number): void => {
    if (!isMap(value)) return;
    for (const [key, inner] of Object.entries(value)) {
      if (/^(canary|stable)(_[a-z]+|[A-Z][A-Za-z]*)+$/.test(key)) keys.add(key);
      if (depth < 2) visit(inner, depth + 1);
    }
  };
  visit(document, 0);
  if (keys.size === 0) return undefined;
  const shown = [...keys].sort().slice(0, 6).join(', ');
  return (
    `this is a canary file of the original Bernstein implementation (no "schemaVersion"; keys ${shown}), not this toolkit's routing state. ` +
    'Its counters say how many tasks passed, not which task ran which version, so they cannot be carried over. ' +
    'Move it aside (e.g. `mv .sdd/config/canary.json .sdd/config/canary.upstream.json`), run `bernstein versions scan` to register the current bundles, ' +
    'then start the canary again with `bernstein config canary --role <role> --percentage <n>`; nothing was changed'
  );
}

/** Whether `versionId` was rolled back on this role (and so is never used again automatically). */
export function isRejected(role: RoleState | undefined, versionId: string): boolean {
  return role !== undefined && role.rejected.includes(versionId);
}

/** The percentage of the step after the current one, or null at (or past) the last step / without steps. */
export function nextStepPercentage(canary: Canary): number | null {
  for (const step of canary.steps) if (step > canary.percentage) return step;
  return null;
}

/**
 * Whether a promote decision promotes (true) or advances the ramp (false): at the last step, or
 * when the next step is 100 %. Reaching 100 % is the promotion: at 100 % no task reaches stable,
 * so there is nothing left to compare, and the evidence of every earlier step carries over.
 */
export function isAtFinalStep(canary: Canary): boolean {
  const next = nextStepPercentage(canary);
  return next === null || next >= 100;
}
