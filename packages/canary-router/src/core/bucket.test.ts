import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { bucket, bucketHash, murmurHash3Utf8, routesToCanary } from './bucket.js';

/** Textbook MurmurHash3 x86_32 over a byte array: the independent reference. */
function referenceMurmur3(bytes: Uint8Array, seed = 0): number {
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));
  for (let i = 0; i < blocks; i++) {
    let k = bytes[4 * i]! | (bytes[4 * i + 1]! << 8) | (bytes[4 * i + 2]! << 16) | (bytes[4 * i + 3]! << 24);
    k = Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
    h = (Math.imul(rotl(h ^ k, 13), 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= bytes[tail + 2]! << 16;
    if (rest >= 2) k ^= bytes[tail + 1]! << 8;
    k ^= bytes[tail]!;
    h ^= Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const ids = (n: number, prefix = 'task-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const CANARY_IDS = ['3f9a0c1d2e4b', '000000000000', 'ffffffffffff', 'a1b2c3d4e5f6', '5e1f00d2c7aa'];

describe('murmurHash3Utf8', () => {
  it('matches the published test vectors', () => {
    expect(murmurHash3Utf8('')).toBe(0);
    expect(murmurHash3Utf8('', 1)).toBe(0x514e28b7);
    expect(murmurHash3Utf8('hello')).toBe(0x248bfa47);
    expect(murmurHash3Utf8('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });

  it('equals the reference over the UTF-8 bytes for any string, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff }), (text, seed) => {
        expect(murmurHash3Utf8(text, seed)).toBe(referenceMurmur3(utf8(text), seed));
      }),
      { numRuns: 2000 },
    );
    for (const text of ['é', '€uro', '😀', 'a\ud800', '\udc00b', 'abc\ud83d\ude00de', 'ñññññ', 'task-Ω-7']) {
      expect(murmurHash3Utf8(text)).toBe(referenceMurmur3(utf8(text)));
    }
  });
});

describe('bucket', () => {
  it('is murmur3_x86_32(utf8(`${canaryId}:${taskId}`)) / 2^32 * 100', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 14 }), (taskId, canaryId) => {
        const h = referenceMurmur3(utf8(`${canaryId}:${taskId}`));
        expect(bucketHash(taskId, canaryId)).toBe(h);
        expect(bucket(taskId, canaryId)).toBe((h / 2 ** 32) * 100);
      }),
      { numRuns: 2000 },
    );
  });

  it('stays exact when canary ids alternate (the cached key prefix is per canary id)', () => {
    const canaries = ['3f9a0c1d2e4b', 'é-canary', '', 'a', 'abc:', '😀😀'];
    for (let i = 0; i < 600; i++) {
      const canaryId = canaries[i % canaries.length]!;
      const taskId = i % 7 === 0 ? `tâche-${i}` : `task-${i}`;
      expect(bucketHash(taskId, canaryId)).toBe(referenceMurmur3(utf8(`${canaryId}:${taskId}`)));
    }
  });

  it('pins golden values (a changed hash would re-route every running canary)', () => {
    // Also reproducible outside Node, e.g. Python: mmh3.hash('3f9a0c1d2e4b:task-1', 0, signed=False)
    expect(bucketHash('task-1', '3f9a0c1d2e4b')).toBe(2165419973);
    expect(bucketHash('task-2', '3f9a0c1d2e4b')).toBe(3967530213);
    expect(bucketHash('retry-42', '3f9a0c1d2e4b')).toBe(3024850837);
    expect(bucketHash('é', '3f9a0c1d2e4b')).toBe(2614766909);
    expect(bucket('task-1', '3f9a0c1d2e4b')).toBeCloseTo(50.4176126, 6);
  });

  it('lies in [0, 100), is deterministic, and resolves finer than 0.01', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (taskId, canaryId) => {
        const b = bucket(taskId, canaryId);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(100);
        expect(bucket(taskId, canaryId)).toBe(b);
      }),
    );
    // Distinct values among 10,000 ids: with a 0.01 grid there would be at most 10,000 cells and
    // many collisions; at 100 / 2^32 there are essentially none.
    const values = new Set(ids(10_000).map((t) => bucket(t, CANARY_IDS[0]!)));
    expect(values.size).toBeGreaterThan(9_990);
    expect((bucketHash('x', 'y') / 2 ** 32) * 100 - ((bucketHash('x', 'y') - 1) / 2 ** 32) * 100).toBeLessThan(0.01);
  });

  it.each([1, 5, 20, 50, 99])('routes %d %% of 10,000 distinct ids within 1 point, for several canary ids', (pct) => {
    for (const canaryId of CANARY_IDS) {
      const share = ids(10_000).filter((t) => routesToCanary(t, canaryId, pct)).length / 100;
      expect(Math.abs(share - pct), `canary ${canaryId}: ${share} %`).toBeLessThanOrEqual(1);
    }
  });

  it('stays within 4.5 binomial standard deviations for random canary ids and percentages', () => {
    const taskIds = ids(10_000, 'job/');
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{12}$/), fc.double({ min: 0.5, max: 99.5, noNaN: true }), (canaryId, pct) => {
        const p = pct / 100;
        const share = taskIds.filter((t) => routesToCanary(t, canaryId, pct)).length / taskIds.length;
        expect(Math.abs(share - p)).toBeLessThanOrEqual(4.5 * Math.sqrt((p * (1 - p)) / taskIds.length));
      }),
      { numRuns: 30 },
    );
  });

  it('routes exactly none at 0 % and all at 100 %', () => {
    for (const canaryId of CANARY_IDS) {
      const all = ids(10_000);
      expect(all.filter((t) => routesToCanary(t, canaryId, 0))).toEqual([]);
      expect(all.filter((t) => routesToCanary(t, canaryId, 100))).toHaveLength(10_000);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), (taskId, canaryId) => {
        expect(routesToCanary(taskId, canaryId, 0)).toBe(false);
        expect(routesToCanary(taskId, canaryId, 100)).toBe(true);
        expect(routesToCanary(taskId, canaryId, Number.NaN)).toBe(false);
      }),
    );
  });

  it('is monotone: raising the percentage keeps every canary task on the canary', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (taskId, canaryId, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        if (routesToCanary(taskId, canaryId, low)) expect(routesToCanary(taskId, canaryId, high)).toBe(true);
      }),
      { numRuns: 5000 },
    );
    const canaryId = CANARY_IDS[3]!;
    const at5 = ids(10_000).filter((t) => routesToCanary(t, canaryId, 5));
    const at25 = new Set(ids(10_000).filter((t) => routesToCanary(t, canaryId, 25)));
    expect(at5.every((t) => at25.has(t))).toBe(true);
  });

  it('reshuffles for a different canary id: the two canary sets are nearly independent', () => {
    const all = ids(20_000);
    for (let i = 0; i + 1 < CANARY_IDS.length; i++) {
      const a = CANARY_IDS[i]!;
      const b = CANARY_IDS[i + 1]!;
      const inA = all.map((t) => routesToCanary(t, a, 20));
      const inB = all.map((t) => routesToCanary(t, b, 20));
      const both = inA.filter((x, k) => x && inB[k]).length / all.length;
      expect(Math.abs(both - 0.04), `${a} vs ${b}`).toBeLessThan(0.006); // independent: 0.2 * 0.2
      // Pearson correlation of the raw buckets.
      const xs = all.map((t) => bucket(t, a));
      const ys = all.map((t) => bucket(t, b));
      expect(Math.abs(correlation(xs, ys))).toBeLessThan(0.03);
    }
  });

  it('is uniform over 100 buckets (chi-square, 100,000 similar ids)', () => {
    const n = 100_000;
    for (const canaryId of CANARY_IDS.slice(0, 3)) {
      const counts = new Array<number>(100).fill(0);
      for (let i = 0; i < n; i++) counts[Math.floor(bucket(`task-${i}`, canaryId))]!++;
      const expected = n / 100;
      const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
      // 99 degrees of freedom: mean 99, sd 14; 200 is p < 1e-8.
      expect(chi2, `canary ${canaryId}`).toBeLessThan(200);
    }
  });

  it('avalanches: ids differing in one character get unrelated hashes', () => {
    let flipped = 0;
    let pairs = 0;
    for (let i = 0; i < 5000; i++) {
      const x = bucketHash(`task-${i}`, CANARY_IDS[0]!);
      const y = bucketHash(`task-${i + 1}`, CANARY_IDS[0]!);
      flipped += popcount(x ^ y);
      pairs++;
    }
    const meanFlipped = flipped / pairs;
    expect(meanFlipped).toBeGreaterThan(15.5);
    expect(meanFlipped).toBeLessThan(16.5);
  });

  it('gives the same buckets in another node process (retries stick across processes)', async () => {
    // Transpile the very source under test to plain ESM and run it in a child node process.
    const source = await readFile(fileURLToPath(new URL('./bucket.ts', import.meta.url)), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const dir = await mkdtemp(join(tmpdir(), 'bucket-'));
    try {
      await writeFile(join(dir, 'bucket.mjs'), js);
      await writeFile(
        join(dir, 'child.mjs'),
        `import { bucket } from './bucket.mjs';
const out = [];
for (const c of ${JSON.stringify(CANARY_IDS)}) for (let i = 0; i < 500; i++) out.push(bucket('task-' + i, c), bucket('ü-' + i + '-😀', c));
process.stdout.write(JSON.stringify(out));`,
      );
      const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'child.mjs')], { cwd: dir });
      const expected: number[] = [];
      for (const c of CANARY_IDS) for (let i = 0; i < 500; i++) expected.push(bucket(`task-${i}`, c), bucket(`ü-${i}-😀`, c));
      expect(JSON.parse(stdout)).toEqual(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function popcount(x: number): number {
  let v = x >>> 0;
  let count = 0;
  while (v) {
    v &= v - 1;
    count++;
  }
  return count;
}

function correlation(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}
