import { BernsteinError, isBernsteinError, type ErrorCode } from '@bernstein/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditEventSchema } from './audit-event.js';
import { CanaryStateSchema, MAX_PREVIOUS_STABLES, canaryStateDocument, emptyCanaryState, isAtFinalStep, nextStepPercentage, type CanaryState } from './state.js';
import { applyTransition, describeAuditEvent, type Transition, type TransitionContext } from './transitions.js';

const V = (n: number) => n.toString(16).padStart(12, '0');
const A = V(0xa);
const B = V(0xb);
const C = V(0xc);
const D = V(0xd);
const CID = '0123456789ab';
const CID2 = 'ba9876543210';
const NOW = '2025-01-01T00:00:00.000Z';

const ctx = (over: Partial<TransitionContext> = {}): TransitionContext => ({ now: NOW, actor: 'cli', reason: 'test', newCanaryId: CID, ...over });

function apply(doc: CanaryState, t: Transition, over: Partial<TransitionContext> = {}) {
  const result = applyTransition(doc, t, ctx(over));
  // Every produced document and event is valid and round-trips through the file format.
  expect(canaryStateDocument.parse('canary.json', JSON.stringify(result.doc))).toEqual(result.doc);
  expect(AuditEventSchema.parse(JSON.parse(JSON.stringify(result.event)))).toEqual(result.event);
  expect(result.event.revision).toBe(result.doc.revision);
  expect(result.doc.revision).toBe(doc.revision + 1);
  return result;
}

function errorOf(fn: () => unknown): BernsteinError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BernsteinError);
    return error as BernsteinError;
  }
  throw new Error('expected a BernsteinError');
}

function expectError(doc: CanaryState, t: Transition, code: ErrorCode, message?: RegExp | string, over: Partial<TransitionContext> = {}) {
  const snapshot = JSON.stringify(doc);
  const error = errorOf(() => applyTransition(doc, t, ctx(over)));
  expect(error.code).toBe(code);
  if (message !== undefined) expect(error.message).toMatch(message);
  expect(JSON.stringify(doc)).toBe(snapshot);
  return error;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Role "backend" with stable A. */
function initialised(): CanaryState {
  return apply(emptyCanaryState(), { type: 'init', role: 'backend', versionId: A }, { actor: 'auto' }).doc;
}

/** Role "backend": stable A, canary CID of B at 20 %. */
function withCanary(extra: Partial<Extract<Transition, { type: 'start' }>> = {}): CanaryState {
  return apply(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 20, ...extra }).doc;
}

describe('init', () => {
  it('makes the first-seen bundle stable', () => {
    const { doc, event } = apply(emptyCanaryState(), { type: 'init', role: 'backend', versionId: A }, { actor: 'auto', reason: 'first seen' });
    expect(doc.roles.backend).toEqual({ stable: A, previousStables: [], rejected: [], canary: null, updatedAt: NOW });
    expect(event).toEqual({ v: 1, at: NOW, role: 'backend', action: 'init', from: null, to: A, canaryId: null, actor: 'auto', reason: 'first seen', evidence: null, revision: 1 });
  });

  it('is exactly-once: a second init of the role is a CONFLICT', () => {
    expectError(initialised(), { type: 'init', role: 'backend', versionId: B }, 'CONFLICT', /already initialised \(stable 00000000000a\)/);
  });

  it('refuses malformed version ids and roles', () => {
    expectError(emptyCanaryState(), { type: 'init', role: 'backend', versionId: 'v1' }, 'INVALID_ARGUMENT', /invalid version id "v1"/);
    expectError(emptyCanaryState(), { type: 'init', role: '', versionId: A }, 'INVALID_ARGUMENT');
  });

  it('keeps roles independent', () => {
    let doc = initialised();
    doc = apply(doc, { type: 'init', role: 'qa', versionId: C }).doc;
    doc = apply(doc, { type: 'start', role: 'backend', versionId: B, percentage: 10 }).doc;
    doc = apply(doc, { type: 'start', role: 'qa', versionId: D, percentage: 30 }, { newCanaryId: CID2 }).doc;
    expect(doc.roles.backend!.canary!.versionId).toBe(B);
    expect(doc.roles.qa!.canary!.versionId).toBe(D);
    expect(doc.revision).toBe(4);
  });
});

describe('start', () => {
  it('starts a canary at the given percentage', () => {
    const { doc, event } = apply(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 20, policy: 'threshold' }, { evidence: { why: 'test' } });
    expect(doc.roles.backend!.canary).toEqual({
      id: CID,
      versionId: B,
      baseVersionId: A,
      percentage: 20,
      steps: [],
      stepIndex: -1,
      epoch: 0,
      epochs: [{ epoch: 0, percentage: 20, startedAt: NOW }],
      policy: 'threshold',
      startedAt: NOW,
      startedBy: 'cli',
    });
    expect(event).toMatchObject({ action: 'start', from: A, to: B, canaryId: CID, percentage: 20, evidence: { why: 'test' }, revision: 2 });
  });

  it('draws a random 12-hex canary id when none is given', () => {
    const first = applyTransition(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 5 }, { now: NOW, actor: 'cli', reason: '' });
    const second = applyTransition(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 5 }, { now: NOW, actor: 'cli', reason: '' });
    expect(first.doc.roles.backend!.canary!.id).toMatch(/^[0-9a-f]{12}$/);
    expect(first.doc.roles.backend!.canary!.id).not.toBe(second.doc.roles.backend!.canary!.id);
  });

  it('refuses a second canary with CANARY_EXISTS', () => {
    expectError(
      withCanary(),
      { type: 'start', role: 'backend', versionId: C, percentage: 5 },
      'CANARY_EXISTS',
      'role "backend" already has canary 0123456789ab of version 00000000000b at 20 %; promote or roll it back first',
    );
  });

  it('refuses the stable version, unknown roles and bad percentages', () => {
    expectError(initialised(), { type: 'start', role: 'backend', versionId: A, percentage: 5 }, 'INVALID_ARGUMENT', /already the stable version/);
    expectError(initialised(), { type: 'start', role: 'frontend', versionId: B, percentage: 5 }, 'ROLE_NOT_FOUND', /role "frontend" has no stable version/);
    for (const percentage of [-1, 100.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectError(initialised(), { type: 'start', role: 'backend', versionId: B, percentage }, 'INVALID_ARGUMENT', /invalid percentage/);
    }
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B }, 'INVALID_ARGUMENT', /needs a percentage/);
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 5, policy: 'bayes' as never }, 'INVALID_ARGUMENT', /invalid policy/);
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 5 }, 'INVALID_ARGUMENT', /invalid canary id/, { newCanaryId: 'XYZ' });
    // 100 % leaves nothing to compare with: refused, saying what to do instead.
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 100 }, 'INVALID_ARGUMENT', /a canary at 100 % leaves no stable tasks to compare it with.*--steps 5,25,50,100/);
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B, steps: [100] }, 'INVALID_ARGUMENT', /a canary at 100 %/);
    // 0 is a staged canary: it exists and receives no tasks until its percentage is raised.
    expect(apply(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 0 }).doc.roles.backend!.canary!.percentage).toBe(0);
  });

  it('with steps starts at the first step; a given percentage must equal it', () => {
    const { doc, event } = apply(initialised(), { type: 'start', role: 'backend', versionId: B, steps: [5, 25, 50, 100] });
    expect(doc.roles.backend!.canary).toMatchObject({ percentage: 5, steps: [5, 25, 50, 100], stepIndex: 0 });
    expect(event.percentage).toBe(5);
    expect(apply(initialised(), { type: 'start', role: 'backend', versionId: B, steps: [5, 25], percentage: 5 }).doc.roles.backend!.canary!.percentage).toBe(5);
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B, steps: [5, 25], percentage: 20 }, 'INVALID_ARGUMENT', /does not match the first step 5/);
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B, steps: [25, 5] }, 'INVALID_ARGUMENT', /steps\[1\]: steps must be strictly increasing/);
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B, steps: [0, 5] }, 'INVALID_ARGUMENT', /steps\[0\]/);
    // steps: [] is "no ramp".
    expect(apply(initialised(), { type: 'start', role: 'backend', versionId: B, steps: [], percentage: 7 }).doc.roles.backend!.canary!.stepIndex).toBe(-1);
  });

  it('a rejected version: refused automatically, allowed explicitly (and no longer rejected)', () => {
    let doc = withCanary();
    doc = apply(doc, { type: 'rollback', role: 'backend', canaryId: CID }).doc;
    expect(doc.roles.backend!.rejected).toEqual([B]);
    expectError(doc, { type: 'start', role: 'backend', versionId: B, percentage: 20 }, 'CONFLICT', /rejected; only an explicit command/, { actor: 'auto' });
    const again = apply(doc, { type: 'start', role: 'backend', versionId: B, percentage: 20 }, { actor: 'cli', newCanaryId: CID2 }).doc;
    expect(again.roles.backend!.rejected).toEqual([]);
    expect(again.roles.backend!.canary!.id).toBe(CID2);
  });

  it('checks expectedStable', () => {
    expectError(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 5, expectedStable: C }, 'CONFLICT', /stable is now 00000000000a/);
    apply(initialised(), { type: 'start', role: 'backend', versionId: B, percentage: 5, expectedStable: A });
  });
});

describe('set-percentage', () => {
  it('changes the share and starts a new epoch (the evidence carries over)', () => {
    const { doc, event } = apply(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 50 });
    expect(doc.roles.backend!.canary).toMatchObject({
      percentage: 50,
      epoch: 1,
      epochs: [
        { epoch: 0, percentage: 20 },
        { epoch: 1, percentage: 50 },
      ],
    });
    expect(event).toMatchObject({ action: 'percentage', from: B, to: B, canaryId: CID, percentage: 50, fromPercentage: 20, toPercentage: 50 });
  });

  it('the same share again is recorded but keeps the epoch', () => {
    const { doc } = apply(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 20 });
    expect(doc.roles.backend!.canary).toMatchObject({ percentage: 20, epoch: 0, epochs: [{ epoch: 0 }] });
  });

  it('accepts 0 to below 100, refuses 100 (promote instead) and out-of-range values', () => {
    expect(apply(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 0 }).doc.roles.backend!.canary!.percentage).toBe(0);
    expect(apply(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 99.5 }).doc.roles.backend!.canary!.percentage).toBe(99.5);
    expectError(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 100 }, 'INVALID_ARGUMENT', /promote it instead \(`bernstein config canary --promote --role backend`\)/);
    expectError(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 101 }, 'INVALID_ARGUMENT');
    expectError(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: -0.5 }, 'INVALID_ARGUMENT');
  });

  it('re-anchors the ramp on a stepped canary', () => {
    const doc = withCanary({ percentage: undefined, steps: [5, 25, 50, 100] });
    const raised = apply(doc, { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 30 }).doc.roles.backend!.canary!;
    expect(raised.stepIndex).toBe(1);
    expect(nextStepPercentage(raised)).toBe(50);
    const lowered = apply(doc, { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 2 }).doc.roles.backend!.canary!;
    expect(lowered.stepIndex).toBe(0);
    expect(nextStepPercentage(lowered)).toBe(5);
  });

  it('refuses a stale canary id or epoch with CONFLICT', () => {
    expectError(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID2, percentage: 30 }, 'CONFLICT', /canary ba9876543210 of role "backend" is no longer active: the role's canary is now 0123456789ab/);
    expectError(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 30, expectedEpoch: 3 }, 'CONFLICT', /at epoch 0 \(20 %\), not 3/);
    expectError(initialised(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 30 }, 'CONFLICT', /no longer active \(it was promoted or rolled back\)/);
    expectError(initialised(), { type: 'set-percentage', role: 'nobody', canaryId: CID, percentage: 30 }, 'ROLE_NOT_FOUND');
  });
});

describe('step', () => {
  const stepped = () => withCanary({ percentage: undefined, steps: [5, 25, 100] });

  it('moves to the next step in a new epoch; the step to 100 % is refused: reaching 100 % is the promotion', () => {
    const { doc, event } = apply(stepped(), { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 0 });
    expect(doc.roles.backend!.canary).toMatchObject({ percentage: 25, stepIndex: 1, epoch: 1, epochs: [{ epoch: 0, percentage: 5 }, { epoch: 1, percentage: 25 }] });
    expect(doc.roles.backend!.canary).not.toHaveProperty('evidenceFromEpoch');
    expect(event).toMatchObject({ action: 'step', from: B, to: B, percentage: 25, fromPercentage: 5, toPercentage: 25 });
    expect(isAtFinalStep(doc.roles.backend!.canary!)).toBe(true);
    expectError(doc, { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 1 }, 'INVALID_ARGUMENT', /would step to 100 %, and reaching 100 % is the promotion; promote it instead/);
    const short = withCanary({ percentage: undefined, steps: [5, 25] });
    const atLast = apply(short, { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 0 }).doc;
    expectError(atLast, { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 1 }, 'INVALID_ARGUMENT', /is at its last step \(25 %\); promote it instead/);
  });

  it('loads a state file of an earlier version whose canary restarted its evidence, and drops the marker at the next epoch', () => {
    const old = withCanary({ percentage: undefined, steps: [5, 25, 50, 100] });
    const canary = { ...old.roles.backend!.canary!, evidenceFromEpoch: 0 };
    const doc = CanaryStateSchema.parse({ ...old, roles: { ...old.roles, backend: { ...old.roles.backend!, canary } } });
    expect(doc.roles.backend!.canary!.evidenceFromEpoch).toBe(0);
    const next = apply(doc, { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 0 }).doc;
    expect(next.roles.backend!.canary).not.toHaveProperty('evidenceFromEpoch');
  });

  it('is exactly-once: the racing second step at the same epoch is a CONFLICT', () => {
    const once = apply(stepped(), { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 0 }).doc;
    expectError(once, { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 0 }, 'CONFLICT');
  });

  it('needs steps and an epoch', () => {
    expectError(withCanary(), { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 0 }, 'INVALID_ARGUMENT', /has no steps/);
    expectError(stepped(), { type: 'step', role: 'backend', canaryId: CID } as never, 'INVALID_ARGUMENT', /expectedEpoch/);
  });
});

describe('promote', () => {
  it('makes the canary stable and keeps the old stable for instant rollback', () => {
    const { doc, event } = apply(withCanary(), { type: 'promote', role: 'backend', canaryId: CID, expectedEpoch: 0 }, { actor: 'auto', evidence: { stable: { tasks: 50, passed: 40 }, canary: { tasks: 12, passed: 11 } } });
    expect(doc.roles.backend).toMatchObject({ stable: B, previousStables: [A], rejected: [], canary: null });
    expect(event).toMatchObject({ action: 'promote', from: A, to: B, canaryId: CID, percentage: 20, actor: 'auto', evidence: { stable: { tasks: 50, passed: 40 } } });
  });

  it('is exactly-once against a racing rollback or promote', () => {
    const promoted = apply(withCanary(), { type: 'promote', role: 'backend', canaryId: CID }).doc;
    expectError(promoted, { type: 'rollback', role: 'backend', canaryId: CID }, 'CONFLICT');
    expectError(promoted, { type: 'promote', role: 'backend', canaryId: CID }, 'CONFLICT');
    const moved = apply(withCanary(), { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 40 }).doc;
    expectError(moved, { type: 'promote', role: 'backend', canaryId: CID, expectedEpoch: 0 }, 'CONFLICT');
  });
});

describe('rollback', () => {
  it('clears the canary and rejects its version', () => {
    const { doc, event } = apply(withCanary(), { type: 'rollback', role: 'backend', canaryId: CID }, { reason: 'canary pass rate 0.55 vs 0.80' });
    expect(doc.roles.backend).toMatchObject({ stable: A, previousStables: [], rejected: [B], canary: null });
    expect(event).toMatchObject({ action: 'rollback', from: B, to: A, canaryId: CID, percentage: 20, reason: 'canary pass rate 0.55 vs 0.80' });
    expect(describeAuditEvent(event)).toBe('role backend: canary 0123456789ab of version 00000000000b rolled back at 20 %; stable 00000000000a serves all tasks: canary pass rate 0.55 vs 0.80');
  });
});

describe('release', () => {
  it('makes the version stable directly and keeps the old one', () => {
    const { doc, event } = apply(initialised(), { type: 'release', role: 'backend', versionId: B }, { actor: 'auto' });
    expect(doc.roles.backend).toMatchObject({ stable: B, previousStables: [A], canary: null });
    expect(event).toMatchObject({ action: 'release', from: A, to: B, canaryId: null });
  });

  it('refuses automatically a rejected version, allows it explicitly', () => {
    let doc = apply(withCanary(), { type: 'rollback', role: 'backend', canaryId: CID }).doc;
    expectError(doc, { type: 'release', role: 'backend', versionId: B }, 'CONFLICT', /rejected; it is not released automatically/, { actor: 'auto' });
    doc = apply(doc, { type: 'release', role: 'backend', versionId: B }, { actor: 'cli' }).doc;
    expect(doc.roles.backend).toMatchObject({ stable: B, rejected: [] });
  });

  it('refuses while a canary runs, the current stable, unknown roles and stale expectations', () => {
    expectError(withCanary(), { type: 'release', role: 'backend', versionId: C }, 'CANARY_EXISTS');
    expectError(initialised(), { type: 'release', role: 'backend', versionId: A }, 'INVALID_ARGUMENT', /already the stable/);
    expectError(initialised(), { type: 'release', role: 'frontend', versionId: A }, 'ROLE_NOT_FOUND');
    expectError(initialised(), { type: 'release', role: 'backend', versionId: B, expectedStable: C }, 'CONFLICT');
  });

  it(`keeps the last ${MAX_PREVIOUS_STABLES} previous stables`, () => {
    let doc = initialised();
    for (let i = 1; i <= 25; i++) doc = apply(doc, { type: 'release', role: 'backend', versionId: V(0x100 + i) }).doc;
    const previous = doc.roles.backend!.previousStables;
    expect(previous).toHaveLength(MAX_PREVIOUS_STABLES);
    expect(previous[previous.length - 1]).toBe(V(0x100 + 24));
    expect(previous[0]).toBe(V(0x100 + 5));
  });
});

describe('instant-rollback', () => {
  it('reverts stable to the previous one and rejects the reverted-from version', () => {
    let doc = apply(initialised(), { type: 'release', role: 'backend', versionId: B }).doc;
    const { doc: reverted, event } = apply(doc, { type: 'instant-rollback', role: 'backend', expectedStable: B });
    expect(reverted.roles.backend).toMatchObject({ stable: A, previousStables: [], rejected: [B], canary: null });
    expect(event).toMatchObject({ action: 'instant-rollback', from: B, to: A, canaryId: null });
    doc = reverted;
    expectError(doc, { type: 'instant-rollback', role: 'backend' }, 'NO_CANARY', 'role "backend" has no active canary and no previous stable version to roll back to (stable is 00000000000a)');
  });

  it('is exactly-once with expectedStable', () => {
    const doc = apply(apply(initialised(), { type: 'release', role: 'backend', versionId: B }).doc, { type: 'release', role: 'backend', versionId: C }).doc;
    const once = apply(doc, { type: 'instant-rollback', role: 'backend', expectedStable: C }).doc;
    expect(once.roles.backend!.stable).toBe(B);
    expectError(once, { type: 'instant-rollback', role: 'backend', expectedStable: C }, 'CONFLICT');
  });

  it('skips rejected versions and the current stable in the history', () => {
    // A -> B -> A (explicit re-release) -> C ; previous = [A, B, A]
    let doc = initialised();
    doc = apply(doc, { type: 'release', role: 'backend', versionId: B }).doc;
    doc = apply(doc, { type: 'release', role: 'backend', versionId: A }).doc;
    doc = apply(doc, { type: 'release', role: 'backend', versionId: C }).doc;
    expect(doc.roles.backend!.previousStables).toEqual([A, B, A]);
    doc = apply(doc, { type: 'instant-rollback', role: 'backend' }).doc; // C -> A, C rejected
    expect(doc.roles.backend).toMatchObject({ stable: A, previousStables: [A, B], rejected: [C] });
    doc = apply(doc, { type: 'instant-rollback', role: 'backend' }).doc; // A -> B (skips A), A rejected
    expect(doc.roles.backend).toMatchObject({ stable: B, previousStables: [A], rejected: [C, A] });
    expectError(doc, { type: 'instant-rollback', role: 'backend' }, 'NO_CANARY'); // only A left, and it is rejected
  });

  it('refuses while a canary runs', () => {
    expectError(withCanary(), { type: 'instant-rollback', role: 'backend' }, 'CANARY_EXISTS', /roll back the canary instead/);
  });
});

describe('applyTransition', () => {
  it('never mutates its input', () => {
    const doc = deepFreeze(withCanary({ percentage: undefined, steps: [5, 50] }));
    const sequence: Transition[] = [
      { type: 'set-percentage', role: 'backend', canaryId: CID, percentage: 10 },
      { type: 'step', role: 'backend', canaryId: CID, expectedEpoch: 0 },
      { type: 'promote', role: 'backend', canaryId: CID },
      { type: 'rollback', role: 'backend', canaryId: CID },
    ];
    for (const t of sequence) applyTransition(doc, t, ctx());
    expect(doc.roles.backend!.canary!.percentage).toBe(5);
  });

  it('drops the previous revision\'s lastEvents', () => {
    const doc = initialised();
    const event = apply(emptyCanaryState(), { type: 'init', role: 'x', versionId: A }).event;
    const next = applyTransition({ ...doc, lastEvents: [event] }, { type: 'release', role: 'backend', versionId: B }, ctx()).doc;
    expect('lastEvents' in next).toBe(false);
    expect(canaryStateDocument.parse('canary.json', JSON.stringify({ ...next, lastEvents: [event] })).lastEvents).toEqual([event]);
  });

  it('validates its context', () => {
    expectError(initialised(), { type: 'release', role: 'backend', versionId: B }, 'INVALID_ARGUMENT', /actor/, { actor: 'robot' as never });
    expectError(initialised(), { type: 'release', role: 'backend', versionId: B }, 'INVALID_ARGUMENT', /now/, { now: '' });
  });

  it('does not resolve inherited properties as roles', () => {
    expectError(emptyCanaryState(), { type: 'start', role: 'constructor', versionId: B, percentage: 5 }, 'ROLE_NOT_FOUND');
    expectError(emptyCanaryState(), { type: 'promote', role: '__proto__', canaryId: CID }, 'ROLE_NOT_FOUND');
  });
});

describe('invariants under random sequences of transitions', () => {
  const ROLES = ['backend', 'qa'] as const;
  const VERSIONS = [A, B, C, D, V(0xe)];
  const STALE = 'deadbeef0000';

  const roleArb = fc.constantFrom(...ROLES);
  const versionArb = fc.constantFrom(...VERSIONS);
  const canaryRefArb = fc.record({
    current: fc.oneof({ arbitrary: fc.constant(true), weight: 6 }, { arbitrary: fc.constant(false), weight: 1 }),
    epochOffset: fc.constantFrom(undefined, 0, 0, 0, 1),
  });
  const startArb = fc.oneof(
    { arbitrary: fc.record({ steps: fc.constantFrom([5, 25, 50, 100], [10, 50], [1]), percentage: fc.constant(undefined) }), weight: 1 },
    { arbitrary: fc.record({ steps: fc.constant(undefined), percentage: fc.double({ min: 0, max: 100, noNaN: true }) }), weight: 2 },
  );
  const opArb = fc.oneof(
    { arbitrary: fc.record({ type: fc.constant('init' as const), role: fc.constantFrom('backend', 'qa', 'docs'), versionId: versionArb }), weight: 1 },
    { arbitrary: fc.record({ type: fc.constant('start' as const), role: roleArb, versionId: versionArb, shape: startArb }), weight: 4 },
    {
      arbitrary: fc.record({ type: fc.constant('set-percentage' as const), role: roleArb, ref: canaryRefArb, percentage: fc.double({ min: -5, max: 105, noNaN: true }) }),
      weight: 2,
    },
    { arbitrary: fc.record({ type: fc.constant('step' as const), role: roleArb, ref: canaryRefArb }), weight: 2 },
    { arbitrary: fc.record({ type: fc.constant('promote' as const), role: roleArb, ref: canaryRefArb }), weight: 2 },
    { arbitrary: fc.record({ type: fc.constant('rollback' as const), role: roleArb, ref: canaryRefArb }), weight: 2 },
    { arbitrary: fc.record({ type: fc.constant('release' as const), role: roleArb, versionId: versionArb }), weight: 2 },
    { arbitrary: fc.record({ type: fc.constant('instant-rollback' as const), role: roleArb }), weight: 1 },
  );
  const stepArb = fc.record({ op: opArb, actor: fc.constantFrom('auto' as const, 'cli' as const, 'api' as const) });

  type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

  function toTransition(doc: CanaryState, op: Op): Transition {
    if (op.type === 'start') return { type: 'start', role: op.role, versionId: op.versionId, percentage: op.shape.percentage, steps: op.shape.steps };
    if (!('ref' in op)) return op;
    const canary = doc.roles[op.role]?.canary;
    const canaryId = op.ref.current && canary ? canary.id : STALE;
    const expectedEpoch = op.ref.epochOffset === undefined ? undefined : (canary?.epoch ?? 0) + op.ref.epochOffset;
    switch (op.type) {
      case 'set-percentage':
        return { type: 'set-percentage', role: op.role, canaryId, percentage: op.percentage, expectedEpoch };
      case 'step':
        return { type: 'step', role: op.role, canaryId, expectedEpoch: expectedEpoch ?? canary?.epoch ?? 0 };
      case 'promote':
        return { type: 'promote', role: op.role, canaryId, expectedEpoch };
      case 'rollback':
        return { type: 'rollback', role: op.role, canaryId, expectedEpoch };
    }
  }

  it('keeps the document valid and the revision counting applied transitions', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 20, maxLength: 80 }), (steps) => {
        let doc = emptyCanaryState();
        doc = applyTransition(doc, { type: 'init', role: 'backend', versionId: A }, ctx()).doc;
        doc = applyTransition(doc, { type: 'init', role: 'qa', versionId: C }, ctx()).doc;
        let counter = 0;
        for (const { op, actor } of steps) {
          const transition = toTransition(doc, op);
          const before = doc;
          const canariesBefore = Object.fromEntries(Object.entries(before.roles).map(([r, s]) => [r, s.canary]));
          let result;
          try {
            counter++;
            result = applyTransition(doc, transition, { now: NOW, actor, reason: 'prop', newCanaryId: counter.toString(16).padStart(12, '0') });
          } catch (error) {
            expect(isBernsteinError(error)).toBe(true);
            // A refused transition changes nothing.
            expect(doc).toBe(before);
            if (transition.type === 'start' && canariesBefore[transition.role]) expect((error as BernsteinError).code).toBe('CANARY_EXISTS');
            continue;
          }
          doc = result.doc;
          expect(doc.revision).toBe(before.revision + 1);
          expect(result.event.revision).toBe(doc.revision);
          expect(AuditEventSchema.safeParse(result.event).success).toBe(true);
          // The whole document still satisfies the file schema, including its cross-field checks.
          const parsed = CanaryStateSchema.safeParse(doc);
          expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues)).toBe(true);
          for (const [role, state] of Object.entries(doc.roles)) {
            expect(state.stable).not.toBeNull();
            if (state.canary) {
              expect(state.canary.versionId).not.toBe(state.stable);
              expect(state.canary.percentage).toBeGreaterThanOrEqual(0);
              expect(state.canary.percentage).toBeLessThanOrEqual(100);
              expect(state.canary.percentage).toBeLessThan(100);
              const previous = canariesBefore[role];
              if (previous && previous.id === state.canary.id) expect(state.canary.epoch).toBeGreaterThanOrEqual(previous.epoch);
            }
            expect(state.rejected).not.toContain(state.stable);
            expect(new Set(state.rejected).size).toBe(state.rejected.length);
            expect(state.previousStables.length).toBeLessThanOrEqual(MAX_PREVIOUS_STABLES);
          }
          // Roles not named by the transition are untouched.
          for (const role of Object.keys(before.roles)) if (role !== transition.role) expect(doc.roles[role]).toBe(before.roles[role]);
          // Automatic transitions never start or release a rejected version.
          if (actor === 'auto' && (transition.type === 'start' || transition.type === 'release')) {
            expect(before.roles[transition.role]?.rejected ?? []).not.toContain(transition.versionId);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
