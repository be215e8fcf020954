import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isBernsteinError } from '@bernstein/store';
import { assertRoleName, listRoles, loadRoleBundle, parseModelConfig, withModel } from './bundle.js';
import { makeProject } from '@bernstein/test-utils';

describe('loadRoleBundle', () => {
  it('reads prompt files and the model config', async () => {
    const root = await makeProject({
      backend: { 'system_prompt.md': 'sys\n', 'task_prompt.md': 'task\n', 'config.yaml': 'default_model: sonnet\n', 'snippets/review.md': 'r\n', '.DS_Store': 'x' },
    });
    const bundle = await loadRoleBundle(join(root, 'templates/roles'), 'backend');
    expect(bundle).toEqual({
      role: 'backend',
      files: { 'snippets/review.md': 'r\n', 'system_prompt.md': 'sys\n', 'task_prompt.md': 'task\n' },
      model: { default_model: 'sonnet' },
    });
  });

  it('keeps a byte-order mark and CRLF as they are', async () => {
    const root = await makeProject({ r: { 'p.md': '\uFEFFhello\r\n' } });
    expect((await loadRoleBundle(join(root, 'templates/roles'), 'r')).files['p.md']).toBe('\uFEFFhello\r\n');
  });

  it('refuses invalid UTF-8 instead of losing bytes', async () => {
    const root = await makeProject({ r: { 'p.md': 'x' } });
    await writeFile(join(root, 'templates/roles/r/p.md'), Buffer.from([0x68, 0xff, 0x69]));
    await expect(loadRoleBundle(join(root, 'templates/roles'), 'r')).rejects.toThrow(/not valid UTF-8/);
  });

  it('reports a malformed config.yaml with file and line', async () => {
    const root = await makeProject({ r: { 'p.md': 'x', 'config.yaml': 'default_model: a\n  bad: [\n' } });
    await expect(loadRoleBundle(join(root, 'templates/roles'), 'r')).rejects.toThrow(/config\.yaml:\d+: invalid YAML/);
  });

  it('refuses hostile role names before touching the file system', async () => {
    const root = await makeProject({ r: { 'p.md': 'x' } });
    for (const name of ['../r', '..', 'a/b', 'a\\b', '', '.hidden', 'x'.repeat(65), 'r\0']) {
      const error = await loadRoleBundle(join(root, 'templates/roles'), name).catch((e: unknown) => e);
      expect(isBernsteinError(error, 'INVALID_ROLE'), name).toBe(true);
    }
    expect(() => assertRoleName('backend-v2.qa_1')).not.toThrow();
  });

  it('says clearly when a role does not exist or is empty', async () => {
    const root = await makeProject({ r: { 'p.md': 'x' } });
    await expect(loadRoleBundle(join(root, 'templates/roles'), 'missing')).rejects.toThrow(/no role "missing"/);
    await mkdir(join(root, 'templates/roles/empty'));
    await expect(loadRoleBundle(join(root, 'templates/roles'), 'empty')).rejects.toThrow(/no prompt files/);
  });

  it('lists role folders, skipping files and unsafe names', async () => {
    const root = await makeProject({ b: { 'p.md': 'x' }, a: { 'p.md': 'x' } });
    await writeFile(join(root, 'templates/roles/README.md'), 'not a role');
    await mkdir(join(root, 'templates/roles/.git'));
    expect(await listRoles(join(root, 'templates/roles'))).toEqual(['a', 'b']);
    expect(await listRoles(join(root, 'nope'))).toEqual([]);
  });
});

describe('model config', () => {
  it('parses a mapping and treats an empty file as {}', () => {
    expect(parseModelConfig('c.yaml', 'a: 1\nb: [x, y]\n')).toEqual({ a: 1, b: ['x', 'y'] });
    expect(parseModelConfig('c.yaml', '')).toEqual({});
  });

  it('refuses a non-mapping', () => {
    expect(() => parseModelConfig('c.yaml', '- a\n- b\n')).toThrow(/c\.yaml.*mapping/);
  });

  it('withModel replaces default_model only', () => {
    expect(withModel({ role: 'r', files: { a: 'x' }, model: { default_model: 'a', t: 1 } }, 'b').model).toEqual({ default_model: 'b', t: 1 });
  });
});
