/**
 * Issue 11 end to end, through the built `bernstein` bin, on a copy of the upstream orchestrator's
 * template tree (several roles, a skills tree with references/ and scripts/, shared protocol files,
 * an _includes folder, a loose file, an editor backup, a symlink in and one out, a CRLF file, an
 * empty folder, a binary file). One `describe` per numbered problem of the issue.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { hashFiles } from '@bernstein/prompt-versions';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectCleanError, expectOk } from './helpers/assert.ts';
import { binPath } from './helpers/paths.ts';
import type { Routed } from './helpers/project.ts';
import { describeResult, parseJson, parseNdjson, runBin, type RunResult } from './helpers/process.ts';
import { buildTemplateTree, UPSTREAM_CONFIG, type TemplateTree } from './helpers/template-tree.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const trees: TemplateTree[] = [];
function tree(options?: Parameters<typeof buildTemplateTree>[0]): TemplateTree {
  const t = buildTemplateTree(options);
  trees.push(t);
  return t;
}
/** The upstream tree without the link that points out (so every role is valid). */
const validTree = (config: string | null = UPSTREAM_CONFIG) => tree({ outsideLink: false, config });
const withPercentage = (percentage: number) => UPSTREAM_CONFIG.replace('canary_percentage: 0', `canary_percentage: ${percentage}`);

beforeAll(() => {
  if (!existsSync(binPath())) throw new Error(`the bernstein bin is not built (${binPath()}); run \`pnpm build\` first`);
});
afterAll(() => {
  for (const t of trees) t.cleanup();
});

interface Scan {
  versions: Array<{ role: string; id: string; new: boolean; stable: boolean }>;
  invalid?: Array<{ role: string; code: string; message: string }>;
}

const bin = (t: TemplateTree, ...args: string[]) => runBin(args, { dir: t.dir });
async function route(t: TemplateTree, role: string, ...tasks: string[]): Promise<{ routed: Routed[]; result: RunResult }> {
  const result = expectOk(await bin(t, 'canary', 'route', '--role', role, ...tasks.flatMap((id) => ['--task', id]), '--json'));
  return { routed: parseNdjson<Routed>(result), result };
}
async function scan(t: TemplateTree): Promise<{ scan: Scan; result: RunResult }> {
  const result = await bin(t, 'versions', 'scan', '--json');
  return { scan: parseJson<Scan>(result), result };
}
const idOf = (s: Scan, role: string) => s.versions.find((v) => v.role === role)?.id;
const stderrLines = (result: RunResult) => result.stderr.split('\n').filter((line) => line.trim() !== '');
async function statusOf(t: TemplateTree, role: string) {
  const roles = parseJson<{ roles: Array<Record<string, any>> }>(expectOk(await bin(t, 'canary', 'status', '--json'))).roles;
  return roles.find((r) => r.role === role)!;
}
const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('(1) a bad edit never stops routing for the role', () => {
  it.each([
    ['a YAML syntax error in config.yaml', 'templates/roles/backend/config.yaml', (t: TemplateTree) => t.write('templates/roles/backend/config.yaml', 'default_model: sonnet\n  default_effort: [high\n'), /templates\/roles\/backend\/config\.yaml:\d+: invalid YAML/],
    ['a non-UTF-8 byte in a prompt', 'templates/roles/backend/system_prompt.md', (t: TemplateTree) => t.write('templates/roles/backend/system_prompt.md', Buffer.from([0x59, 0x6f, 0x75, 0x0a, 0x61, 0xff, 0x0a])), /templates\/roles\/backend\/system_prompt\.md:2: not valid UTF-8/],
    ['a refused symlink', 'templates/roles/backend/leak.md', (t: TemplateTree) => symlinkSync(`${t.outside}/company-secrets.md`, t.path('templates/roles/backend/leak.md')), /templates\/roles\/backend\/leak\.md: symlink points outside the project root/],
  ])('%s: stable and the running canary keep being served, exit 0, one warning, nothing released', async (_what, _file, breakIt, warning) => {
    const t = validTree(withPercentage(30));
    const before = await route(t, 'backend', ...ids(40, 'a'));
    // A running canary of an edit, so both arms are served while disk is broken.
    t.write('templates/roles/backend/task_prompt.md', 'Task for the backend agent: {{task}}\nKeep it small.\n');
    const during = await route(t, 'backend', ...ids(40, 'b'));
    const stable = before.routed[0]!.versionId;
    const canary = during.routed.find((r) => r.arm === 'canary')!;
    expect(canary.versionId).not.toBe(stable);
    const historyBefore = expectOk(await bin(t, 'canary', 'history', '--json')).stdout;

    breakIt(t);
    const again = await route(t, 'backend', ...ids(40, 'b'), ...ids(40, 'c'));
    // Retries keep their arm and version; new tasks get the same two versions.
    expect(again.routed.slice(0, 40).map((r) => [r.arm, r.versionId])).toEqual(during.routed.map((r) => [r.arm, r.versionId]));
    expect(new Set(again.routed.map((r) => r.versionId))).toEqual(new Set([stable, canary.versionId]));
    const lines = stderrLines(again.result);
    expect(lines, describeResult(again.result)).toHaveLength(1);
    expect(lines[0]).toMatch(/^warning: role "backend": /);
    expect(lines[0]).toMatch(warning);
    expect(lines[0]).toContain(`serving stable ${stable} and canary`);
    // Record keeps working; status shows the problem under disk.
    expectOk(await bin(t, 'canary', 'record', '--task', 'c-1', '--passed'));
    const status = await statusOf(t, 'backend');
    expect(status.disk.state).toBe('invalid');
    expect(status.disk.error).toMatch(warning);
    expect(expectOk(await bin(t, 'canary', 'status')).stdout).toMatch(warning);
    // Nothing was released or canaried while broken.
    expect(expectOk(await bin(t, 'canary', 'history', '--json')).stdout).toBe(historyBefore);
  });

  it('a role whose files are broken before it was ever seen cannot be routed: a clean error naming the file', async () => {
    const t = tree(); // the security role links out of the project
    expectCleanError(await bin(t, 'canary', 'route', '--role', 'security', '--task', 's1'), [/templates\/roles\/security\/secrets\.md: symlink points outside/]);
  });
});

describe('(2) one stray item never blocks the scan', () => {
  it('registers every valid role, reports each invalid one on its own line, exits 1 only because of those', async () => {
    const t = tree();
    // A binary file that no ignore pattern covers, and a non-UTF-8 byte in another role.
    t.write('templates/skills/qa/assets/logo.gif', Buffer.from([0x47, 0x49, 0x46, 0x38, 0x00, 0x01]));
    t.write('templates/roles/frontend/system_prompt.md', Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    const { scan: result, result: run } = await scan(t);
    expect(run.code, describeResult(run)).toBe(1);
    expect(result.versions.map((v) => v.role)).toEqual(['backend']);
    expect(result.invalid!.map((r) => r.role).sort()).toEqual(['frontend', 'qa', 'security']);
    const errors = stderrLines(run).filter((line) => line.startsWith('error: '));
    expect(errors).toHaveLength(3);
    expect(errors.find((l) => l.includes('"qa"'))).toMatch(/templates\/skills\/qa\/assets\/logo\.gif: binary file/);
    expect(errors.find((l) => l.includes('"frontend"'))).toMatch(/templates\/roles\/frontend\/system_prompt\.md:1: not valid UTF-8/);
    expect(errors.find((l) => l.includes('"security"'))).toMatch(/templates\/roles\/security\/secrets\.md: symlink points outside/);
    // The empty folder is not a role and not an error: a note.
    expect(stderrLines(run).some((l) => /^note: templates\/roles\/devops\/: an empty role folder/.test(l))).toBe(true);

    // Fixed, everything registers and the exit code is 0.
    t.remove('templates/skills/qa/assets');
    t.write('templates/roles/frontend/system_prompt.md', 'café\n');
    unlinkSync(t.path('templates/roles/security/secrets.md'));
    const fixed = await scan(t);
    expect(fixed.result.code, describeResult(fixed.result)).toBe(0);
    expect(fixed.scan.versions.map((v) => v.role)).toEqual(['backend', 'frontend', 'qa', 'security']);
  });
});

describe('(3) a new project can canary its first edit', () => {
  it('scan → edit → scan → config canary --prompt-version <new> works, and scan prints stable correctly', async () => {
    const t = validTree();
    const first = await scan(t);
    expectOk(first.result);
    expect(first.scan.versions.every((v) => v.new && v.stable), JSON.stringify(first.scan)).toBe(true);
    const v1 = idOf(first.scan, 'backend')!;
    t.write('templates/roles/backend/system_prompt.md', 'You are a careful backend engineer.\nWrite the test first. Then the code.\n');
    const second = await scan(t);
    const v2 = idOf(second.scan, 'backend')!;
    expect(second.scan.versions.find((v) => v.role === 'backend')).toEqual({ role: 'backend', id: v2, new: true, stable: false });
    expect(second.scan.versions.filter((v) => v.role !== 'backend').every((v) => !v.new && v.stable)).toBe(true);
    const state = JSON.parse(readFileSync(t.path('.sdd/config/canary.json'), 'utf8'));
    expect(state.roles.backend.stable).toBe(v1);
    expect(state.roles.backend.canary).toBeNull();

    expectOk(await bin(t, 'config', 'canary', '--prompt-version', v2, '--percentage', '20'));
    const { routed } = await route(t, 'backend', ...ids(400, 't'));
    const share = routed.filter((r) => r.arm === 'canary').length / routed.length;
    expect(share).toBeGreaterThan(0.1);
    expect(share).toBeLessThan(0.3);
    expect(new Set(routed.map((r) => r.versionId))).toEqual(new Set([v1, v2]));
  });
});

describe('(4) a promoted --model canary is not undone by the next prompt edit', () => {
  it('later edits are versioned with the promoted model; status says disk differs; config sync-model brings disk in line', async () => {
    const t = validTree();
    await route(t, 'qa', 'q0');
    expectOk(await bin(t, 'config', 'canary', '--role', 'qa', '--model', 'opus-4', '--percentage', '50'));
    expectOk(await bin(t, 'config', 'canary', '--promote', '--role', 'qa'));
    const promoted = (await route(t, 'qa', 'q1')).routed[0]!;
    expect(promoted.model.default_model).toBe('opus-4');

    // An edit of a prompt: released (canary_percentage 0) with the promoted model, not the one on disk.
    t.write('templates/roles/qa/system_prompt.md', 'You review pull requests, and you are strict about tests.\n');
    const edited = (await route(t, 'qa', 'q2')).routed[0]!;
    expect(edited.versionId).not.toBe(promoted.versionId);
    expect(edited.model).toEqual({ default_model: 'opus-4', default_effort: 'low' });
    expect(edited.files!['templates/roles/qa/system_prompt.md']).toContain('strict about tests');

    const status = await statusOf(t, 'qa');
    expect(status.disk.model).toEqual({ disk: { default_model: 'haiku', default_effort: 'low' }, serving: { default_model: 'opus-4', default_effort: 'low' } });
    expect(expectOk(await bin(t, 'canary', 'status')).stdout).toMatch(/model config on disk \(haiku\) differs from the serving model \(opus-4\); `bernstein config sync-model --role qa`/);

    // The documented way to bring disk in line: the diff first, then the write (comments kept).
    const dry = expectOk(await bin(t, 'config', 'sync-model', '--role', 'qa', '--dry-run'));
    expect(dry.stdout).toMatch(/-default_model: haiku\n\+default_model: opus-4/);
    expect(readFileSync(t.path('templates/roles/qa/config.yaml'), 'utf8')).toContain('haiku');
    const synced = expectOk(await bin(t, 'config', 'sync-model', '--role', 'qa'));
    expect(synced.stdout).toMatch(/\+default_model: opus-4[\s\S]*wrote templates\/roles\/qa\/config\.yaml/);
    expect(readFileSync(t.path('templates/roles/qa/config.yaml'), 'utf8')).toBe('# model settings of qa\ndefault_model: opus-4\ndefault_effort: low\n');
    expect((await statusOf(t, 'qa')).disk).toMatchObject({ state: 'stable', model: null });
    expect((await route(t, 'qa', 'q3')).routed[0]!.versionId).toBe(edited.versionId);

    // Changing the model config on disk speaks for itself again.
    t.write('templates/roles/qa/config.yaml', 'default_model: haiku-5\ndefault_effort: low\n');
    expect((await route(t, 'qa', 'q4')).routed[0]!.model.default_model).toBe('haiku-5');
  });

  it('with canary_percentage > 0 the edit is canaried with the promoted model', async () => {
    const t = validTree(withPercentage(50));
    await route(t, 'qa', 'q0');
    expectOk(await bin(t, 'config', 'canary', '--role', 'qa', '--model', 'opus-4', '--percentage', '50'));
    expectOk(await bin(t, 'config', 'canary', '--promote', '--role', 'qa'));
    t.write('templates/roles/qa/system_prompt.md', 'You review pull requests, and you are strict about tests.\n');
    const { routed } = await route(t, 'qa', ...ids(60, 'q'));
    expect(routed.some((r) => r.arm === 'canary')).toBe(true);
    expect(routed.every((r) => r.model.default_model === 'opus-4')).toBe(true);
  });
});

describe('(5) a second edit while a canary runs is visible', () => {
  it('route notes it on stderr and status shows it; when the canary ends, the newest bundle starts a canary (rule 2)', async () => {
    const t = validTree(withPercentage(20));
    const stable = (await route(t, 'backend', 'x0')).routed[0]!.versionId;
    t.write('templates/roles/backend/task_prompt.md', 'First edit.\n');
    const first = (await route(t, 'backend', ...ids(50, 'y'))).routed.find((r) => r.arm === 'canary')!.versionId;
    t.write('templates/roles/backend/task_prompt.md', 'Second edit.\n');
    const during = await route(t, 'backend', ...ids(50, 'z'));
    expect(new Set(during.routed.map((r) => r.versionId))).toEqual(new Set([stable, first]));
    const lines = stderrLines(during.result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warning: role "backend": the bundle on disk \([0-9a-f]{12}\) matches neither stable .* nor canary .*handled when canary .* ends/);
    const second = /bundle on disk \(([0-9a-f]{12})\)/.exec(lines[0]!)![1]!;
    const status = await statusOf(t, 'backend');
    expect(status.disk).toMatchObject({ state: 'moved-on', versionId: second });
    expect(expectOk(await bin(t, 'canary', 'status')).stdout).toMatch(new RegExp(`disk: ${second} matches neither arm`));

    expectOk(await bin(t, 'config', 'canary', '--rollback', '--role', 'backend'));
    const after = await route(t, 'backend', ...ids(50, 'w'));
    const next = await statusOf(t, 'backend');
    expect(next.canary.versionId).toBe(second);
    expect(next.stableVersion).toBe(stable);
    expect(after.routed.some((r) => r.versionId === second)).toBe(true);
  });
});

describe('(6) symlinks are followed inside the project and refused outside', () => {
  it('a symlinked role folder is a role for scan and route alike; a file link inside is part of the bundle', async () => {
    const t = validTree(null);
    t.write('shared-roles/ops/system_prompt.md', 'You keep the lights on.\n');
    symlinkSync('../../shared-roles/ops', t.path('templates/roles/ops'));
    const { scan: result } = await scan(t);
    expect(result.versions.map((v) => v.role)).toContain('ops');
    const routed = (await route(t, 'ops', 'o1')).routed[0]!;
    expect(routed.versionId).toBe(idOf(result, 'ops'));
    expect(routed.files).toEqual({ 'system_prompt.md': 'You keep the lights on.\n' });
    expect((await route(t, 'backend', 'b1')).routed[0]!.files!['house-rules.md']).toBe('Small commits. Honest messages.\n');
  });

  it('a link out of the project is refused with an error naming the link, in scan and in route', async () => {
    const t = tree({ config: null });
    const { scan: result, result: run } = await scan(t);
    expect(run.code).toBe(1);
    expect(result.invalid).toEqual([{ role: 'security', code: 'BUNDLE_INVALID', message: expect.stringMatching(/^templates\/roles\/security\/secrets\.md: symlink points outside the project root/) }]);
    expectCleanError(await bin(t, 'canary', 'route', '--role', 'security', '--task', 's'), ['templates/roles/security/secrets.md']);
  });
});

describe('(7) editor backups and stray files do not change the version', () => {
  it('backups, swap files and dotfiles are ignored by default; the project adds its own patterns; a backup never starts a canary', async () => {
    const t = validTree(withPercentage(20));
    const before = idOf((await scan(t)).scan, 'frontend')!;
    t.write('templates/roles/frontend/system_prompt.md~', 'backup\n');
    t.write('templates/roles/frontend/#system_prompt.md#', 'emacs autosave\n');
    t.write('templates/roles/frontend/.system_prompt.md.swo', Buffer.from([0, 1, 2]));
    t.write('templates/roles/frontend/.DS_Store', Buffer.from([0, 0, 0, 1]));
    t.write('templates/roles/frontend/notes.txt', 'changed notes\n'); // ignored by the project's "notes.txt"
    const { routed, result } = await route(t, 'frontend', ...ids(50, 'f'));
    expect(stderrLines(result)).toEqual([]);
    expect(routed.every((r) => r.arm === 'stable' && r.versionId === before)).toBe(true);
    expect(Object.keys(routed[0]!.files!).some((name) => /~|#|\.swo|DS_Store|notes\.txt/.test(name))).toBe(false);

    // Without the project's pattern the stray note is part of the bundle (the default list is only editor leftovers).
    const plain = validTree(UPSTREAM_CONFIG.replace('ignore: ["notes.txt", "*.png"]', 'ignore: ["*.png"]'));
    expect(idOf((await scan(plain)).scan, 'frontend')).not.toBe(before);
  });
});

describe('(8) line endings', () => {
  it('a CRLF (or old-Mac CR) checkout gets the same ids as the LF one, and versions store LF', async () => {
    const crlf = validTree();
    const lf = validTree();
    lf.write('templates/roles/qa/task_prompt.md', 'Task for the qa agent: {{task}}\nRun every gate.\n');
    lf.write('templates/skills/qa/SKILL.md', '---\nname: qa\n---\nHow to review.\n');
    crlf.write('templates/skills/qa/SKILL.md', '---\rname: qa\r---\rHow to review.\r');
    crlf.write('templates/roles/qa/config.yaml', '# model settings of qa\r\ndefault_model: haiku\r\ndefault_effort: low\r\n');
    const a = (await scan(crlf)).scan;
    const b = (await scan(lf)).scan;
    expect(a.versions).toEqual(b.versions);
    const stored = JSON.parse(readFileSync(crlf.path(`.sdd/versions/${idOf(a, 'qa')}.json`), 'utf8'));
    expect(stored.files['templates/roles/qa/task_prompt.md']).toBe('Task for the qa agent: {{task}}\nRun every gate.\n');
    // Any other byte still changes the id.
    crlf.write('templates/roles/qa/task_prompt.md', 'Task for the qa agent: {{task}}\r\nRun every gate!\r\n');
    expect(idOf((await scan(crlf)).scan, 'qa')).not.toBe(idOf(a, 'qa'));
  });
});

describe('(9) the upstream layout versions whole', () => {
  it('roles/ + skills/ with references and scripts, shared files and _includes are in every bundle; the model comes from the role folder', async () => {
    const t = validTree();
    const { scan: result, result: run } = await scan(t);
    expectOk(run);
    const notes = stderrLines(run);
    expect(notes).toEqual([
      'note: templates/roles/README.md: a loose file beside the role folders: not part of any bundle (list it under bundle.shared to include it in every role, or under bundle.ignore to silence this)',
      'note: templates/roles/devops/: an empty role folder: not a role until it holds a file',
    ]);
    const backend = (await route(t, 'backend', 'b1')).routed[0]!;
    expect(Object.keys(backend.files!)).toEqual([
      'templates/roles/_includes/protocol.md',
      'templates/roles/backend/house-rules.md',
      'templates/roles/backend/system_prompt.md',
      'templates/roles/backend/task_prompt.md',
      'templates/skills/AGENTS.md',
      'templates/skills/backend/SKILL.md',
      'templates/skills/backend/references/api-style.md',
      'templates/skills/backend/scripts/check.sh',
    ]);
    expect(backend.model).toEqual({ default_model: 'sonnet', default_effort: 'high' });

    // A change to a shared file is a new version of every role; each role then moves on its own.
    t.write('templates/roles/_includes/protocol.md', '## Protocol\nReport status as JSON, with a summary line.\n');
    const rescanned = (await scan(t)).scan;
    for (const role of ['backend', 'frontend', 'qa']) expect(idOf(rescanned, role), role).not.toBe(idOf(result, role));

    // With the default bundle section, the skipped folders are named, not silently dropped.
    const defaults = validTree(null);
    const plain = await scan(defaults);
    expect(stderrLines(plain.result)).toContain(
      'note: templates/roles/_includes/: not a role: a role name is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit (list its files under bundle.shared to include them in every role, or under bundle.ignore to silence this)',
    );
  });

  it('templates: templates/skills with model_config from the role folders gives the model config and the shared skill files', async () => {
    const t = validTree('templates: templates/skills\nbundle:\n  sources: ["{templates}/{role}/"]\n  shared: ["templates/skills/AGENTS.md"]\n  model_config: "templates/roles/{role}/config.yaml"\n');
    const { scan: result, result: run } = await scan(t);
    // Binary files are refused unless ignored: the frontend skill has a PNG and this config does not ignore it.
    expect(run.code, describeResult(run)).toBe(1);
    expect(result.versions.map((v) => v.role)).toEqual(['backend', 'qa']);
    expect(result.invalid).toEqual([{ role: 'frontend', code: 'BUNDLE_INVALID', message: expect.stringMatching(/^templates\/skills\/frontend\/assets\/wireframe\.png: binary file .*bundle\.ignore/) }]);
    const qa = (await route(t, 'qa', 'q1')).routed[0]!;
    expect(qa.model).toEqual({ default_model: 'haiku', default_effort: 'low' });
    expect(Object.keys(qa.files!)).toEqual(['templates/skills/AGENTS.md', 'templates/skills/qa/SKILL.md', 'templates/skills/qa/references/gates.md', 'templates/skills/qa/scripts/gates.sh']);
  });
});

describe('(10) route --json can leave the files out', () => {
  it('--no-files gives filesHash (SHA-256 of the files) instead of files; the default keeps the SPEC keys', async () => {
    const t = validTree();
    const big = 'x'.repeat(1024 * 1024) + '\n';
    t.write('templates/roles/backend/big_prompt.md', big);
    const full = expectOk(await bin(t, 'canary', 'route', '--role', 'backend', '--task', 'n1', '--task', 'n2', '--task', 'n3', '--json'));
    const slim = expectOk(await bin(t, 'canary', 'route', '--role', 'backend', '--task', 'n1', '--task', 'n2', '--task', 'n3', '--json', '--no-files'));
    const fullLines = parseNdjson<Routed>(full);
    const slimLines = parseNdjson<Routed>(slim);
    expect(Object.keys(fullLines[0]!)).toEqual(['taskId', 'role', 'arm', 'versionId', 'canaryId', 'model', 'files']);
    expect(Object.keys(slimLines[0]!)).toEqual(['taskId', 'role', 'arm', 'versionId', 'canaryId', 'model', 'filesHash']);
    expect(slimLines.map((r) => r.versionId)).toEqual(fullLines.map((r) => r.versionId));
    expect(slimLines[0]!.filesHash).toBe(hashFiles(fullLines[0]!.files!));
    expect(slimLines[0]!.filesHash).toMatch(/^[0-9a-f]{64}$/);
    expect(slim.stdout.length).toBeLessThan(2000);
    expect(full.stdout.length).toBeGreaterThan(3 * big.length);
    // The hash is of the canonical JSON of the files, so a client can check a cached copy.
    const version = parseJson<{ files: Record<string, string> }>(expectOk(await bin(t, 'versions', 'show', fullLines[0]!.versionId, '--json')));
    expect(createHash('sha256').update(JSON.stringify(Object.fromEntries(Object.entries(version.files).sort(([a], [b]) => (a < b ? -1 : 1))))).digest('hex')).toBe(slimLines[0]!.filesHash);
  });
});

describe('bundle: config errors', () => {
  it('an unknown key in bundle: names key and line, and changes nothing', async () => {
    const t = validTree(UPSTREAM_CONFIG.replace('  ignore:', '  ignores:'));
    expectCleanError(await bin(t, 'versions', 'scan'), [/\.sdd\/config\.yaml:\d+: bundle\.ignores: unknown key "ignores"/]);
    expect(existsSync(t.path('.sdd/config/prompt_versions.json'))).toBe(false);
    writeFileSync(t.path('.sdd/config.yaml'), UPSTREAM_CONFIG.replace('sources: [', 'sources: 7 #['));
    expectCleanError(await bin(t, 'versions', 'scan'), [/bundle\.sources: must be a list/]);
  });
});
