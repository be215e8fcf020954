/**
 * Issue 2, end to end through the built `bernstein` bin: `versions scan | list | show | diff`,
 * content addressing across processes and project folders, a corrupted registry, hostile role names.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hashBundle, type RoleBundle } from '@bernstein/prompt-versions';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectCleanError, expectOk } from './helpers/assert.ts';
import { binPath, fixture } from './helpers/paths.ts';
import { parseJson, runBin, runNode } from './helpers/process.ts';
import { makeProject, removeProjects, type TempProject } from './helpers/project.ts';

// Real processes on a small machine: generous per-test limits (a hang still fails, with output).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const HEX12 = /^[0-9a-f]{12}$/;

interface ScanJson {
  versions: Array<{ role: string; id: string; new: boolean; stable: boolean }>;
}

async function scan(project: TempProject): Promise<ScanJson> {
  return parseJson<ScanJson>(expectOk(await runBin(['versions', 'scan', '--json'], { dir: project.dir })));
}

function idOf(result: ScanJson, role: string): string {
  const entry = result.versions.find((v) => v.role === role);
  if (!entry) throw new Error(`scan output has no role ${role}: ${JSON.stringify(result)}`);
  return entry.id;
}

function twoRoleProject(): TempProject {
  return makeProject({
    roles: {
      backend: {
        files: { 'system_prompt.md': 'You are a careful backend engineer.\nWrite tests first.\n', 'task_prompt.md': 'Task: {{task}}\n' },
        model: { default_model: 'sonnet', default_effort: 'high' },
      },
      qa: { files: { 'system_prompt.md': 'You review pull requests.\n' }, model: { default_model: 'haiku' } },
    },
  });
}

beforeAll(() => {
  if (!existsSync(binPath())) throw new Error(`the bernstein bin is not built (${binPath()}); run \`pnpm build\` first`);
});
afterAll(removeProjects);

describe('bernstein versions scan', () => {
  it('prints {"versions":[{role,id,new,stable}]} and a re-scan is idempotent (same ids, new=false, registry byte-identical)', async () => {
    const project = twoRoleProject();
    const first = await scan(project);
    expect(Object.keys(first)).toEqual(['versions']);
    expect(first.versions.map((v) => v.role).sort()).toEqual(['backend', 'qa']);
    for (const v of first.versions) {
      expect(Object.keys(v).sort()).toEqual(['id', 'new', 'role', 'stable']);
      expect(v.id).toMatch(HEX12);
      expect(v.new).toBe(true);
      // First sight (SPEC, Routing rule 2): the bundle on disk becomes the role's stable, and no canary starts.
      expect(v.stable).toBe(true);
    }
    const state = project.state();
    for (const v of first.versions) expect(state.roles[v.role]).toMatchObject({ stable: v.id, canary: null });

    // The registry keeps the 64-char hash; the id is its 12-char prefix.
    const registry = project.registry();
    expect(registry.schemaVersion).toEqual(expect.any(Number));
    for (const v of first.versions) {
      expect(registry.versions[v.id]!.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(registry.versions[v.id]!.hash.slice(0, 12)).toBe(v.id);
      expect(registry.roles[v.role]!.history.map((h) => h.versionId)).toEqual([v.id]);
    }

    const registryBytes = readFileSync(project.files.registry);
    const before = project.snapshot();
    const second = await scan(project);
    expect(second.versions.map((v) => [v.role, v.id])).toEqual(first.versions.map((v) => [v.role, v.id]));
    expect(second.versions.every((v) => v.new === false)).toBe(true);
    expect(readFileSync(project.files.registry).equals(registryBytes)).toBe(true);
    expect(project.snapshot()).toEqual(before);

    // Routing serves the version scan made stable.
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-1'], { dir: project.dir }));
    const third = await scan(project);
    expect(third.versions.find((v) => v.role === 'backend')).toMatchObject({ id: idOf(first, 'backend'), new: false, stable: true });
    expect(third.versions.find((v) => v.role === 'qa')).toMatchObject({ id: idOf(first, 'qa'), new: false, stable: true });

    // One byte of prompt text gives a new version; the other role is untouched.
    project.writeRoleFile('backend', 'task_prompt.md', 'Task: {{task}} \n');
    const fourth = await scan(project);
    expect(idOf(fourth, 'backend')).not.toBe(idOf(first, 'backend'));
    // ...and scan never changes an existing stable.
    expect(fourth.versions.find((v) => v.role === 'backend')).toMatchObject({ new: true, stable: false });
    expect(project.state().roles.backend!.stable).toBe(idOf(first, 'backend'));
    expect(fourth.versions.find((v) => v.role === 'qa')).toMatchObject({ id: idOf(first, 'qa'), new: false });
    expect(project.registry().roles.backend!.history.map((h) => h.versionId)).toEqual([idOf(first, 'backend'), idOf(fourth, 'backend')]);
  });

  it('gives the same id for the same content in another process and another project folder; YAML key order and formatting do not count, prompt bytes do', async () => {
    const prompt = 'You are a backend engineer.\n\nAlways run the tests.\n';
    const a = makeProject({ roles: { backend: { files: { 'system_prompt.md': prompt }, model: 'default_model: sonnet\ndefault_effort: high\nlimits:\n  max_tokens: 4000\n' } } });
    const b = makeProject({
      roles: {
        backend: {
          files: { 'system_prompt.md': prompt },
          model: "# same settings, other order and style\nlimits: { max_tokens: 4000 }\ndefault_effort: 'high'\ndefault_model:    \"sonnet\"\n",
        },
      },
    });
    const c = makeProject({ roles: { backend: { files: { 'system_prompt.md': prompt.replace('tests.', 'tests!') }, model: 'default_model: sonnet\ndefault_effort: high\nlimits:\n  max_tokens: 4000\n' } } });
    const d = makeProject({ roles: { backend: { files: { 'system_prompt.md': prompt }, model: 'default_model: sonnet\ndefault_effort: medium\nlimits:\n  max_tokens: 4000\n' } } });
    const [ra, rb, rc, rd] = await Promise.all([a, b, c, d].map(scan));
    expect(idOf(ra!, 'backend')).toBe(idOf(rb!, 'backend'));
    expect(a.registry().versions[idOf(ra!, 'backend')]!.hash).toBe(b.registry().versions[idOf(rb!, 'backend')]!.hash);
    expect(idOf(rc!, 'backend')).not.toBe(idOf(ra!, 'backend'));
    expect(idOf(rd!, 'backend')).not.toBe(idOf(ra!, 'backend'));

    // The id the CLI computed from disk is the id any process computes from the same content.
    const bundle: RoleBundle = { role: 'backend', files: { 'system_prompt.md': prompt }, model: { default_model: 'sonnet', default_effort: 'high', limits: { max_tokens: 4000 } } };
    expect(hashBundle(bundle).id).toBe(idOf(ra!, 'backend'));
  });

  it('hashes arbitrary bundles identically in two processes (built dist vs this process), and the id is the hash prefix', async () => {
    const fileName = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}\.(md|txt)$/);
    const scalar = fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
    const modelValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), scalar, { maxKeys: 3 }));
    const bundleArb = fc.record({
      role: fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/),
      files: fc.dictionary(fileName, fc.string({ unit: 'grapheme', maxLength: 200 }), { minKeys: 1, maxKeys: 4 }),
      model: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), modelValue, { maxKeys: 5 }),
    });
    // Through JSON, as the other process receives them.
    const bundles = JSON.parse(JSON.stringify(fc.sample(bundleArb, { numRuns: 300, seed: 4242 }))) as RoleBundle[];
    const child = await runNode(fixture('hash-bundles.mjs'), [], { input: JSON.stringify(bundles) });
    expect(child.code, child.stderr).toBe(0);
    const theirs = JSON.parse(child.stdout) as Array<{ id: string; hash: string }>;
    expect(theirs).toHaveLength(bundles.length);
    bundles.forEach((bundle, i) => {
      const ours = hashBundle(bundle);
      expect(theirs[i], JSON.stringify(bundle)).toEqual({ id: ours.id, hash: ours.hash });
      expect(ours.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(ours.id).toBe(ours.hash.slice(0, 12));
    });
    // Distinct content, distinct ids.
    const distinct = new Set(bundles.map((b) => JSON.stringify([b.role, Object.entries(b.files).sort(), b.model])));
    expect(new Set(theirs.map((t) => t.hash)).size).toBe(distinct.size);
  });
});

describe('bernstein versions list / show / diff', () => {
  it('lists versions, shows one by a 4-char prefix or full hash, and diffs files and model config', async () => {
    const project = twoRoleProject();
    const v1 = idOf(await scan(project), 'backend');
    project.writeRoleFile('backend', 'system_prompt.md', 'You are a careful backend engineer.\nWrite property tests first.\n');
    project.writeRoleFile('backend', 'config.yaml', 'default_model: opus\ndefault_effort: high\n');
    const v2 = idOf(await scan(project), 'backend');
    expect(v2).not.toBe(v1);

    const list = expectOk(await runBin(['versions', 'list', '--role', 'backend'], { dir: project.dir }));
    expect(list.stdout).toContain(v1);
    expect(list.stdout).toContain(v2);
    expect(list.stdout).not.toContain(idOf(await scan(project), 'qa'));
    const listJson = parseJson<{ versions: Array<{ id: string; role: string }> }>(expectOk(await runBin(['versions', 'list', '--json'], { dir: project.dir })));
    expect(listJson.versions.map((v) => v.id).sort()).toEqual([v1, v2, idOf(await scan(project), 'qa')].sort());

    const shown = expectOk(await runBin(['versions', 'show', v1.slice(0, 4)], { dir: project.dir }));
    expect(shown.stdout).toContain(v1);
    expect(shown.stdout).toContain('Write tests first.');
    expect(shown.stdout).toContain('sonnet');
    const shownJson = parseJson<{ id: string; role: string; files: Record<string, string>; model: Record<string, unknown> }>(
      expectOk(await runBin(['versions', 'show', v2.slice(0, 7), '--json'], { dir: project.dir })),
    );
    expect(shownJson).toMatchObject({
      id: v2,
      role: 'backend',
      files: { 'system_prompt.md': 'You are a careful backend engineer.\nWrite property tests first.\n', 'task_prompt.md': 'Task: {{task}}\n' },
      model: { default_model: 'opus', default_effort: 'high' },
    });
    const fullHash = project.registry().versions[v2]!.hash;
    expect(parseJson<{ id: string }>(expectOk(await runBin(['versions', 'show', fullHash, '--json'], { dir: project.dir }))).id).toBe(v2);

    // A version keeps its content after the files on disk changed.
    expect(project.readRoleFile('backend', 'system_prompt.md')).not.toContain('Write tests first.');

    const diff = expectOk(await runBin(['versions', 'diff', v1.slice(0, 5), v2.slice(0, 5)], { dir: project.dir }));
    expect(diff.stdout).toMatch(/^-Write tests first\.$/m);
    expect(diff.stdout).toMatch(/^\+Write property tests first\.$/m);
    expect(diff.stdout).toMatch(/^-default_model: sonnet$/m);
    expect(diff.stdout).toMatch(/^\+default_model: opus$/m);
    expect(diff.stdout).not.toContain('task_prompt.md');
  });

  it('refuses unknown, too-short and malformed prefixes with one line naming the candidates', async () => {
    const project = twoRoleProject();
    const ids = (await scan(project)).versions.map((v) => v.id);
    let unknown = 'ffff0000';
    while (ids.some((id) => id.startsWith(unknown.slice(0, 4)))) unknown = (parseInt(unknown, 16) + 0x10000).toString(16).padStart(8, '0');
    const before = project.snapshot();

    const notFound = expectCleanError(await runBin(['versions', 'show', unknown], { dir: project.dir }), [unknown]);
    for (const id of ids) expect(notFound).toContain(id);
    expectCleanError(await runBin(['versions', 'show', ids[0]!.slice(0, 3)], { dir: project.dir }), [ids[0]!.slice(0, 3)]);
    expectCleanError(await runBin(['versions', 'show', 'zzzz'], { dir: project.dir }), ['zzzz']);
    expectCleanError(await runBin(['versions', 'diff', ids[0]!, unknown], { dir: project.dir }), [unknown]);
    expect(project.snapshot()).toEqual(before);
  });

  it('reports an ambiguous 4-char prefix listing both candidates, and resolves it once it is unique', async () => {
    // Two contents of one role whose ids share their first 4 hex chars (birthday search).
    const seen = new Map<string, { text: string; id: string }>();
    let pair: [{ text: string; id: string }, { text: string; id: string }] | undefined;
    for (let i = 0; !pair; i++) {
      const text = `Prompt revision ${i}\n`;
      const { id } = hashBundle({ role: 'amb', files: { 'system_prompt.md': text }, model: {} });
      const other = seen.get(id.slice(0, 4));
      if (other) pair = [other, { text, id }];
      else seen.set(id.slice(0, 4), { text, id });
    }
    const [a, b] = pair;
    const prefix = a.id.slice(0, 4);
    const project = makeProject({ roles: { amb: { files: { 'system_prompt.md': a.text } } } });
    expect(idOf(await scan(project), 'amb')).toBe(a.id);
    project.writeRoleFile('amb', 'system_prompt.md', b.text);
    expect(idOf(await scan(project), 'amb')).toBe(b.id);
    const before = project.snapshot();

    const ambiguous = expectCleanError(await runBin(['versions', 'show', prefix], { dir: project.dir }), [prefix]);
    expect(ambiguous).toContain(a.id);
    expect(ambiguous).toContain(b.id);
    expectCleanError(await runBin(['versions', 'diff', prefix, b.id], { dir: project.dir }), [a.id, b.id]);
    expectCleanError(await runBin(['config', 'canary', '--prompt-version', prefix, '--percentage', '10'], { dir: project.dir }), [a.id, b.id]);
    expect(project.snapshot()).toEqual(before);

    // The first position where they differ makes a unique prefix.
    let n = 5;
    while (a.id.slice(0, n) === b.id.slice(0, n)) n++;
    expect(parseJson<{ id: string }>(expectOk(await runBin(['versions', 'show', a.id.slice(0, n), '--json'], { dir: project.dir }))).id).toBe(a.id);
  });
});

describe('a corrupted .sdd/config/prompt_versions.json', () => {
  const corruptions: Array<[string, (text: string) => string]> = [
    ['truncated JSON', (text) => text.slice(0, Math.floor(text.length / 2))],
    ['valid JSON, invalid registry', () => '{"schemaVersion":1,"versions":{"abc":{"id":1}},"roles":[]}\n'],
  ];

  let project: TempProject;
  let ids: string[];
  let pristine: Buffer;
  beforeAll(async () => {
    project = twoRoleProject();
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-0'], { dir: project.dir }));
    project.writeRoleFile('backend', 'system_prompt.md', 'Edited.\n');
    ids = (await scan(project)).versions.map((v) => v.id);
    ids.push(...Object.keys(project.registry().versions));
    pristine = readFileSync(project.files.registry);
  });

  const commands: Array<[string, () => string[]]> = [
    ['versions scan', () => ['versions', 'scan']],
    ['versions list', () => ['versions', 'list']],
    ['versions show', () => ['versions', 'show', ids[0]!.slice(0, 6)]],
    ['versions diff', () => ['versions', 'diff', ids[0]!, ids[1]!]],
    ['canary route', () => ['canary', 'route', '--role', 'backend', '--task', 'T-new']],
    ['canary status', () => ['canary', 'status']],
  ];

  it('a newer schemaVersion is refused by name, not migrated or overwritten', async () => {
    const newer = pristine.toString('utf8').replace(/"schemaVersion":\s*1/, '"schemaVersion": 999');
    writeFileSync(project.files.registry, newer);
    const before = project.snapshot();
    expectCleanError(await runBin(['versions', 'scan'], { dir: project.dir }), ['prompt_versions.json', '999']);
    expect(project.snapshot()).toEqual(before);
    writeFileSync(project.files.registry, pristine);
  });

  it.each(commands)('makes `%s` fail with one line naming the file, and leaves every file byte-for-byte unchanged', async (_name, args) => {
    for (const [kind, corrupt] of corruptions) {
      const bad = corrupt(pristine.toString('utf8'));
      expect(bad, kind).not.toBe(pristine.toString('utf8'));
      writeFileSync(project.files.registry, bad);
      const before = project.snapshot();
      const result = await runBin(args(), { dir: project.dir });
      expect(result.stdout, `${kind}: nothing on stdout`).toBe('');
      expectCleanError(result, ['prompt_versions.json']);
      expect(readFileSync(project.files.registry, 'utf8'), kind).toBe(bad);
      expect(project.snapshot(), kind).toEqual(before);
    }
    writeFileSync(project.files.registry, pristine);
  });
});

describe('hostile role names', () => {
  it('refuses ../x and a/b everywhere a role is named, and reads nothing outside templates/', async () => {
    const project = twoRoleProject();
    // Bundles a path traversal would find: templates/x and templates/roles/a/b.
    project.writeRole('../x', { files: { 'system_prompt.md': 'outside the templates folder\n' } });
    project.writeRole('a/b', { files: { 'system_prompt.md': 'nested\n' } });
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-1'], { dir: project.dir }));
    const before = project.snapshot();
    const attempts = [
      ...['../x', 'a/b', '..', '/etc'].flatMap((role) => [
        { role, args: ['canary', 'route', '--role', role, '--task', 'T-2'] },
        { role, args: ['config', 'canary', '--role', role, '--percentage', '10'] },
      ]),
      { role: '../x', args: ['config', 'canary', '--role', '../x', '--model', 'opus', '--percentage', '10'] },
    ];
    const results = await Promise.all(attempts.map(({ args }) => runBin(args, { dir: project.dir })));
    results.forEach((result, i) => expectCleanError(result, [attempts[i]!.role]));
    expect(project.snapshot()).toEqual(before);
    // A scan only ever sees role folders directly under templates/roles.
    const roles = (await scan(project)).versions.map((v) => v.role);
    expect(roles).not.toContain('../x');
    expect(roles).not.toContain('a/b');
    for (const file of Object.keys(project.snapshot())) {
      expect(readFileSync(project.path('.sdd', file), 'utf8'), file).not.toContain('outside the templates folder');
    }
  });
});
