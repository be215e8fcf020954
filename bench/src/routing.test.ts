import { describe, expect, it } from 'vitest';
import { benchRouting, createRoutingContenders, formatRoutingRows, shareTolerance } from './routing.js';

describe('routing bench', () => {
  it('every contender really routes ~20 % (within 1 point over 10,000 ids)', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `task-${i}`);
    const contenders = await createRoutingContenders(ids);
    try {
      expect(contenders.map((c) => c.key)).toEqual(['bernstein', 'growthbook', 'unleash']);
      for (const c of contenders) {
        const share = c.pass() / ids.length;
        expect(Math.abs(share - 0.2), `${c.name}: ${share}`).toBeLessThanOrEqual(0.01);
        // Deterministic: the same ids give the same count again.
        expect(c.pass() / ids.length).toBe(share);
      }
    } finally {
      for (const c of contenders) c.close();
    }
  });

  it('returns figures for all three contenders (tiny run, no timing assertions)', async () => {
    const result = await benchRouting({ ids: 2000, quick: true, samples: 2, sampleMs: 5 });
    expect(result.rows.map((r) => r.key)).toEqual(['bernstein', 'growthbook', 'unleash']);
    for (const row of result.rows) {
      expect(row.samples).toBe(2);
      expect(row.decisionsPerSec.min).toBeGreaterThan(0);
      expect(row.decisionsPerSec.min).toBeLessThanOrEqual(row.decisionsPerSec.median);
      expect(row.decisionsPerSec.median).toBeLessThanOrEqual(row.decisionsPerSec.max);
      expect(Math.abs(row.share - 0.2)).toBeLessThanOrEqual(shareTolerance(2000));
    }
    expect(Number.isFinite(result.ratios.growthbook)).toBe(true);
    expect(Number.isFinite(result.ratios.unleash)).toBe(true);
    expect(result.target).toBe(10);
    const lines = formatRoutingRows(result);
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatch(/^routing: .*x GrowthBook, .*x Unleash \(target >= 10x\)/);
  });

  it('refuses a non-positive id count', async () => {
    await expect(benchRouting({ ids: 0 })).rejects.toThrow(/ids must be >= 1/);
  });
});
