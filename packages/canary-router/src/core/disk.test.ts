import { hashBundle, type RoleBundle } from '@bernstein/prompt-versions';
import { describe, expect, it } from 'vitest';
import { classifyDisk, describeDiskState, effectiveBundle } from './disk.js';
import type { Canary, RoleState } from './state.js';

const A = '00000000000a';
const B = '00000000000b';
const C = '00000000000c';
const NOW = '2025-01-01T00:00:00.000Z';

const canary: Canary = {
  id: '3f9a0c1d2e4b',
  versionId: B,
  baseVersionId: A,
  percentage: 20,
  steps: [],
  stepIndex: -1,
  epoch: 0,
  epochs: [{ epoch: 0, percentage: 20, startedAt: NOW }],
  policy: null,
  startedAt: NOW,
  startedBy: 'auto',
};
const role = (over: Partial<RoleState> = {}): RoleState => ({ stable: A, previousStables: [], rejected: [], canary: null, updatedAt: NOW, ...over });

describe('classifyDisk', () => {
  it('names every case of rules 2, 4 and 7', () => {
    expect(classifyDisk(undefined, undefined, A)).toBe('pending');
    expect(classifyDisk(role({ stable: null }), undefined, A)).toBe('pending');
    expect(classifyDisk(role(), A, A)).toBe('stable');
    expect(classifyDisk(role(), A, B)).toBe('pending');
    expect(classifyDisk(role({ canary }), A, B)).toBe('canary');
    expect(classifyDisk(role({ canary }), B, C)).toBe('moved-on');
    expect(classifyDisk(role({ rejected: [C] }), A, C)).toBe('rejected');
    expect(classifyDisk(role({ canary, rejected: [C] }), B, C)).toBe('rejected');
    // Routing acted on C, then a command made another version stable: C is not acted on again.
    expect(classifyDisk(role(), C, C)).toBe('superseded');
  });

  it('describes the states route warns about, naming versions', () => {
    expect(describeDiskState('qa', 'moved-on', C, role({ canary }))).toMatch(/bundle on disk \(00000000000c\) matches neither stable 00000000000a nor canary 3f9a0c1d2e4b/);
    expect(describeDiskState('qa', 'rejected', C, role({ rejected: [C] }))).toMatch(/rolled back and is rejected; serving stable 00000000000a/);
    for (const state of ['stable', 'canary', 'pending', 'superseded'] as const) expect(describeDiskState('qa', state, A, role())).toBeNull();
  });
});

describe('effectiveBundle (rule 8)', () => {
  const disk: RoleBundle = { role: 'qa', files: { 'p.md': 'edited\n' }, model: { default_model: 'haiku', default_effort: 'low' } };

  it('versions the files on disk with the promoted model while the model config on disk is the one it was made on', () => {
    const result = effectiveBundle(disk, { model: 'opus-4', diskModel: { default_effort: 'low', default_model: 'haiku' } });
    expect(result.bundle).toEqual({ ...disk, model: { default_model: 'opus-4', default_effort: 'low' } });
    expect(result.origin).toEqual({ kind: 'model-override', baseVersionId: hashBundle(disk).id, model: 'opus-4' });
    expect(result.disk).toBe(disk);
  });

  it('lets disk speak for itself once its model config changed, or without a promoted model', () => {
    expect(effectiveBundle(disk, { model: 'opus-4', diskModel: { default_model: 'sonnet', default_effort: 'low' } })).toEqual({ bundle: disk, origin: { kind: 'disk' }, disk });
    expect(effectiveBundle(disk, null)).toEqual({ bundle: disk, origin: { kind: 'disk' }, disk });
  });
});
