import { isBernsteinError } from '@bernstein/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { routesToCanary } from './bucket.js';
import { defaultProjectConfig } from './config.js';
import { autoStartTransition, decideRoute, planBundleChange } from './route.js';
import type { Canary, RoleState } from './state.js';
import { applyTransition } from './transitions.js';
import { emptyCanaryState } from './state.js';

const A = '00000000000a';
const B = '00000000000b';
const C = '00000000000c';
const CID = '3f9a0c1d2e4b';
const NOW = '2025-01-01T00:00:00.000Z';

function canary(over: Partial<Canary> = {}): Canary {
  return {
    id: CID,
    versionId: B,
    baseVersionId: A,
    percentage: 20,
    steps: [],
    stepIndex: -1,
    epoch: 3,
    epochs: [{ epoch: 3, percentage: 20, startedAt: NOW }],
    policy: null,
    startedAt: NOW,
    startedBy: 'auto',
    ...over,
  };
}

function role(over: Partial<RoleState> = {}): RoleState {
  return { stable: A, previousStables: [], rejected: [], canary: null, updatedAt: NOW, ...over };
}

describe('decideRoute', () => {
  it('serves stable when there is no canary', () => {
    expect(decideRoute(role(), 'task-1')).toEqual({ arm: 'stable', versionId: A, canaryId: null, epoch: null });
  });

  it('follows the bucket and tags both arms with the canary id and epoch', () => {
    const state = role({ canary: canary() });
    const ids = Array.from({ length: 10_000 }, (_, i) => `task-${i}`);
    let onCanary = 0;
    for (const id of ids) {
      const decision = decideRoute(state, id);
      expect(decision.canaryId).toBe(CID);
      expect(decision.epoch).toBe(3);
      if (routesToCanary(id, CID, 20)) {
        expect(decision).toEqual({ arm: 'canary', versionId: B, canaryId: CID, epoch: 3 });
        onCanary++;
      } else {
        expect(decision).toEqual({ arm: 'stable', versionId: A, canaryId: CID, epoch: 3 });
      }
    }
    expect(Math.abs(onCanary / 100 - 20)).toBeLessThanOrEqual(1);
  });

  it('is sticky: the same task gets the same arm on every call', () => {
    const state = role({ canary: canary({ percentage: 37.5 }) });
    fc.assert(
      fc.property(fc.string(), (taskId) => {
        expect(decideRoute(state, taskId)).toEqual(decideRoute(state, taskId));
      }),
    );
  });

  it('throws when the role has no stable version', () => {
    let error: unknown;
    try {
      decideRoute(role({ stable: null }), 'task-1');
    } catch (e) {
      error = e;
    }
    expect(isBernsteinError(error, 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('planBundleChange', () => {
  const off = { canaryPercentage: 0 };
  const on = { canaryPercentage: 10 };

  it('initialises a role seen for the first time', () => {
    expect(planBundleChange(undefined, A, on)).toBe('init');
    expect(planBundleChange(role({ stable: null }), A, off)).toBe('init');
  });

  it('does nothing when disk is the stable or the running canary', () => {
    expect(planBundleChange(role(), A, on)).toBe('none');
    expect(planBundleChange(role({ canary: canary() }), B, on)).toBe('none');
  });

  it('ignores a rejected version on disk', () => {
    expect(planBundleChange(role({ rejected: [B] }), B, on)).toBe('rejected');
    expect(planBundleChange(role({ rejected: [B] }), B, off)).toBe('rejected');
    expect(planBundleChange(role({ rejected: [C], canary: canary() }), C, on)).toBe('rejected');
  });

  it('lets a running canary of another version continue', () => {
    expect(planBundleChange(role({ canary: canary() }), C, on)).toBe('none');
    expect(planBundleChange(role({ canary: canary() }), C, off)).toBe('none');
  });

  it('releases directly at canary_percentage 0 and starts a canary above 0', () => {
    expect(planBundleChange(role(), B, off)).toBe('release');
    expect(planBundleChange(role(), B, on)).toBe('start-canary');
  });

  it('with a shared store, treats a former stable or a rolled-back version on disk as a stale checkout (rule 9)', () => {
    const shared = { shared: true };
    expect(planBundleChange(role({ previousStables: [B] }), B, off, shared)).toBe('behind');
    expect(planBundleChange(role({ previousStables: [B] }), B, on, shared)).toBe('behind');
    expect(planBundleChange(role({ rejected: [B] }), B, on, shared)).toBe('behind');
    expect(planBundleChange(role({ previousStables: [C], canary: canary() }), C, on, shared)).toBe('behind');
    // Only never-seen bundles start canaries or direct releases; the files alone keep today's rule.
    expect(planBundleChange(role({ previousStables: [C] }), B, on, shared)).toBe('start-canary');
    expect(planBundleChange(role({ previousStables: [C] }), B, off, shared)).toBe('release');
    expect(planBundleChange(role({ previousStables: [B] }), B, off)).toBe('release');
    expect(planBundleChange(role(), A, on, shared)).toBe('none');
  });

  it('accepts the whole project config too', () => {
    const config = defaultProjectConfig();
    expect(planBundleChange(role(), B, config)).toBe('release');
    expect(planBundleChange(role(), B, { ...config, canary: { ...config.canary, canaryPercentage: 5 } })).toBe('start-canary');
  });
});

describe('autoStartTransition', () => {
  it('starts at canary_percentage, or at the first step with a ramp', () => {
    const config = defaultProjectConfig();
    expect(autoStartTransition('backend', B, A, { ...config.canary, canaryPercentage: 15 })).toEqual({
      type: 'start',
      role: 'backend',
      versionId: B,
      percentage: 15,
      policy: null,
      expectedStable: A,
    });
    const ramp = autoStartTransition('backend', B, A, { ...config, canary: { ...config.canary, canaryPercentage: 15, steps: [5, 50, 100] } });
    expect(ramp).toEqual({ type: 'start', role: 'backend', versionId: B, steps: [5, 50, 100], policy: null, expectedStable: A });
    let doc = applyTransition(emptyCanaryState(), { type: 'init', role: 'backend', versionId: A }, { now: NOW, actor: 'auto', reason: '' }).doc;
    doc = applyTransition(doc, ramp, { now: NOW, actor: 'auto', reason: '', newCanaryId: CID }).doc;
    expect(doc.roles.backend!.canary).toMatchObject({ percentage: 5, stepIndex: 0, policy: null });
  });
});
