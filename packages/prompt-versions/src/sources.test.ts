import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isBernsteinError } from '@bernstein/store';
import { hashBundle } from './hash.js';
import { defaultBundleLayout, discoverRoles, expandPattern, ignoreMatcher, readRoleBundle, type BundleLayout } from './sources.js';
import { decodeBundleText, firstInvalidUtf8Line } from './text.js';

async function tree(files: Record<string, string | Buffer>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'bernstein-src-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), content);
  }
  return root;
}

/** The upstream layout: role folders plus a skills tree, shared protocol files, model config from the role folder. */
function upstream(root: string, extra: Partial<BundleLayout> = {}): BundleLayout {
  return {
    ...defaultBundleLayout(root),
    sources: ['{templates}/{role}/', 'templates/skills/{role}/'],
    shared: ['templates/roles/_includes/*.md', 'templates/skills/*.md'],
    ...extra,
  };
}

describe('expandPattern', () => {
  it('substitutes placeholders and normalises', () => {
    expect(expandPattern('{templates}/{role}/', { templates: 'templates/roles/', role: 'qa' })).toBe('templates/roles/qa/');
    expect(expandPattern('./{templates}/{role}/config.yaml', { templates: 'a', role: 'qa' })).toBe('a/qa/config.yaml');
    expect(expandPattern('{templates}/{role}/', { templates: '.', role: 'qa' })).toBe('qa/');
  });
});

describe('ignore', () => {
  it('always has the defaults and adds the project patterns', () => {
    const ignored = ignoreMatcher(['notes.txt', 'templates/skills/*/drafts']);
    for (const path of ['a/system_prompt.md~', 'a/.system_prompt.md.swp', 'a/x.swo', 'a/#x.md#', 'a/.DS_Store', '.git', 'r/notes.txt', 'templates/skills/qa/drafts']) {
      expect(ignored(path), path).toBe(true);
    }
    for (const path of ['a/system_prompt.md', 'a/notes.md', 'templates/skills/qa/SKILL.md']) expect(ignored(path), path).toBe(false);
  });
});

describe('readRoleBundle', () => {
  it('default layout: the id of an existing project is the one the first release gave it', async () => {
    const root = await tree({
      'templates/roles/backend/system_prompt.md': 'You are a careful backend engineer.\n',
      'templates/roles/backend/task_prompt.md': 'Task: {{task}}\n',
      'templates/roles/backend/snippets/review.md': 'Review.\n',
      'templates/roles/backend/config.yaml': 'default_model: sonnet\ndefault_effort: high\n',
    });
    // Computed with the 0.1.0 loader (templates/roles/<role>/, keys relative to the role folder).
    expect(hashBundle((await readRoleBundle(defaultBundleLayout(root), 'backend')).bundle).id).toBe('a0c8e5d047f1');
  });

  it('default layout: keys relative to the role folder, config.yaml is the model, ignored files never count', async () => {
    const root = await tree({
      'templates/roles/backend/system_prompt.md': 'sys\n',
      'templates/roles/backend/config.yaml': 'default_model: sonnet\n',
      'templates/roles/backend/snippets/review.md': 'r\n',
    });
    const { bundle } = await readRoleBundle(defaultBundleLayout(root), 'backend');
    expect(bundle.files).toEqual({ 'snippets/review.md': 'r\n', 'system_prompt.md': 'sys\n' });
    const before = hashBundle(bundle).id;
    await writeFile(join(root, 'templates/roles/backend/system_prompt.md~'), 'old\n');
    await writeFile(join(root, 'templates/roles/backend/.system_prompt.md.swp'), Buffer.from([0, 1, 2]));
    await writeFile(join(root, 'templates/roles/backend/#system_prompt.md#'), 'emacs\n');
    expect(hashBundle((await readRoleBundle(defaultBundleLayout(root), 'backend')).bundle).id).toBe(before);
    // A stray file counts until the project ignores it.
    await writeFile(join(root, 'templates/roles/backend/notes.txt'), 'todo\n');
    expect(hashBundle((await readRoleBundle(defaultBundleLayout(root), 'backend')).bundle).id).not.toBe(before);
    expect(hashBundle((await readRoleBundle({ ...defaultBundleLayout(root), ignore: ['*.txt'] }, 'backend')).bundle).id).toBe(before);
  });

  it('several sources and shared files: keys from the project root, model config from its own path', async () => {
    const root = await tree({
      'templates/roles/backend/system_prompt.md': 'sys\n',
      'templates/roles/backend/config.yaml': 'default_model: sonnet\n',
      'templates/roles/_includes/protocol.md': 'protocol\n',
      'templates/skills/backend/SKILL.md': 'skill\n',
      'templates/skills/backend/references/api.md': 'api\n',
      'templates/skills/backend/scripts/check.sh': '#!/bin/sh\nexit 0\n',
      'templates/skills/shared-rules.md': 'rules\n',
      'templates/skills/qa/SKILL.md': 'qa skill\n',
    });
    const { bundle } = await readRoleBundle(upstream(root), 'backend');
    expect(Object.keys(bundle.files)).toEqual([
      'templates/roles/_includes/protocol.md',
      'templates/roles/backend/system_prompt.md',
      'templates/skills/backend/SKILL.md',
      'templates/skills/backend/references/api.md',
      'templates/skills/backend/scripts/check.sh',
      'templates/skills/shared-rules.md',
    ]);
    expect(bundle.model).toEqual({ default_model: 'sonnet' });
    // A skills-only layout reads the model config from the role folder.
    const skills = await readRoleBundle({ ...defaultBundleLayout(root, 'templates/skills'), modelConfig: 'templates/roles/{role}/config.yaml' }, 'backend');
    expect(skills.bundle.model).toEqual({ default_model: 'sonnet' });
    expect(Object.keys(skills.bundle.files)).toEqual(['SKILL.md', 'references/api.md', 'scripts/check.sh']);
  });

  it('globs select files below their literal prefix', async () => {
    const root = await tree({ 'templates/roles/r/a.md': 'a\n', 'templates/roles/r/b.txt': 'b\n', 'templates/roles/r/deep/c.md': 'c\n' });
    const { bundle } = await readRoleBundle({ ...defaultBundleLayout(root), sources: ['{templates}/{role}/**/*.md'] }, 'r');
    expect(Object.keys(bundle.files)).toEqual(['a.md', 'deep/c.md']);
  });

  it('follows symlinks inside the project root; refuses links outside, broken links and cycles, naming the link', async () => {
    const root = await tree({ 'templates/roles/r/p.md': 'p\n', 'docs/house-rules.md': 'rules\n', 'shared-roles/ops/system_prompt.md': 'ops\n' });
    await symlink(join(root, 'docs/house-rules.md'), join(root, 'templates/roles/r/house-rules.md'));
    await symlink('../../shared-roles/ops', join(root, 'templates/roles/ops'));
    expect((await readRoleBundle(defaultBundleLayout(root), 'r')).bundle.files['house-rules.md']).toBe('rules\n');
    expect((await readRoleBundle(defaultBundleLayout(root), 'ops')).bundle.files).toEqual({ 'system_prompt.md': 'ops\n' });
    expect((await discoverRoles(defaultBundleLayout(root))).roles).toEqual(['ops', 'r']);

    const outside = await tree({ 'secret.md': 'secret\n' });
    await symlink(join(outside, 'secret.md'), join(root, 'templates/roles/r/secret.md'));
    const error = await readRoleBundle(defaultBundleLayout(root), 'r').catch((e: unknown) => e);
    expect(isBernsteinError(error, 'BUNDLE_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/^templates\/roles\/r\/secret\.md: symlink points outside the project root/);

    const cyclic = await tree({ 'templates/roles/c/p.md': 'p\n' });
    await symlink('..', join(cyclic, 'templates/roles/c/loop'));
    await expect(readRoleBundle(defaultBundleLayout(cyclic), 'c')).rejects.toThrow(/templates\/roles\/c\/loop: symlink forms a cycle/);

    const broken = await tree({ 'templates/roles/b/p.md': 'p\n' });
    await symlink('missing.md', join(broken, 'templates/roles/b/gone.md'));
    await expect(readRoleBundle(defaultBundleLayout(broken), 'b')).rejects.toThrow(/templates\/roles\/b\/gone\.md: symlink is broken/);
  });

  it('refuses binary and non-UTF-8 files for the role, naming file and line', async () => {
    const root = await tree({ 'templates/roles/r/p.md': 'x\n', 'templates/roles/r/logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d]) });
    await expect(readRoleBundle(defaultBundleLayout(root), 'r')).rejects.toThrow(/^templates\/roles\/r\/logo\.png: binary file.*bundle\.ignore/);
    expect(Object.keys((await readRoleBundle({ ...defaultBundleLayout(root), ignore: ['*.png'] }, 'r')).bundle.files)).toEqual(['p.md']);
    await writeFile(join(root, 'templates/roles/r/p.md'), Buffer.concat([Buffer.from('line one\nline two\nbad '), Buffer.from([0xff]), Buffer.from('\n')]));
    await expect(readRoleBundle({ ...defaultBundleLayout(root), ignore: ['*.png'] }, 'r')).rejects.toThrow(/^templates\/roles\/r\/p\.md:3: not valid UTF-8/);
  });

  it('an empty role folder is BUNDLE_EMPTY; a missing one ROLE_NOT_FOUND', async () => {
    const root = await tree({ 'templates/roles/r/p.md': 'x\n' });
    await mkdir(join(root, 'templates/roles/empty'));
    expect(isBernsteinError(await readRoleBundle(defaultBundleLayout(root), 'empty').catch((e: unknown) => e), 'BUNDLE_EMPTY')).toBe(true);
    expect(isBernsteinError(await readRoleBundle(defaultBundleLayout(root), 'nope').catch((e: unknown) => e), 'ROLE_NOT_FOUND')).toBe(true);
  });
});

describe('discoverRoles', () => {
  it('names what is skipped instead of dropping it silently', async () => {
    const root = await tree({
      'templates/roles/backend/p.md': 'x\n',
      'templates/roles/_includes/protocol.md': 'p\n',
      'templates/roles/README.md': 'loose\n',
      'templates/roles/.DS_Store': 'x',
    });
    const found = await discoverRoles(defaultBundleLayout(root));
    expect(found.roles).toEqual(['backend']);
    expect(found.skipped.map((s) => s.path)).toEqual(['templates/roles/README.md', 'templates/roles/_includes/']);
    // Listed as shared, _includes is part of every bundle and not reported.
    expect((await discoverRoles({ ...defaultBundleLayout(root), shared: ['templates/roles/_includes/*.md'] })).skipped.map((s) => s.path)).toEqual(['templates/roles/README.md']);
  });
});

describe('text', () => {
  it('normalises line endings and finds the line of a bad byte', () => {
    expect(decodeBundleText('f', Buffer.from('a\r\nb\rc\n'))).toBe('a\nb\nc\n');
    expect(firstInvalidUtf8Line(Buffer.from([0x61, 0x0a, 0x62, 0x0a, 0xc3]))).toBe(3);
    expect(firstInvalidUtf8Line(Buffer.from('ok\n'))).toBeUndefined();
  });
});
