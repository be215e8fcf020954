/**
 * Issue 16, a newcomer's first hour, through the built `bernstein` bin: --version, help with
 * examples and the global options at every level, misspelt options, colour on a terminal only,
 * long input cut in errors, config keys in the wrong place, a missing templates folder, the
 * upstream canary.json, NDJSON gates as "pass"/"fail", a canary staged at 0 %, status advice.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectCleanError, expectOk } from './helpers/assert.ts';
import { binPath, CLI_PACKAGE_DIR } from './helpers/paths.ts';
import { childEnv, parseJson, parseNdjson, runBin, type RunResult } from './helpers/process.ts';
import { makeProject, removeProjects, type TempProject } from './helpers/project.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const ESC = '\u001b[';
const VERSION = (JSON.parse(readFileSync(join(CLI_PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;

beforeAll(() => {
  if (!existsSync(binPath())) throw new Error(`the bernstein bin is not built (${binPath()}); run \`pnpm build\` first`);
});
afterAll(removeProjects);

function oneRole(config?: string): TempProject {
  return makeProject({ roles: { backend: { files: { 'system_prompt.md': 'v1\n' }, model: { default_model: 'sonnet' } } }, ...(config !== undefined ? { config } : {}) });
}

/** Run the bin on a pseudo-terminal (util-linux `script`), as a user at a shell would. */
function runOnTty(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, binPath(), ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: childEnv({ NO_COLOR: undefined, TERM: 'xterm-256color', ...env }), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
    child.stdin.end();
  });
}

describe('--version and help', () => {
  it('prints the package version for --version and -V', async () => {
    for (const flag of ['--version', '-V']) {
      const result = expectOk(await runBin([flag]));
      expect(result.stdout.trim()).toBe(VERSION);
    }
  });

  it('has examples and lists --dir, --json, --store and --version at every level', async () => {
    for (const args of [[], ['versions'], ['config'], ['canary'], ['versions', 'scan'], ['config', 'canary'], ['canary', 'route'], ['canary', 'record'], ['canary', 'status']]) {
      const help = expectOk(await runBin([...args, '--help'])).stdout;
      const where = `bernstein ${args.join(' ')} --help`;
      expect(help, where).toContain('Examples:');
      expect(help, where).toMatch(/\$ bernstein /);
      for (const flag of ['--dir <path>', '--json', '--store <url>', '--version']) expect(help, `${where}: ${flag}`).toContain(flag);
    }
  });

  it('documents the NDJSON line schema in `canary record --help`', async () => {
    const help = expectOk(await runBin(['canary', 'record', '--help'])).stdout;
    for (const field of ['taskId', 'passed', 'gates', 'costUsd', 'durationMs', '"pass" / "fail"']) expect(help).toContain(field);
  });

  it('says 0-100 for --percentage, and 0 is accepted as a start (a staged canary)', async () => {
    expect(expectOk(await runBin(['config', 'canary', '--help'])).stdout).toMatch(/0-100/);
  });
});

describe('misspelt options', () => {
  it('suggests the right option on one line, also where the command has required options', async () => {
    const project = oneRole();
    for (const args of [
      ['canary', 'route', '--rol', 'backend', '--task', 'T-1'],
      ['canary', 'status', '--rol', 'backend'],
      ['config', 'canary', '--rol', 'backend', '--percentage', '5'],
    ]) {
      const result = await runBin(args, { dir: project.dir });
      expect(result.code, args.join(' ')).toBe(2);
      expectCleanError(result, ["unknown option '--rol'", 'did you mean --role?']);
    }
    expectCleanError(await runBin(['--jsn', 'canary', 'status'], { dir: project.dir }), ['did you mean --json?']);
    // A required option still is one when nothing is misspelt.
    expectCleanError(await runBin(['canary', 'route', '--task', 'T-1'], { dir: project.dir }), ["required option '--role <role>' not specified"]);
  });
});

describe('colour', () => {
  it('colours on a terminal, never when piped; NO_COLOR turns it off and FORCE_COLOR on', async () => {
    const project = oneRole();
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-1'], { dir: project.dir }));
    const args = ['--dir', project.dir, 'versions', 'list'];

    const tty = await runOnTty(args);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toContain('backend');
    expect(tty.stdout).toContain(ESC);

    const ttyNoColor = await runOnTty(args, { NO_COLOR: '1' });
    expect(ttyNoColor.stdout).toContain('backend');
    expect(ttyNoColor.stdout).not.toContain(ESC);

    const piped = await runBin(['versions', 'list'], { dir: project.dir, env: { NO_COLOR: undefined, CI: 'true' } });
    expect(piped.stdout).toContain('backend');
    expect(piped.stdout + piped.stderr).not.toContain(ESC);

    const forced = await runBin(['versions', 'list'], { dir: project.dir, env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(forced.stdout).toContain(ESC);
    // Errors on stderr too.
    const forcedError = await runBin(['canary', 'status', '--role', 'nope'], { dir: project.dir, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forcedError.stderr.startsWith(`${ESC}31merror:`)).toBe(true);
    const pipedError = await runBin(['canary', 'status', '--role', 'nope'], { dir: project.dir, env: { NO_COLOR: undefined } });
    expect(pipedError.stderr.startsWith('error:')).toBe(true);
  });
});

describe('errors that echo input', () => {
  it('cut a 5,000-character task id to a short line that says how long it was', async () => {
    const project = oneRole();
    const id = `T-${'x'.repeat(4998)}`;
    const line = expectCleanError(await runBin(['canary', 'route', '--role', 'backend', '--task', id], { dir: project.dir }), ['invalid task id', '5,000 chars']);
    expect(line.length).toBeLessThan(400);
    const unknown = expectCleanError(await runBin(['versions', 'show', 'a'.repeat(5000)], { dir: project.dir }), ['5,000 chars']);
    expect(unknown.length).toBeLessThan(400);
    const command = expectCleanError(await runBin(['z'.repeat(5000)], { dir: project.dir }), ['unknown command', '5,000 chars']);
    expect(command.length).toBeLessThan(400);
  });
});

describe('configuration that cannot silently mean something else', () => {
  it('warns about our keys misplaced at the top level, naming the line and the nested spelling', async () => {
    const project = oneRole('orchestrator:\n  workers: 4\ncanary.canary_percentage: 20\nmin_canary_tasks: 5\ncanary:\n  policy: threshold\n');
    const result = expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-1', '--json'], { dir: project.dir }));
    expect(parseNdjson(result)[0]).toMatchObject({ taskId: 'T-1', arm: 'stable' });
    const warnings = result.stderr.trim().split('\n');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain(`${project.files.config}:3:`);
    expect(warnings[0]).toContain('"canary.canary_percentage" is a single top-level key');
    expect(warnings[0]).toContain('automatic canaries stay off');
    expect(warnings[0]).toContain('canary: { canary_percentage: 20 }');
    expect(warnings[1]).toContain(`${project.files.config}:4:`);
    expect(warnings[1]).toContain('canary: { min_canary_tasks: 5 }');
    // The orchestrator's own keys get no warning; the nested spelling none either.
    const nested = oneRole('orchestrator:\n  workers: 4\ncanary:\n  canary_percentage: 20\n');
    expect(expectOk(await runBin(['versions', 'scan'], { dir: nested.dir })).stderr).toBe('');
  });

  it('versions scan without a templates folder fails naming the templates key and the resolved path', async () => {
    const empty = makeProject({});
    const defaulted = expectCleanError(await runBin(['versions', 'scan'], { dir: empty.dir }), ['"templates" key', join(empty.dir, 'templates/roles')]);
    expect(defaulted).toContain('does not exist');
    const elsewhere = oneRole('templates: nowhere/roles\n');
    expectCleanError(await runBin(['versions', 'scan'], { dir: elsewhere.dir }), ['templates: "nowhere/roles"', join(elsewhere.dir, 'nowhere/roles'), elsewhere.files.config]);
    expectCleanError(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-1'], { dir: elsewhere.dir }), ['templates: "nowhere/roles"', 'no role "backend"']);
    expect(existsSync(elsewhere.files.registry)).toBe(false);
  });

  it('recognises the upstream canary.json (no schemaVersion, four counters) and says how to move on', async () => {
    const project = oneRole();
    const upstream = { canary_version: 'a1b2c3d4', stable_version: 'e5f6a7b8', canary_percentage: 20, stable_passed: 30, stable_total: 40, canary_passed: 5, canary_total: 10 };
    mkdirSync(join(project.sdd, 'config'), { recursive: true });
    writeFileSync(project.files.canary, JSON.stringify(upstream, null, 2));
    const line = expectCleanError(await runBin(['canary', 'status'], { dir: project.dir }), ['original Bernstein implementation', 'canary_passed', 'mv .sdd/config/canary.json', 'bernstein versions scan']);
    expect(line).not.toMatch(/^error: [^:]+: missing or invalid "schemaVersion"/);
    // Reported, never rewritten.
    expect(JSON.parse(readFileSync(project.files.canary, 'utf8'))).toEqual(upstream);
  });

  it('refuses a --store it cannot serve instead of silently using the files, without echoing a password', async () => {
    const project = oneRole();
    // A scheme with no adapter is refused before anything is opened, naming the flag.
    const line = expectCleanError(await runBin(['--store', 'mysql://bern:s3cret@127.0.0.1:1/canary', 'canary', 'status'], { dir: project.dir }), ['--store', 'mysql:']);
    expect(line).not.toContain('s3cret');
    // A PostgreSQL URL with nothing listening: one clean line, the password masked, nothing written.
    const unreachable = expectCleanError(await runBin(['--store', 'postgres://bern:s3cret@127.0.0.1:1/canary', 'canary', 'status'], { dir: project.dir }), ['postgres:']);
    expect(unreachable).not.toContain('s3cret');
    expectOk(await runBin(['--store', 'file:', 'canary', 'status'], { dir: project.dir }));
    expectCleanError(await runBin(['canary', 'status'], { dir: project.dir, env: { BERNSTEIN_STORE_URL: 'redis://x' } }), ['redis:']);
  });
});

describe('recording and reading', () => {
  it('NDJSON gates accept "pass"/"fail" as well as booleans, stored as booleans', async () => {
    const project = oneRole();
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-1', '--task', 'T-2', '--task', 'T-3'], { dir: project.dir }));
    const input = [
      JSON.stringify({ taskId: 'T-1', passed: true, gates: { lint: 'pass', tests: 'pass' } }),
      JSON.stringify({ taskId: 'T-2', passed: false, gates: { lint: true, tests: 'fail' } }),
      JSON.stringify({ taskId: 'T-3', passed: false, gates: { lint: 'maybe' } }),
    ].join('\n');
    const result = await runBin(['canary', 'record', '--from', '-', '--json'], { dir: project.dir, input });
    expect(result.code).toBe(1);
    expect(parseJson(result)).toMatchObject({ recorded: 2, skippedCount: 1, skipped: [{ line: 3, taskId: 'T-3', code: 'MALFORMED_LINE' }] });
    expect(result.stderr).toMatch(/line 3: gates\.lint: a gate result is true, false, "pass" or "fail"/);
    const outcomes = project.ledger().filter((r) => r.type === 'outcome');
    expect(outcomes.map((o) => [o.taskId, o.gates])).toEqual([
      ['T-1', { lint: true, tests: true }],
      ['T-2', { lint: true, tests: false }],
    ]);
  });

  it('starts a canary at 0 %: it exists, gets no tasks, and takes tasks once raised', async () => {
    const project = oneRole();
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-0'], { dir: project.dir }));
    project.writeRoleFile('backend', 'system_prompt.md', 'v2\n');
    const start = expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '0', '--json'], { dir: project.dir }));
    expect(parseJson(start).events).toEqual([expect.objectContaining({ action: 'start', percentage: 0 })]);
    const tasks = Array.from({ length: 50 }, (_, i) => `S-${i}`);
    const routed = parseNdjson(expectOk(await runBin(['canary', 'route', '--role', 'backend', ...tasks.flatMap((t) => ['--task', t]), '--json'], { dir: project.dir })));
    expect(routed.every((r) => r.arm === 'stable' && r.canaryId !== null)).toBe(true);
    const status = parseJson(expectOk(await runBin(['canary', 'status', '--json'], { dir: project.dir })));
    expect(status.roles[0].canary).toMatchObject({ percentage: 0 });
    // (100 % would leave nothing to compare with: refused.)
    expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '50'], { dir: project.dir }));
    const fresh = Array.from({ length: 40 }, (_, i) => `N-${i}`);
    const after = parseNdjson(expectOk(await runBin(['canary', 'route', '--role', 'backend', ...fresh.flatMap((t) => ['--task', t]), '--json'], { dir: project.dir })));
    expect(after.some((r) => r.arm === 'canary')).toBe(true);
    // The tasks routed at 0 % keep their arm.
    const again = parseNdjson(expectOk(await runBin(['canary', 'route', '--role', 'backend', ...tasks.flatMap((t) => ['--task', t]), '--json'], { dir: project.dir })));
    expect(again.every((r) => r.arm === 'stable')).toBe(true);
  });

  it('status advice never sends the user back to a step already taken', async () => {
    const project = oneRole();
    const before = expectOk(await runBin(['canary', 'status'], { dir: project.dir })).stdout;
    expect(before).toContain('bernstein versions scan');
    expectOk(await runBin(['versions', 'scan'], { dir: project.dir }));
    for (let run = 0; run < 2; run++) {
      const after = expectOk(await runBin(['canary', 'status'], { dir: project.dir })).stdout;
      expect(after).not.toContain('versions scan');
      expect(after).toContain('bernstein canary route --role backend');
    }
  });

  it('a percentage change to the value it already has is a no-op: no audit event, no new epoch', async () => {
    const project = oneRole();
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-0'], { dir: project.dir }));
    project.writeRoleFile('backend', 'system_prompt.md', 'v2\n');
    expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '20'], { dir: project.dir }));
    const before = project.audit().length;
    const epoch = project.state().roles.backend!.canary!.epoch;
    const same = expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '20'], { dir: project.dir }));
    expect(same.stdout).toMatch(/already at 20 %; nothing changed/);
    const sameJson = parseJson(expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '20', '--json'], { dir: project.dir })));
    expect(sameJson.events).toEqual([]);
    expect(project.audit()).toHaveLength(before);
    expect(project.state().roles.backend!.canary!.epoch).toBe(epoch);
    const moved = expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '30'], { dir: project.dir }));
    expect(moved.stdout).toMatch(/moved from 20 % to 30 %/);
    expect(project.audit()).toHaveLength(before + 1);
  });

  it('the canary start message says each thing once', async () => {
    const project = oneRole();
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-0'], { dir: project.dir }));
    project.writeRoleFile('backend', 'system_prompt.md', 'v2\n');
    const line = expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '20'], { dir: project.dir })).stdout.trim();
    expect(line.split('\n')).toHaveLength(1);
    for (const once of ['started', '20 %', 'canary', 'policy sequential']) {
      expect(line.split(once).length - 1, `"${once}" in: ${line}`).toBe(1);
    }
    const versionId = project.state().roles.backend!.canary!.versionId;
    expect(line.split(versionId).length - 1).toBe(1);
  });

  it('route prints a stderr line when it starts a canary or releases a bundle directly', async () => {
    const project = oneRole();
    const first = expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-0', '--json'], { dir: project.dir }));
    expect(first.stderr).toBe('');
    project.writeRoleFile('backend', 'system_prompt.md', 'v2\n');
    const released = expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-1', '--json'], { dir: project.dir }));
    expect(released.stderr).toMatch(/^notice: role backend: version [0-9a-f]{12} released directly, replacing [0-9a-f]{12}: the bundle on disk changed and canary\.canary_percentage is 0/);
    expect(released.stderr.trim().split('\n')).toHaveLength(1);
    project.writeConfig('canary:\n  canary_percentage: 20\n');
    project.writeRoleFile('backend', 'system_prompt.md', 'v3\n');
    const started = expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-2', '--json'], { dir: project.dir }));
    expect(started.stderr).toMatch(/^notice: role backend: canary [0-9a-f]{12} of version [0-9a-f]{12} started at 20 % against stable [0-9a-f]{12}: the bundle on disk changed \(canary\.canary_percentage 20\)\n$/);
    // Nothing changed: nothing said.
    expect(expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-3', '--json'], { dir: project.dir })).stderr).toBe('');
  });

  it('after a rollback or a promotion, status shows the last canary and the evidence it ended on', async () => {
    const project = oneRole('canary:\n  min_canary_tasks: 3\n  policy: threshold\n');
    expectOk(await runBin(['canary', 'route', '--role', 'backend', '--task', 'T-0'], { dir: project.dir }));
    project.writeRoleFile('backend', 'system_prompt.md', 'v2\n');
    expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '50'], { dir: project.dir }));
    const tasks = Array.from({ length: 40 }, (_, i) => `R-${i}`);
    const routed = parseNdjson(expectOk(await runBin(['canary', 'route', '--role', 'backend', ...tasks.flatMap((t) => ['--task', t]), '--json'], { dir: project.dir })));
    // The canary fails everything: the threshold rule rolls it back after 3 canary outcomes.
    const input = routed.map((r) => JSON.stringify({ taskId: r.taskId, passed: r.arm === 'stable' })).join('\n');
    const recorded = await runBin(['canary', 'record', '--from', '-'], { dir: project.dir, input });
    expect(recorded.code).toBe(0);
    expect(recorded.stderr).toMatch(/ALERT: .*rolled back/);
    const json = parseJson(expectOk(await runBin(['canary', 'status', '--json'], { dir: project.dir })));
    const role = json.roles[0];
    expect(role.canary).toBeNull();
    expect(role.lastCanary).toMatchObject({ result: 'rolled back', actor: 'auto', canary: { tasks: 3, passed: 0 } });
    expect(role.lastCanary.stable.tasks).toBeGreaterThan(0);
    const human = expectOk(await runBin(['canary', 'status'], { dir: project.dir })).stdout;
    expect(human).toMatch(/last canary [0-9a-f]{12}: version [0-9a-f]{12} rolled back/);
    expect(human).toMatch(/canary\s+0\/3 passed/);
    expect(human).not.toMatch(/stable 0\/0 passed/);

    // A promotion by hand: the last canary is the promoted one.
    project.writeRoleFile('backend', 'system_prompt.md', 'v3\n');
    expectOk(await runBin(['config', 'canary', '--role', 'backend', '--percentage', '50'], { dir: project.dir }));
    const promote = expectOk(await runBin(['config', 'canary', '--promote', '--role', 'backend'], { dir: project.dir }));
    // Said once: on stderr, as the notice every promotion gets (not again on stdout).
    expect(promote.stdout).toBe('');
    expect(promote.stderr).toMatch(/^notice: role backend: canary [0-9a-f]{12} promoted; version [0-9a-f]{12} replaces [0-9a-f]{12} as stable: .*\n$/);
    const promoted = parseJson(expectOk(await runBin(['canary', 'status', '--json'], { dir: project.dir }))).roles[0];
    expect(promoted.lastCanary).toMatchObject({ result: 'promoted', actor: 'cli', versionId: promoted.stableVersion });
    expect(expectOk(await runBin(['canary', 'status'], { dir: project.dir })).stdout).toMatch(/last canary [0-9a-f]{12}: version [0-9a-f]{12} promoted/);
  });
});
