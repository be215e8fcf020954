/**
 * Reliability 4a: hostile input, property-based (fast-check).
 * - CLI arguments: random command lines built from the real commands and options with hostile
 *   values (path traversal, control characters, huge / odd numbers, unicode, shell syntax):
 *   never a stack trace, an internal error or an unhandled rejection; exit 0, 1 or 2 with an
 *   error line when not 0; nothing written outside .sdd/; the project stays loadable.
 * - NDJSON for `canary record --from`: lines of every kind (valid, unknown task, duplicate,
 *   broken JSON, wrong schema, blank, CRLF, over-long) against a model: exactly the right lines are
 *   recorded, the rest are skipped with their line numbers and codes, exit 1 iff any was skipped.
 * The bulk runs in a long-lived process through the built CLI's run() (what bin.js does); a sample
 * also runs through the real bin. CI: a few hundred cases; SOAK=1: 10,000 each.
 * Replay with RELIABILITY_SEED=<seed>. Object.prototype member names (constructor, __proto__, ...) as
 * roles and gates, and `record --from <a directory>`, are generated on purpose: both were defects
 * this suite found.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { auditFacts, ledgerFacts, stateProblems } from './lib/invariants.ts';
import { describe as describeRun, pool, runBin, scale, STACK_FRAME, startCliServer, type CliResult } from './lib/proc.ts';
import { Project, removeProjects, snapshot, snapshotDiff } from './lib/project.ts';
import { suiteSeed } from './lib/random.ts';
import { projectWithCanaries } from './lib/setup.ts';

afterAll(removeProjects);

const SEED = suiteSeed();
const ARGV_RUNS = Number(process.env.FUZZ_RUNS ?? scale(400, 10_000));
const NDJSON_RUNS = Number(process.env.FUZZ_RUNS ?? scale(250, 10_000));
const BIN_SAMPLE = scale(40, 400);
/** A fresh project every so many runs keeps the ledger (read whole by each command) small. */
const RUNS_PER_PROJECT = 500;
const CONFIG = 'canary:\n  min_canary_tasks: 50\n  rollback_margin: 0.1\n';

/** The project's home minus .sdd/ and the test's own input files. */
const outsideSdd = (project: Project) => snapshot(project.home, (rel) => rel === 'project/.sdd' || rel.startsWith('project/.sdd/') || rel === 'ndjson-inputs' || rel.startsWith('ndjson-inputs/'));

/** A CLI result that is acceptable for ANY input. */
function cleanProblems(r: Pick<CliResult, 'code' | 'stderr' | 'stdout'> & Partial<Pick<CliResult, 'unhandled' | 'thrown'>>): string[] {
  const problems: string[] = [];
  if (r.thrown) problems.push(`run() threw: ${r.thrown}`);
  if (r.unhandled?.length) problems.push(`unhandled: ${r.unhandled.join(' | ')}`);
  if (STACK_FRAME.test(r.stderr) || STACK_FRAME.test(r.stdout)) problems.push('stack trace');
  if (/internal error/i.test(r.stderr)) problems.push('internal error');
  if (r.code !== 0 && r.code !== 1 && r.code !== 2) problems.push(`exit ${r.code}`);
  if (r.code !== 0 && !/^error/m.test(r.stderr) && !/^Usage: /m.test(r.stderr)) problems.push('non-zero exit without an error line (or usage)');
  return problems;
}

// ---------------------------------------------------------------- CLI arguments

const hostile = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(
    '../../etc/passwd', '..', '../', '/', '/etc', '.', '', ' ', '-', '--', '-1', '+5', 'NaN', 'Infinity', '1e309', '1e-400', '0x1f', '0b11', '1_000',
    '1,2,3', '5,25,50,100', '100,50', '5,,25', '0', '100', '100.5', '99.999999999999999', '50', '-0', '20', '0.01', 'a\nb', 'a\rb', '%2e%2e%2f', '....//',
    'C:\\Windows', '~', '~/x', '$HOME', '`id`', '$(touch pwned)', ';touch pwned', '|cat', '>out', 'alpha', 'beta', 'gamma', 'alpha/../beta',
    'alpha/x', 'a'.repeat(65), 'x'.repeat(5000), 'ä', '🦄', '\u202eevil', 'CON', 'nul', 'abcd', '0000', 'ffffffffffff', 'deadbeefdeadbeef', 'ABCD',
    'name=pass', 'name=fail', '=pass', 'lint=maybe', 'a=b=pass', 'sequential', 'threshold', 'bogus', 'opus-4', 'org/model@v1:latest',
    'http://x', 'file:///etc/passwd', '{"taskId":"t","passed":true}', '\u0007', '\t', '\u00a0',
    'constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'prototype', 'constructor=pass', 'toString=fail',
  ) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9a-f]{1,16}$/) },
  { weight: 1, arbitrary: fc.double().map(String) },
);

const COMMANDS: Array<{ path: string[]; flags: string[]; switches: string[]; positional: number }> = [
  { path: ['versions', 'scan'], flags: [], switches: [], positional: 0 },
  { path: ['versions', 'list'], flags: ['--role'], switches: [], positional: 0 },
  { path: ['versions', 'show'], flags: [], switches: [], positional: 1 },
  { path: ['versions', 'diff'], flags: [], switches: [], positional: 2 },
  { path: ['config', 'canary'], flags: ['--prompt-version', '--role', '--model', '--percentage', '--steps', '--policy', '--reason'], switches: ['--promote', '--rollback'], positional: 0 },
  { path: ['canary', 'status'], flags: ['--role'], switches: [], positional: 0 },
  { path: ['canary', 'route'], flags: ['--role', '--task', '--task'], switches: [], positional: 0 },
  { path: ['canary', 'record'], flags: ['--task', '--gate', '--cost-usd', '--duration-ms', '--from'], switches: ['--passed', '--failed'], positional: 0 },
  { path: ['canary', 'evaluate'], flags: ['--role'], switches: ['--apply'], positional: 0 },
  { path: ['canary', 'history'], flags: ['--role'], switches: [], positional: 0 },
];

function argvArbitrary(fromFiles: string[]) {
  const command = fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...COMMANDS) },
    { weight: 1, arbitrary: fc.record({ path: fc.array(fc.oneof(fc.constantFrom('versions', 'canary', 'config', 'help', 'promote'), hostile), { maxLength: 3 }), flags: fc.constant([] as string[]), switches: fc.constant([] as string[]), positional: fc.constant(0) }) },
  );
  return command.chain((cmd) => {
    const flagValue = (flag: string) => (flag === '--from' ? fc.oneof(fc.constantFrom(...fromFiles), hostile) : hostile);
    const option = fc.oneof(
      { weight: 6, arbitrary: cmd.flags.length ? fc.constantFrom(...cmd.flags).chain((f) => flagValue(f).map((v) => [f, v])) : fc.constant([] as string[]) },
      { weight: 2, arbitrary: cmd.switches.length ? fc.constantFrom(...cmd.switches).map((s) => [s]) : fc.constant([] as string[]) },
      { weight: 1, arbitrary: fc.constantFrom('--json', '--help', '-h', '--version', '--bogus', '-x', '--role=alpha', '--percentage=5').map((s) => [s]) },
      { weight: 1, arbitrary: hostile.map((v) => [v]) },
      // a flag with its value missing
      { weight: 1, arbitrary: cmd.flags.length ? fc.constantFrom(...cmd.flags).map((f) => [f]) : fc.constant([] as string[]) },
    );
    return fc
      .tuple(fc.array(hostile, { minLength: cmd.positional, maxLength: cmd.positional + 1 }), fc.array(option, { maxLength: 7 }), fc.boolean())
      .map(([positional, options, json]) => [...cmd.path, ...positional, ...options.flat(), ...(json ? ['--json'] : [])]);
  });
}

/** Inputs that would act outside the project on purpose (another --dir, the report writer) or block on stdin. */
function allowed(argv: string[]): boolean {
  return argv.every((a, i) => !a.startsWith('--dir') && a !== 'report' && !(argv[i - 1] === '--from' && (a === '-' || a.startsWith('/dev') || a.startsWith('/proc'))) && !a.startsWith('--from=-') && !a.startsWith('--out'));
}

describe('hostile input: fast-check', () => {
  it(`${ARGV_RUNS} random command lines: never a crash, a stack trace or a write outside .sdd/`, { timeout: scale(240_000, 3_600_000) }, async () => {
    const server = await startCliServer();
    let project!: Project;
    let before!: Map<string, string>;
    let runs = 0;
    let exitCodes: Record<string, number> = {};
    const fromFiles: string[] = [];
    const fresh = async () => {
      project = await projectWithCanaries({ alpha: 30, beta: 10 }, CONFIG);
      const files = join(project.home, 'inputs');
      mkdirSync(files, { recursive: true });
      writeFileSync(join(files, 'good.ndjson'), '{"taskId":"seed-alpha","passed":true}\n');
      writeFileSync(join(files, 'garbage.ndjson'), '\u0000\u0001garbage\n{"taskId":\n');
      writeFileSync(join(files, 'empty.ndjson'), '');
      fromFiles.splice(0, fromFiles.length, join(files, 'good.ndjson'), join(files, 'garbage.ndjson'), join(files, 'empty.ndjson'), files, join(files, 'missing.ndjson'), project.sdd('ledger.jsonl'));
      before = outsideSdd(project);
    };
    await fresh();
    const problemsSeen: string[] = [];
    try {
      await fc.assert(
        fc.asyncProperty(argvArbitrary(fromFiles).filter(allowed), async (argv) => {
          if (runs > 0 && runs % RUNS_PER_PROJECT === 0) {
            expect(snapshotDiff(before, outsideSdd(project)), 'writes outside .sdd/').toEqual([]);
            await checkProject(project);
            await fresh();
          }
          runs++;
          const result = await server.exec(['--dir', project.dir, ...argv]);
          exitCodes[String(result.code)] = (exitCodes[String(result.code)] ?? 0) + 1;
          const problems = cleanProblems(result);
          if (problems.length) problemsSeen.push(`${JSON.stringify(argv)}: ${problems.join('; ')}\n${result.stderr.slice(0, 1500)}`);
          expect(problems, `bernstein ${JSON.stringify(argv)}\nstdout: ${result.stdout.slice(0, 500)}\nstderr: ${result.stderr.slice(0, 2000)}`).toEqual([]);
        }),
        { numRuns: ARGV_RUNS, seed: SEED, endOnFailure: true },
      );
      expect(snapshotDiff(before, outsideSdd(project)), 'writes outside .sdd/').toEqual([]);
      await checkProject(project);

      // A sample through the real bin (no NUL bytes: they cannot be in a real argv).
      const sample = fc.sample(argvArbitrary(fromFiles).filter((a) => allowed(a) && a.every((x) => !x.includes('\u0000'))), { numRuns: BIN_SAMPLE, seed: SEED + 1 });
      const binProblems: string[] = [];
      await pool(sample, 3, async (argv) => {
        const result = await runBin(project.dir, argv, { timeoutMs: 60_000 });
        const problems = cleanProblems(result);
        if (problems.length) binProblems.push(`${JSON.stringify(argv)}: ${problems.join('; ')}\n${describeRun(result)}`);
      });
      expect(binProblems, binProblems.join('\n')).toEqual([]);
      expect(snapshotDiff(before, outsideSdd(project)), 'writes outside .sdd/').toEqual([]);
      await checkProject(project);
      console.info(`[reliability] fuzz argv: seed ${SEED}; ${runs} command lines in-process (exit codes ${JSON.stringify(exitCodes)}) + ${sample.length} through the bin; 0 crashes, 0 writes outside .sdd/`);
    } finally {
      await server.close();
    }
    void problemsSeen;
  });

  it(`${NDJSON_RUNS} random NDJSON inputs to record --from: exactly the right lines are recorded`, { timeout: scale(240_000, 3_600_000) }, async () => {
    const server = await startCliServer();
    let project!: Project;
    let before!: Map<string, string>;
    const totals = { lines: 0, recorded: 0, skipped: 0, runs: 0 };
    const fresh = async () => {
      project = await projectWithCanaries({ alpha: 40 }, 'canary:\n  min_canary_tasks: 100000\n');
      before = outsideSdd(project);
    };
    await fresh();
    try {
      await fc.assert(
        fc.asyncProperty(ndjsonCase, async (c) => {
          if (totals.runs > 0 && totals.runs % RUNS_PER_PROJECT === 0) {
            expect(snapshotDiff(before, outsideSdd(project))).toEqual([]);
            await checkProject(project);
            await fresh();
          }
          const run = totals.runs++;
          const failures = await checkNdjsonCase(project, c, run, (argv) => server.exec(['--dir', project.dir, ...argv]));
          totals.lines += c.lines.length;
          totals.recorded += failures.recorded;
          totals.skipped += failures.skipped;
          expect(failures.problems).toEqual([]);
        }),
        { numRuns: NDJSON_RUNS, seed: SEED + 2, endOnFailure: true },
      );
      // The same through the real bin, reading stdin (`--from -`).
      const sample = fc.sample(ndjsonCase, { numRuns: Math.ceil(BIN_SAMPLE / 2), seed: SEED + 3 });
      let i = 0;
      for (const c of sample) {
        const result = await checkNdjsonCase(project, c, 1_000_000 + i++, async (argv) => {
          const fromIndex = argv.indexOf('--from');
          const input = fromIndex === -1 ? '' : readFileSync(argv[fromIndex + 1]!);
          const args = fromIndex === -1 ? argv : [...argv.slice(0, fromIndex), '--from', '-', ...argv.slice(fromIndex + 2)];
          const r = await runBin(project.dir, args, { input, timeoutMs: 60_000 });
          return { id: '', code: r.code, stdout: r.stdout, stderr: r.stderr, ms: r.ms, unhandled: [], thrown: null };
        });
        expect(result.problems).toEqual([]);
      }
      expect(snapshotDiff(before, outsideSdd(project))).toEqual([]);
      await checkProject(project);
      console.info(`[reliability] fuzz ndjson: seed ${SEED}; ${totals.runs} inputs in-process + ${sample.length} through the bin (stdin); ${totals.lines} lines: ${totals.recorded} recorded, ${totals.skipped} skipped as the model predicted`);
    } finally {
      await server.close();
    }
  });
});

async function checkProject(project: Project): Promise<void> {
  const ledger = ledgerFacts(project);
  expect(ledger.problems).toEqual([]);
  const audit = auditFacts(project);
  expect(await stateProblems(project, { audit })).toEqual([]);
}

// ---------------------------------------------------------------- NDJSON model

type Line =
  | { kind: 'valid'; task: number; passed: boolean; gates?: Record<string, boolean>; costUsd?: number; durationMs?: number }
  | { kind: 'unknown'; taskId: string }
  | { kind: 'badjson'; text: string }
  | { kind: 'badschema'; task: number; mutate: string }
  | { kind: 'blank'; text: string }
  | { kind: 'toolong' };

const gateName = fc.oneof(fc.constantFrom('lint', 'tests', 'types', 'ünïcode', '🦄', 'a b', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(128)), fc.string({ minLength: 1, maxLength: 20 }));
const lineArb: fc.Arbitrary<Line> = fc.oneof(
  { weight: 160, arbitrary: fc.record({ kind: fc.constant('valid' as const), task: fc.nat(7), passed: fc.boolean(), gates: fc.option(fc.dictionary(gateName, fc.boolean(), { maxKeys: 4 }), { nil: undefined }), costUsd: fc.option(fc.double({ min: 0, max: 1e12, noNaN: true }), { nil: undefined }), durationMs: fc.option(fc.oneof(fc.nat(), fc.constant(0)), { nil: undefined }) }, { requiredKeys: ['kind', 'task', 'passed'] }) },
  { weight: 40, arbitrary: fc.record({ kind: fc.constant('unknown' as const), taskId: fc.string({ minLength: 1, maxLength: 30 }).map((s) => `nope-${s.replace(/[\u0000-\u001f]/g, '')}`) }) },
  { weight: 40, arbitrary: fc.record({ kind: fc.constant('badjson' as const), text: fc.oneof(fc.constantFrom('{', '{"taskId":', 'nul', "{'taskId':'x'}", '{"taskId":"x",}', 'NaN', '[', '"unterminated', '{"taskId":"x","passed":tru}', '\u0000', '}{'), fc.string({ maxLength: 30 }).filter((s) => s.trim() !== '' && !parses(s))) }) },
  { weight: 60, arbitrary: fc.record({ kind: fc.constant('badschema' as const), task: fc.nat(7), mutate: fc.constantFrom('no-passed', 'passed-string', 'extra-key', 'proto-key', 'cost-negative', 'cost-string', 'duration-negative', 'taskid-empty', 'taskid-long', 'taskid-control', 'taskid-number', 'gate-string', 'gate-empty-name', 'gate-long-name', 'array', 'number', 'null', 'string', 'gates-array') }) },
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('blank' as const), text: fc.constantFrom('', ' ', '\t', '   \t ') }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'toolong' as const }) },
);
const ndjsonCase = fc.record({ tasks: fc.integer({ min: 1, max: 8 }), unicodeIds: fc.boolean(), prerecord: fc.boolean(), crlf: fc.boolean(), lines: fc.array(lineArb, { maxLength: 25 }) });
type NdjsonCase = { tasks: number; unicodeIds: boolean; prerecord: boolean; crlf: boolean; lines: Line[] };

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function render(line: Line, ids: string[]): { text: string; expect: 'record' | 'MALFORMED_LINE' | 'TASK_UNKNOWN' | 'blank'; taskId?: string; value?: Record<string, unknown> } {
  switch (line.kind) {
    case 'valid': {
      const taskId = ids[line.task % ids.length]!;
      const value: Record<string, unknown> = { taskId, passed: line.passed };
      if (line.gates !== undefined) value.gates = line.gates;
      if (line.costUsd !== undefined) value.costUsd = line.costUsd;
      if (line.durationMs !== undefined) value.durationMs = line.durationMs;
      // A gate named "__proto__" cannot be stored faithfully in a plain object: refused, never
      // silently dropped (see the report of this suite).
      const badGate = line.gates && Object.keys(line.gates).some((g) => g.length === 0 || g.length > 128 || g in Object.prototype);
      return { text: JSON.stringify(value), expect: badGate ? 'MALFORMED_LINE' : 'record', taskId, value };
    }
    case 'unknown':
      return { text: JSON.stringify({ taskId: line.taskId, passed: true }), expect: 'TASK_UNKNOWN', taskId: line.taskId };
    case 'badjson':
      return { text: line.text.replace(/[\r\n]/g, ' '), expect: parses(line.text.replace(/[\r\n]/g, ' ')) ? 'MALFORMED_LINE' : 'MALFORMED_LINE' };
    case 'blank':
      return { text: line.text, expect: 'blank' };
    case 'toolong':
      return { text: JSON.stringify({ taskId: ids[0], passed: true, pad: 'x'.repeat(1_000_001) }), expect: 'MALFORMED_LINE' };
    case 'badschema': {
      const taskId = ids[line.task % ids.length]!;
      const base: Record<string, unknown> = { taskId, passed: true };
      let text: string | undefined;
      switch (line.mutate) {
        case 'no-passed': delete base.passed; break;
        case 'passed-string': base.passed = 'true'; break;
        case 'extra-key': base.model = 'x'; break;
        case 'proto-key': text = `{"taskId":${JSON.stringify(taskId)},"passed":true,"__proto__":{"passed":false}}`; break;
        case 'cost-negative': base.costUsd = -0.5; break;
        case 'cost-string': base.costUsd = '1.5'; break;
        case 'duration-negative': base.durationMs = -1; break;
        case 'taskid-empty': base.taskId = ''; break;
        case 'taskid-long': base.taskId = 'x'.repeat(513); break;
        case 'taskid-control': base.taskId = `${taskId}\u0001`; break;
        case 'taskid-number': base.taskId = 42; break;
        case 'gate-string': base.gates = { lint: 'yes' }; break; // "pass" and "fail" are valid gate values (SPEC); any other string is not
        case 'gate-empty-name': base.gates = { '': true }; break;
        case 'gate-long-name': base.gates = { ['g'.repeat(129)]: true }; break;
        case 'gates-array': base.gates = [true]; break;
        case 'array': text = JSON.stringify([base]); break;
        case 'number': text = '42'; break;
        case 'null': text = 'null'; break;
        case 'string': text = JSON.stringify(JSON.stringify(base)); break;
      }
      return { text: text ?? JSON.stringify(base), expect: 'MALFORMED_LINE' };
    }
  }
}

async function checkNdjsonCase(project: Project, c: NdjsonCase, run: number, exec: (argv: string[]) => Promise<CliResult>) {
  const problems: string[] = [];
  const ids = Array.from({ length: c.tasks }, (_, i) => (c.unicodeIds ? `r${run}-ü🦄 ${i}` : `r${run}-${i}`));
  const routed = await exec(['canary', 'route', '--role', 'alpha', ...ids.flatMap((id) => ['--task', id]), '--json']);
  if (routed.code !== 0) problems.push(`route failed: ${routed.stderr}`);
  const recordedBefore = new Set<string>();
  if (c.prerecord) {
    const pre = await exec(['canary', 'record', '--task', ids[0]!, '--failed']);
    if (pre.code !== 0) problems.push(`pre-record failed: ${pre.stderr}`);
    recordedBefore.add(ids[0]!);
  }
  const rendered = c.lines.map((l) => render(l, ids));
  mkdirSync(join(project.home, 'ndjson-inputs'), { recursive: true });
  const file = join(project.home, 'ndjson-inputs', `in-${run}.ndjson`);
  writeFileSync(file, rendered.map((r) => r.text).join(c.crlf ? '\r\n' : '\n') + (rendered.length ? '\n' : ''));
  // The model.
  const taken = new Set(recordedBefore);
  const expectedSkips: Array<{ line: number; code: string }> = [];
  const expectedRecorded = new Map<string, Record<string, unknown>>();
  rendered.forEach((r, i) => {
    if (r.expect === 'blank') return;
    if (r.expect === 'record') {
      if (taken.has(r.taskId!)) expectedSkips.push({ line: i + 1, code: 'DUPLICATE_OUTCOME' });
      else {
        taken.add(r.taskId!);
        expectedRecorded.set(r.taskId!, r.value!);
      }
      return;
    }
    expectedSkips.push({ line: i + 1, code: r.expect });
  });

  const ledgerFile = project.sdd('ledger.jsonl');
  const offset = statSync(ledgerFile).size;
  const result = await exec(['canary', 'record', '--from', file, '--json']);
  problems.push(...cleanProblems(result));
  let out: { recorded: number; skipped: Array<{ line: number; code: string }> } | undefined;
  try {
    out = JSON.parse(result.stdout);
  } catch {
    problems.push(`stdout is not JSON: ${result.stdout.slice(0, 300)} (stderr: ${result.stderr.slice(0, 500)})`);
  }
  if (out) {
    if (out.recorded !== expectedRecorded.size) problems.push(`recorded ${out.recorded}, expected ${expectedRecorded.size}`);
    const got = out.skipped.map((s) => `${s.line}:${s.code}`);
    const want = expectedSkips.map((s) => `${s.line}:${s.code}`);
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`skipped ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  const wantCode = expectedSkips.length > 0 ? 1 : 0;
  if (result.code !== wantCode) problems.push(`exit ${result.code}, expected ${wantCode}`);
  for (const skip of expectedSkips) if (!result.stderr.includes(`line ${skip.line}: `)) problems.push(`stderr does not report line ${skip.line}`);
  // The ledger gained exactly the expected outcomes, with the values sent.
  const added = readFileSync(ledgerFile).subarray(offset).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const outcomes = added.filter((r) => r.type === 'outcome');
  if (outcomes.length !== expectedRecorded.size) problems.push(`ledger gained ${outcomes.length} outcomes, expected ${expectedRecorded.size}`);
  for (const o of outcomes) {
    const want = expectedRecorded.get(o.taskId);
    if (!want) {
      problems.push(`unexpected outcome for ${o.taskId}`);
      continue;
    }
    for (const key of ['passed', 'gates', 'costUsd', 'durationMs']) {
      if (JSON.stringify(o[key]) !== JSON.stringify(want[key])) problems.push(`${o.taskId}: ${key} ${JSON.stringify(o[key])} recorded, ${JSON.stringify(want[key])} sent`);
    }
  }
  if (problems.length) problems.push(`input:\n${readFileSync(file, 'utf8').slice(0, 3000)}`);
  return { problems, recorded: expectedRecorded.size, skipped: expectedSkips.length };
}
