import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isBernsteinError, projectPaths } from '@bernstein/store';
import { diffVersions, hashBundle, resolvePrefix, type RoleBundle, type VersionSummary } from '@bernstein/prompt-versions';
import { FileRegistry } from './registry-file.js';
import { makeProject } from '@bernstein/test-utils';

const bundle = (text: string, model: Record<string, string> = { default_model: 'sonnet' }): RoleBundle => ({
  role: 'backend',
  files: { 'system_prompt.md': text },
  model,
});

async function registry() {
  const root = await makeProject({});
  return { root, paths: projectPaths(root), registry: new FileRegistry(projectPaths(root)) };
}

describe('FileRegistry', () => {
  it('registers idempotently and keeps full content', async () => {
    const { registry: reg, paths } = await registry();
    const first = await reg.register(bundle('v1'));
    expect(first.isNew).toBe(true);
    const before = await readFile(paths.registry, 'utf8');
    const again = await reg.register(bundle('v1'));
    expect(again).toEqual({ version: first.version, isNew: false });
    expect(await readFile(paths.registry, 'utf8')).toBe(before);
    const full = await reg.get(first.version.id);
    expect(full.files).toEqual({ 'system_prompt.md': 'v1' });
    expect(full.model).toEqual({ default_model: 'sonnet' });
    expect(await reg.history('backend')).toHaveLength(1);
    const json = JSON.parse(before);
    expect(json.schemaVersion).toBe(1);
  });

  it('keeps per-role history in registration order', async () => {
    const { registry: reg } = await registry();
    const a = await reg.register(bundle('a'));
    const b = await reg.register(bundle('b'));
    await reg.register(bundle('a'));
    expect((await reg.history('backend')).map((h) => h.versionId)).toEqual([a.version.id, b.version.id]);
    expect((await reg.list({ role: 'backend' })).map((v) => v.id)).toEqual([a.version.id, b.version.id]);
    expect(await reg.list({ role: 'other' })).toEqual([]);
  });

  it('resolves ids, hashes and unique prefixes', async () => {
    const { registry: reg } = await registry();
    const { version } = await reg.register(bundle('a'));
    expect((await reg.resolve(version.id)).id).toBe(version.id);
    expect((await reg.resolve(version.hash)).id).toBe(version.id);
    expect((await reg.resolve(version.id.slice(0, 4).toUpperCase())).id).toBe(version.id);
    await expect(reg.resolve(version.id.slice(0, 3))).rejects.toThrow(/at least 4/);
    await expect(reg.resolve('../../etc')).rejects.toThrow(/not a version id/);
    const unknown = await reg.resolve('ffffffffffff'.replace(/^./, version.id[0] === 'f' ? 'e' : 'f')).catch((e: unknown) => e);
    expect(isBernsteinError(unknown, 'VERSION_NOT_FOUND')).toBe(true);
    expect((unknown as Error).message).toContain(version.id);
  });

  it('lists candidates for an ambiguous prefix', () => {
    const v = (id: string): VersionSummary => ({ id, hash: id.padEnd(64, '0'), role: 'r', createdAt: '', origin: { kind: 'disk' }, fileNames: [], model: {} });
    const error = (() => {
      try {
        resolvePrefix([v('abcd00000000'), v('abcd11111111'), v('ffff00000000')], 'abcd');
      } catch (e) {
        return e;
      }
    })();
    expect(isBernsteinError(error, 'VERSION_AMBIGUOUS')).toBe(true);
    expect((error as Error).message).toMatch(/abcd00000000.*abcd11111111/);
  });

  it('fails on a corrupted registry, naming the file, and leaves it byte-for-byte untouched', async () => {
    const { registry: reg, paths } = await registry();
    await reg.register(bundle('a'));
    for (const garbage of ['{"schemaVersion":1,"versions":', 'null', '{"schemaVersion":1,"versions":{"x":1},"roles":{}}', '{"schemaVersion":99}', '']) {
      await writeFile(paths.registry, garbage);
      for (const op of [() => reg.register(bundle('b')), () => reg.list(), () => reg.resolve('abcd')]) {
        const error = await op().catch((e: unknown) => e);
        expect(error, garbage).toBeInstanceOf(Error);
        expect((error as Error).message).toContain(paths.registry);
        expect(await readFile(paths.registry, 'utf8')).toBe(garbage);
      }
    }
  });

  it('detects edited version content', async () => {
    const { registry: reg, paths } = await registry();
    const { version } = await reg.register(bundle('a'));
    const file = join(paths.versionsDir, `${version.id}.json`);
    const content = JSON.parse(await readFile(file, 'utf8'));
    content.files['system_prompt.md'] = 'tampered';
    await writeFile(file, JSON.stringify(content));
    await expect(reg.get(version.id)).rejects.toThrow(/does not match version/);
  });

  it('diffs files and model config', async () => {
    const a = { id: 'a', ...bundle('line 1\nline 2\n') };
    const b = { id: 'b', ...bundle('line 1\nline two\n', { default_model: 'opus' }) };
    const diff = diffVersions(a, b);
    expect(diff.changedFiles).toEqual(['system_prompt.md']);
    expect(diff.modelChanged).toBe(true);
    expect(diff.patch).toContain('-line 2');
    expect(diff.patch).toContain('+line two');
    expect(diff.patch).toContain('-default_model: sonnet');
    expect(diff.patch).toContain('+default_model: opus');
    expect(diffVersions(a, a).patch).toBe('');
    expect(hashBundle(bundle('x')).id).toHaveLength(12);
  });
});
