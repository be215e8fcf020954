/**
 * Issue 2: processes registering versions at the same time lose nothing and duplicate nothing.
 * Real processes (the built registry, and the built bin), released together from a start barrier.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hashBundle, type RoleBundle } from '@bernstein/prompt-versions';
import { FileStore } from '@bernstein/store-file';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { expectOk } from './helpers/assert.ts';
import { fixture } from './helpers/paths.ts';
import { describeResult, parseJson, runBinMany, spawnMany } from './helpers/process.ts';
import { makeProject, removeProjects, type TempProject } from './helpers/project.ts';

// Real processes on a small machine: generous per-test limits (a hang still fails, with output).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

afterAll(removeProjects);

const bundle = (role: string, text: string, model: Record<string, string> = {}): RoleBundle => ({ role, files: { 'system_prompt.md': text }, model });

/** Each role's history names each of its versions exactly once, and every version's content loads. */
async function expectRegistryExactly(project: TempProject, bundles: readonly RoleBundle[]): Promise<void> {
  const expected = new Map<string, RoleBundle>();
  for (const b of bundles) expected.set(hashBundle(b).id, b);
  const registry = project.registry();
  expect(Object.keys(registry.versions).sort()).toEqual([...expected.keys()].sort());
  const roles = [...new Set(bundles.map((b) => b.role))].sort();
  expect(Object.keys(registry.roles).sort()).toEqual(roles);
  for (const role of roles) {
    const history = registry.roles[role]!.history.map((h) => h.versionId);
    const ofRole = [...expected].filter(([, b]) => b.role === role).map(([id]) => id);
    expect(history.length, `history of ${role} has no duplicates`).toBe(new Set(history).size);
    expect([...history].sort()).toEqual(ofRole.sort());
  }
  // Content files: one per version, each verified against its hash on load.
  expect(readdirSync(project.files.versions).sort()).toEqual([...expected.keys()].map((id) => `${id}.json`).sort());
  const store = new FileStore(project.dir);
  for (const [id, b] of expected) {
    const version = await store.getVersion(id);
    expect(version.files).toEqual(b.files);
    expect(version.model).toEqual(b.model);
  }
}

async function race(project: TempProject, perProcess: RoleBundle[][]): Promise<Array<Array<{ id: string; isNew: boolean }>>> {
  const results = await spawnMany(perProcess.length, (i) => ({ script: fixture('register.mjs'), args: [project.dir], input: JSON.stringify(perProcess[i]) }), {
    barrier: true,
    timeoutMs: 90_000,
  });
  return results.map((r) => {
    expect(r.code, describeResult(r)).toBe(0);
    return JSON.parse(r.stdout) as Array<{ id: string; isNew: boolean }>;
  });
}

describe('concurrent registration', () => {
  it('two processes registering different and identical bundles at once: each version once, history entries once', async () => {
    const project = makeProject();
    const shared = [bundle('shared', 'same for everyone\n'), bundle('shared', 'second shared\n', { default_model: 'opus' }), bundle('alpha', 'alpha and beta both know this\n')];
    const a = [...Array.from({ length: 5 }, (_, i) => bundle('alpha', `alpha ${i}\n`)), ...shared];
    const b = [...shared].reverse().concat(Array.from({ length: 5 }, (_, i) => bundle('beta', `beta ${i}\n`)));
    const [ra, rb] = await race(project, [a, b]);
    await expectRegistryExactly(project, [...a, ...b]);
    // Exactly one process registered each shared bundle; the other found it.
    for (const s of shared) {
      const id = hashBundle(s).id;
      const news = [...ra!, ...rb!].filter((r) => r.id === id && r.isNew);
      expect(news, id).toHaveLength(1);
    }
    expect([...ra!, ...rb!].filter((r) => r.isNew)).toHaveLength(13);
  });

  it('eight processes, each with its own bundles plus shared ones in a random order: nothing lost, nothing duplicated', async () => {
    const project = makeProject();
    const shared = Array.from({ length: 4 }, (_, i) => bundle(i % 2 ? 'shared-odd' : 'shared-even', `shared ${i}\n`, { default_model: `m${i}` }));
    const orders = fc.sample(fc.shuffledSubarray(shared, { minLength: shared.length, maxLength: shared.length }), { numRuns: 8, seed: 810 });
    const perProcess = orders.map((order, p) => [...Array.from({ length: 3 }, (_, i) => bundle(`role-${p}`, `process ${p} bundle ${i}\n`)), ...order]);
    const results = await race(project, perProcess);
    await expectRegistryExactly(project, perProcess.flat());
    const all = results.flat();
    for (const s of shared) expect(all.filter((r) => r.id === hashBundle(s).id && r.isNew), hashBundle(s).id).toHaveLength(1);
    expect(all.filter((r) => r.isNew)).toHaveLength(8 * 3 + shared.length);
  });

  it('eight `bernstein versions scan` processes over the same templates: one registers each version, the rest find it', async () => {
    const roles = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`role${i}`, { files: { 'system_prompt.md': `role ${i}\n` }, model: { default_model: `model-${i}` } }]));
    const project = makeProject({ roles });
    const results = await runBinMany(8, () => ['versions', 'scan', '--json'], { dir: project.dir, barrier: true, timeoutMs: 90_000 });
    const scans = results.map((r) => parseJson<{ versions: Array<{ role: string; id: string; new: boolean }> }>(expectOk(r)));
    const expectedBundles = Object.entries(roles).map(([role, spec]) => bundle(role, spec.files['system_prompt.md'], spec.model));
    for (const { versions } of scans) {
      expect(versions.map((v) => v.role).sort()).toEqual(Object.keys(roles).sort());
      for (const v of versions) expect(v.id).toBe(hashBundle(expectedBundles.find((b) => b.role === v.role)!).id);
    }
    for (const role of Object.keys(roles)) {
      expect(scans.filter((s) => s.versions.find((v) => v.role === role)!.new), role).toHaveLength(1);
    }
    await expectRegistryExactly(project, expectedBundles);
    // No stray temp files from the atomic writes.
    expect(readdirSync(join(project.sdd, 'config')).sort()).toEqual(['prompt_versions.json']);
    expect(existsSync(join(project.sdd, 'lock'))).toBe(false);
  });
});
