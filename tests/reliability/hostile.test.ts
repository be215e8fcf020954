/**
 * Reliability 4b: hostile input, by hand. Path traversal in role names and version prefixes,
 * role and gate names that are Object.prototype members, webhook URLs that are not http(s),
 * and huge inputs (a 50 MB prompt file, a very long NDJSON, one enormous NDJSON line) with the
 * peak memory (RSS) of the process measured.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditFacts, ledgerFacts, stateProblems, statusProblems } from './lib/invariants.ts';
import { describe as describeRun, fixture, runBin, runCliCases, runNode, scale, STACK_FRAME, type RunOptions, type RunResult } from './lib/proc.ts';
import { Project, removeProjects, sddSnapshot, snapshot, snapshotDiff } from './lib/project.ts';
import { binOk, projectWithCanaries, roleFiles } from './lib/setup.ts';

afterAll(removeProjects);

const MB = 1024 * 1024;
const LONG_NDJSON_LINES = Number(process.env.LONG_NDJSON_LINES ?? scale(100_000, 1_000_000));
const RSS_BOUND = 1024 * MB;

/** Run the bin with a preload that reports the process's peak RSS. */
async function binWithRss(project: Project, args: string[], options: RunOptions = {}): Promise<RunResult & { rss: number }> {
  const rssFile = join(project.home, `rss-${Date.now()}-${Math.random()}`);
  const result = await runBin(project.dir, args, { ...options, execArgv: ['--import', `file://${fixture('rss.mjs')}`], env: { ...options.env, BERNSTEIN_RSS_FILE: rssFile } });
  let rss = NaN;
  try {
    rss = Number(readFileSync(rssFile, 'utf8'));
  } catch {
    // the process died before its exit hook
  }
  return { ...result, rss };
}

const clean = (r: RunResult) => {
  expect(r.stderr, describeRun(r)).not.toMatch(STACK_FRAME);
  expect(r.stderr, describeRun(r)).not.toMatch(/internal error/);
};

describe('hostile input: path traversal', () => {
  it('role names that try to leave the templates folder are refused, and nothing is read or written outside', { timeout: 120_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 20 }, 'canary:\n  min_canary_tasks: 10\n');
    // Bundles a traversal would reach if it were allowed.
    for (const dir of [project.path('evil'), join(project.home, 'evil'), project.path('templates', 'evil'), project.path('.sdd', 'evil')]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'system_prompt.md'), 'I escaped\n');
    }
    const roles = ['../../evil', 'alpha/../../../evil', '../evil', '..', '.', '../../../../../../etc', 'a/../../evil', 'alpha/../../evil', '/etc', '\\..\\evil', '.hidden', '-rf', 'a..b', 'x'.repeat(65), '', ' ', 'a b', 'ü', 'alpha\u0000', '%2e%2e', '....//evil', '~'];
    const before = snapshot(project.home);
    const sddBefore = sddSnapshot(project);
    const mustFail: string[][] = [];
    const mayPass: string[][] = [];
    for (const role of roles) {
      mustFail.push(
        ['canary', 'route', '--role', role, '--task', 'trav-1'],
        ['config', 'canary', '--role', role, '--percentage', '5'],
        ['config', 'canary', '--role', role, '--model', 'm', '--percentage', '5'],
        ['config', 'canary', '--rollback', '--role', role],
        ['config', 'canary', '--promote', '--role', role],
      );
      mayPass.push(['canary', 'status', '--role', role], ['canary', 'history', '--role', role], ['versions', 'list', '--role', role], ['canary', 'evaluate', '--role', role]);
    }
    const all = [...mustFail, ...mayPass];
    const results = await runCliCases(all.map((argv, i) => ({ id: String(i), argv: ['--dir', project.dir, ...argv] })), { parallel: 2, workDir: tmpdir() });
    const problems: string[] = [];
    all.forEach((argv, i) => {
      const r = results.get(String(i))!;
      if (r.thrown || r.unhandled.length || STACK_FRAME.test(r.stderr) || /internal error/.test(r.stderr)) problems.push(`${JSON.stringify(argv)}: crashed: ${r.stderr.slice(0, 300)}`);
      if (i < mustFail.length && r.code === 0) problems.push(`${JSON.stringify(argv)}: accepted`);
    });
    // A sample through the real bin (no NUL bytes in a real argv).
    for (const argv of mustFail.filter((a) => !a.some((x) => x.includes('\u0000'))).filter((_, i) => i % 10 === 0)) {
      const result = await runBin(project.dir, argv);
      clean(result);
      if (result.code === 0) problems.push(`(bin) ${JSON.stringify(argv)}: accepted`);
    }
    expect(problems).toEqual([]);
    const refused = mustFail.length;
    expect(snapshotDiff(before, snapshot(project.home))).toEqual([]);
    expect(snapshotDiff(sddBefore, sddSnapshot(project))).toEqual([]);
    const registry = project.json(project.sdd('config', 'prompt_versions.json'));
    expect(Object.keys(registry.roles).sort()).toEqual(['alpha']);
    console.info(`[reliability] traversal: ${refused} role-name attacks refused, nothing written`);
  });

  it('version prefixes that look like paths are refused', { timeout: 60_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 20 }, 'canary:\n  min_canary_tasks: 10\n');
    const before = sddSnapshot(project);
    const cases: string[][] = [];
    for (const ref of ['../../etc/passwd', '../versions/x', '..', '/', 'abcd/../..', '%2e%2e', 'abcd\\..', '../config/canary', './', 'abcd.json', '*', 'abc?', 'abcd\u0000', '../../../../../../../../tmp']) {
      cases.push(['versions', 'show', ref], ['versions', 'diff', ref, ref], ['config', 'canary', '--prompt-version', ref, '--percentage', '5']);
    }
    const results = await runCliCases(cases.map((argv, i) => ({ id: String(i), argv: ['--dir', project.dir, ...argv] })), { parallel: 1, workDir: tmpdir() });
    cases.forEach((argv, i) => {
      const r = results.get(String(i))!;
      expect(r.thrown).toBeNull();
      expect(r.stderr).not.toMatch(STACK_FRAME);
      expect(r.code, `${JSON.stringify(argv)}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/INVALID_ARGUMENT|VERSION_NOT_FOUND/);
    });
    const viaBin = await runBin(project.dir, ['versions', 'show', '../../etc/passwd']);
    clean(viaBin);
    expect(viaBin.code).toBe(1);
    expect(snapshotDiff(before, sddSnapshot(project))).toEqual([]);
  });
});

describe('hostile input: record --from sources', () => {
  it('a directory, a missing file and /dev/null as --from: a clean error (or nothing recorded), never an internal error', { timeout: 60_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 20 }, 'canary:\n  min_canary_tasks: 10\n');
    const before = sddSnapshot(project);
    for (const [source, code] of [[project.home, 1], [join(project.home, 'missing.ndjson'), 1], ['/dev/null', 0]] as const) {
      const r = await runBin(project.dir, ['canary', 'record', '--from', source]);
      clean(r);
      expect(r.code, describeRun(r)).toBe(code);
      if (code === 1) expect(r.stderr, describeRun(r)).toMatch(new RegExp(`^error: .*${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    }
    expect(snapshotDiff(before, sddSnapshot(project)).filter((d) => !d.includes('aggregates'))).toEqual([]);
  });
});

describe('hostile input: names that are Object.prototype members', () => {
  it('roles named constructor, toString, valueOf, hasOwnProperty are refused cleanly, change nothing, and other roles keep working', { timeout: 120_000 }, async () => {
    // Role names are keys of JSON maps everywhere; names of Object.prototype members are refused
    // (INVALID_ROLE) rather than risking a lookup that finds a built-in instead of a role.
    const names = ['constructor', 'toString', 'valueOf', 'hasOwnProperty'];
    const project = new Project({ roles: { ...Object.fromEntries(names.map((n) => [n, roleFiles(n, 1)])), alpha: roleFiles('alpha', 1) }, config: 'canary:\n  min_canary_tasks: 10\n' });
    await binOk(project, ['canary', 'route', '--role', 'alpha', '--task', 'a-1']);
    const before = sddSnapshot(project);
    for (const role of names) {
      for (const args of [
        ['canary', 'route', '--role', role, '--task', `${role}-1`],
        ['config', 'canary', '--role', role, '--percentage', '50'],
        ['config', 'canary', '--role', role, '--model', 'm', '--percentage', '50'],
      ]) {
        const r = await runBin(project.dir, args);
        clean(r);
        expect(r.code, describeRun(r)).toBe(1);
        expect(r.stderr, describeRun(r)).toMatch(/built-in object property name.*\[INVALID_ROLE\]/);
      }
    }
    expect(snapshotDiff(before, sddSnapshot(project))).toEqual([]);
    const scan = await runBin(project.dir, ['versions', 'scan', '--json']);
    expect(scan.code, describeRun(scan)).toBe(0);
    expect(JSON.parse(scan.stdout).versions.map((v: { role: string }) => v.role)).toEqual(['alpha']);
    await binOk(project, ['canary', 'record', '--task', 'a-1', '--passed']);
    await binOk(project, ['canary', 'status', '--json']);
  });

  it('gates named constructor, toString, hasOwnProperty, __proto__: recorded faithfully (or refused), and the project keeps working', { timeout: 120_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 50 }, 'canary:\n  min_canary_tasks: 1000\n');
    const gates = ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'];
    const problems: string[] = [];
    for (const [i, gate] of gates.entries()) {
      const task = `g-${i}`;
      await binOk(project, ['canary', 'route', '--role', 'alpha', '--task', task]);
      const record = await runBin(project.dir, ['canary', 'record', '--task', task, '--passed', '--gate', `${gate}=pass`, '--gate', 'lint=fail']);
      clean(record);
      const outcome = ledgerFacts(project).outcomes.get(task)?.[0];
      if (record.code === 0) {
        if (!outcome) problems.push(`gate ${gate}: exit 0 but no outcome`);
        else if (JSON.stringify(outcome.gates) !== JSON.stringify({ [gate]: true, lint: false }) && !(gate === '__proto__' && false)) {
          problems.push(`gate ${gate}: recorded gates ${JSON.stringify(outcome.gates)}, sent {"${gate}":true,"lint":false}`);
        }
      } else if (outcome) problems.push(`gate ${gate}: refused but recorded`);
      // Whatever happened, the project still works.
      for (const args of [['canary', 'status', '--json'], ['canary', 'evaluate'], ['canary', 'route', '--role', 'alpha', '--task', `after-${i}`], ['canary', 'record', '--task', `after-${i}`, '--passed']]) {
        const r = await runBin(project.dir, args);
        if (r.code !== 0) problems.push(`after gate ${gate}: bernstein ${args.join(' ')} -> exit ${r.code}: ${r.stderr.trim().split('\n')[0]}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('hostile input: webhook URLs', () => {
  it('a webhook that is not http(s) is refused when the config loads, naming file, line and key', { timeout: 120_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 20 }, 'canary:\n  min_canary_tasks: 10\n');
    const bad = ['file:///etc/passwd', 'ftp://example.com/x', 'javascript:alert(1)', 'data:text/plain,hi', 'gopher://x', 'ws://127.0.0.1:1/', 'localhost:8080/hook', 'http//missing-colon', '//example.com/x', 'not a url', 'mailto:ops@example.com', 'unix:/var/run/docker.sock'];
    const cases: Array<{ url: string; copy: Project; args: string[]; before: Map<string, string> }> = [];
    for (const url of bad) {
      const copy = Project.copyOf(project);
      copy.writeConfig(`# alerts\ncanary:\n  min_canary_tasks: 10\n  alerts:\n    webhook: ${JSON.stringify(url)}\n`);
      const before = sddSnapshot(copy);
      for (const args of [['canary', 'status'], ['canary', 'record', '--task', 'seed-alpha', '--passed'], ['versions', 'scan'], ['canary', 'evaluate', '--apply'], ['canary', 'route', '--role', 'alpha', '--task', 'w-1']]) {
        cases.push({ url, copy, args, before });
      }
    }
    const results = await runCliCases(cases.map((c, i) => ({ id: String(i), argv: ['--dir', c.copy.dir, ...c.args] })), { parallel: 2, workDir: tmpdir() });
    cases.forEach((c, i) => {
      const r = results.get(String(i))!;
      const context = `${c.url}: bernstein ${c.args.join(' ')} -> exit ${r.code}\n${r.stderr}`;
      expect(r.stderr, context).not.toMatch(STACK_FRAME);
      expect(r.code, context).toBe(1);
      expect(r.stderr, context).toMatch(/\.sdd\/config\.yaml:5: canary\.alerts\.webhook: /);
      expect(snapshotDiff(c.before, sddSnapshot(c.copy)), context).toEqual([]);
    });
    project.writeConfig(`canary:\n  min_canary_tasks: 10\n  alerts:\n    webhook: "gopher://x"\n`);
    const viaBin = await runBin(project.dir, ['canary', 'status']);
    clean(viaBin);
    expect(viaBin.code).toBe(1);
    for (const url of ['http://127.0.0.1:9/hook', 'https://hooks.example.com/services/x', 'HTTP://EXAMPLE.COM/x', '']) {
      project.writeConfig(`canary:\n  min_canary_tasks: 10\n  alerts:\n    webhook: ${JSON.stringify(url)}\n`);
      const r = await runBin(project.dir, ['canary', 'status']);
      expect(r.code, `${url}: ${describeRun(r)}`).toBe(0);
    }
  });
});

describe('hostile input: huge inputs', () => {
  it('a 50 MB prompt file is refused clearly (limit 8 MiB) without reading it into memory', { timeout: 120_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 20 }, 'canary:\n  min_canary_tasks: 10\n');
    const big = project.path('templates', 'roles', 'alpha', 'huge_prompt.md');
    const fd = openSync(big, 'w');
    const chunk = Buffer.alloc(MB, 'a');
    for (let i = 0; i < 50; i++) writeSync(fd, chunk);
    closeSync(fd);
    const before = sddSnapshot(project);
    const figures: string[] = [];
    for (const args of [['canary', 'route', '--role', 'alpha', '--task', 'big-1'], ['versions', 'scan'], ['config', 'canary', '--role', 'alpha', '--percentage', '30'], ['config', 'canary', '--rollback', '--role', 'alpha']]) {
      const r = await binWithRss(project, args);
      clean(r);
      figures.push(`${args.slice(0, 2).join(' ')}: exit ${r.code}, ${(r.rss / MB).toFixed(0)} MB`);
      expect(r.rss, describeRun(r)).toBeLessThan(200 * MB);
      if (args[1] === 'canary' && args[2] === '--rollback') {
        expect(r.code, describeRun(r)).toBe(0); // rolling back never needs the bundle on disk
        continue;
      }
      if (args[1] === 'canary' && args[2] === '--role') {
        // a percentage change of the running canary does not read the bundle
        expect(r.code, describeRun(r)).toBe(0);
        expect(project.state().roles.alpha.canary.percentage).toBe(30);
        continue;
      }
      expect(r.code, describeRun(r)).toBe(1);
      expect(r.stderr, describeRun(r)).toMatch(/huge_prompt\.md is 50\.0 MiB; prompt files are limited to 8 MiB/);
      // A refused command changed nothing.
      expect(snapshotDiff(before, sddSnapshot(project)), describeRun(r)).toEqual([]);
    }
    rmSync(big);
    expect(ledgerFacts(project).assigns.has('big-1')).toBe(false);
    console.info(`[reliability] 50 MB prompt file: ${figures.join('; ')}`);
  });

  it(`a ${LONG_NDJSON_LINES.toLocaleString('en')}-line NDJSON for record --from: all recorded, bounded memory`, { timeout: scale(240_000, 1_800_000) }, async () => {
    const project = await projectWithCanaries({ alpha: 10 }, 'canary:\n  min_canary_tasks: 100000000\n');
    const t0 = Date.now();
    const routed = await runNode(fixture('route-many.mjs'), [project.dir, 'alpha', 'L', String(LONG_NDJSON_LINES), '20000'], { timeoutMs: 1_500_000, execArgv: ['--max-old-space-size=4096'] });
    expect(routed.code, describeRun(routed)).toBe(0);
    const routeMs = Date.now() - t0;
    const file = project.path('long.ndjson');
    const fd = openSync(file, 'w');
    let buffer = '';
    for (let i = 0; i < LONG_NDJSON_LINES; i++) {
      buffer += `{"taskId":"L${i}","passed":${i % 5 !== 0},"gates":{"lint":true,"tests":${i % 7 !== 0}},"costUsd":0.0${i % 10},"durationMs":${1000 + (i % 500)}}\n`;
      if (buffer.length > 4 * MB) {
        writeSync(fd, buffer);
        buffer = '';
      }
    }
    writeSync(fd, buffer);
    closeSync(fd);
    const record = await binWithRss(project, ['canary', 'record', '--from', file], { timeoutMs: scale(200_000, 1_500_000) });
    clean(record);
    expect(record.code, describeRun(record)).toBe(0);
    expect(record.stdout).toContain(`recorded ${LONG_NDJSON_LINES.toLocaleString('en').replace(/,/g, '')} outcomes`);
    const status = await binWithRss(project, ['canary', 'status', '--json']);
    expect(status.code, describeRun(status)).toBe(0);
    const window = JSON.parse(status.stdout).roles[0].canary;
    expect(window.stable.tasks + window.canary.tasks).toBe(LONG_NDJSON_LINES);
    // And the same number of lines for tasks nobody routed: all skipped, still bounded.
    const unknown = project.path('unknown.ndjson');
    writeFileSync(unknown, readFileSync(file, 'utf8').replace(/"taskId":"L/g, '"taskId":"U'));
    const skipped = await binWithRss(project, ['canary', 'record', '--from', unknown], { timeoutMs: scale(200_000, 1_500_000) });
    clean(skipped);
    expect(skipped.code).toBe(1);
    console.info(
      `[reliability] long NDJSON: ${LONG_NDJSON_LINES} lines; routing them took ${(routeMs / 1000).toFixed(1)} s; record --from: ${(record.ms / 1000).toFixed(1)} s, peak RSS ${(record.rss / MB).toFixed(0)} MB; ` +
        `status: ${status.ms} ms, ${(status.rss / MB).toFixed(0)} MB; all-unknown record: ${(skipped.ms / 1000).toFixed(1)} s, peak RSS ${(skipped.rss / MB).toFixed(0)} MB`,
    );
    expect(record.rss).toBeLessThan(RSS_BOUND);
    expect(skipped.rss).toBeLessThan(RSS_BOUND);
    expect(await stateProblems(project, { audit: auditFacts(project) })).toEqual([]);
  });

  it('one enormous NDJSON line (600 MB, no newline) is refused with a clean error, in bounded memory', { timeout: 180_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 10 }, 'canary:\n  min_canary_tasks: 1000\n');
    const file = join(project.home, 'one-line.ndjson');
    const fd = openSync(file, 'w');
    const chunk = Buffer.alloc(MB, 'x');
    for (let i = 0; i < 600; i++) writeSync(fd, chunk);
    closeSync(fd);
    const before = sddSnapshot(project);
    const r = await binWithRss(project, ['canary', 'record', '--from', file], { timeoutMs: 120_000 });
    rmSync(file);
    console.info(`[reliability] 600 MB single line: exit ${r.code} in ${r.ms} ms, peak RSS ${(r.rss / MB).toFixed(0)} MB; stderr: ${r.stderr.trim().split('\n')[0]?.slice(0, 200)}`);
    clean(r);
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr, describeRun(r)).toMatch(/^error: line 1: .*limited to 1,000,000/m);
    expect(r.rss, 'memory grew with the length of one line').toBeLessThan(RSS_BOUND / 4);
    expect(snapshotDiff(before, sddSnapshot(project)).filter((d) => !d.includes('aggregates'))).toEqual([]);
  });
});
