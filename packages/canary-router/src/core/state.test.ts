import { MalformedFileError } from '@bernstein/store';
import { describe, expect, it } from 'vitest';
import { canaryStateDocument, recogniseUpstreamCanaryFile } from './state.js';

describe('the upstream canary.json (issue 16)', () => {
  it('is recognised at the top level, per role and in camelCase, and the message says how to move on', () => {
    const shapes = [
      { canary_version: 'a', stable_version: 'b', canary_passed: 1, canary_total: 2, stable_passed: 3, stable_total: 4 },
      { backend: { canary_tasks: 1, canary_passes: 1, stable_tasks: 2, stable_passes: 2 } },
      { roles: { backend: { canaryPassed: 1, canaryTotal: 2, stablePassed: 3, stableTotal: 4 } } },
    ];
    for (const shape of shapes) {
      const message = recogniseUpstreamCanaryFile(shape);
      expect(message, JSON.stringify(shape)).toMatch(/original Bernstein implementation/);
      expect(message).toMatch(/bernstein versions scan/);
      let error: unknown;
      try {
        canaryStateDocument.parse('.sdd/config/canary.json', JSON.stringify(shape));
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(MalformedFileError);
      expect((error as Error).message).toMatch(/^\.sdd\/config\/canary\.json: this is a canary file of the original Bernstein implementation/);
    }
  });

  it('leaves other files without schemaVersion to the usual message', () => {
    expect(recogniseUpstreamCanaryFile({ roles: {} })).toBeUndefined();
    expect(() => canaryStateDocument.parse('x.json', '{"roles":{}}')).toThrow(/missing or invalid "schemaVersion"/);
  });
});
