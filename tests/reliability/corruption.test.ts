/**
 * Reliability 3: damaged files. For every file under .sdd/ (and .sdd/config.yaml): truncated,
 * garbage, wrong schema version and hand-edited copies. Each command either does not need the
 * file (and then succeeds without touching it), or fails: non-zero exit, one clean line naming the
 * file (and the line, for YAML / JSONL / JSON syntax), no stack trace, and NOTHING under .sdd/
 * changed. The damaged file is byte-for-byte unchanged in every case.
 * (A torn last line of a .jsonl is not damage: see crash-windows.test.ts.)
 */
import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describe as describeRun, pool, runBin, runCliCases, scale, SOAK, STACK_FRAME } from './lib/proc.ts';
import { Project, removeProjects, sddSnapshot, snapshotDiff } from './lib/project.ts';
import { binOk, roleFiles } from './lib/setup.ts';

afterAll(removeProjects);

type Command = 'status' | 'route' | 'record' | 'scan' | 'history' | 'config-canary' | 'percentage' | 'evaluate' | 'list' | 'show';
const COMMANDS: Record<Command, (g: Golden) => string[]> = {
  status: () => ['canary', 'status'],
  route: () => ['canary', 'route', '--role', 'alpha', '--task', 'fresh-1'],
  record: () => ['canary', 'record', '--task', 'g-25', '--passed'],
  scan: () => ['versions', 'scan'],
  history: () => ['canary', 'history'],
  // Starts a canary: reads config, registry, the stable version's content, state and audit log.
  'config-canary': () => ['config', 'canary', '--role', 'beta', '--model', 'opus-x', '--percentage', '10'],
  // Changes a running canary: reads only the state (and the audit log, to repair it).
  percentage: () => ['config', 'canary', '--role', 'alpha', '--percentage', '30'],
  evaluate: () => ['canary', 'evaluate'],
  list: () => ['versions', 'list'],
  show: (g) => ['versions', 'show', g.stable],
};
const ALL = Object.keys(COMMANDS) as Command[];

interface Golden {
  project: Project;
  stable: string;
  canaryVersion: string;
}

interface Damage {
  file: string;
  kind: string;
  /** Rewrites the file's text (or bytes). */
  apply: (bytes: Buffer, g: Golden) => Buffer | string | null;
  /** Commands that read the file and so must fail. */
  mustFail: Command[];
  /** The error must name this line (undefined: any line or none). `true`: some line. */
  line?: number | true;
  /**
   * A schema-valid edit that only cross-checks can catch: commands that do not need the file may
   * legitimately write it (a transition rewrites the state).
   */
  schemaValid?: boolean;
}

const CONFIG_YAML = [
  'templates: templates/roles',
  'orchestrator:',
  '  max_agents: 4',
  'canary:',
  '  canary_percentage: 0',
  '  min_canary_tasks: 1000',
  '  rollback_margin: 0.1',
  '  alerts:',
  '    webhook: ""',
  '',
].join('\n');

const CONFIG_READERS: Command[] = ['status', 'route', 'record', 'scan', 'config-canary', 'evaluate'];
const REGISTRY_READERS: Command[] = ['route', 'scan', 'list', 'show', 'config-canary'];
const STATE_READERS: Command[] = ['status', 'route', 'record', 'scan', 'config-canary', 'percentage', 'evaluate', 'list'];
const VERSION_READERS: Command[] = ['route', 'show'];
// Route and record read the ledger past the point the task index (.sdd/cache/tasks.idx) was last
// saved: here, everything after the first route's line (no append reaches the 2 MiB that saves it
// again), so the damage on line 3 is read. Lines the index already covers are checked when a
// lookup reads them (packages/prompt-versions/src/task-index.test.ts), as status checks only the
// ledger past its aggregates cache.
const LEDGER_READERS: Command[] = ['route', 'record'];
const AUDIT_READERS: Command[] = ['history', 'config-canary', 'percentage'];
const AGGREGATE_READERS: Command[] = ['status', 'record', 'evaluate'];

/** The derived aggregates cache, damaged: rebuilt from the ledger by whoever reads it, never an error. */
const AGGREGATE_DAMAGES: Array<[string, (b: Buffer) => Buffer | string]> = [
  ['truncated', (b) => b.subarray(0, Math.floor(b.length / 2))],
  ['empty', () => ''],
  ['garbage bytes', () => Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) % 256))],
  ['schemaVersion 99', (b) => JSON.stringify({ ...JSON.parse(b.toString('utf8')), schemaVersion: 99 })],
  ['a JSON array', () => '[]\n'],
  ['negative task counts', (b) => {
    const d = JSON.parse(b.toString('utf8'));
    (Object.values(d.states) as any[]).find((s) => s.evidence && Object.keys(s.evidence.epochs).length > 0).evidence.epochs['0'].stable.assigned = -5;
    return JSON.stringify(d);
  }],
  ['a cursor past the end of the ledger', (b) => JSON.stringify({ ...JSON.parse(b.toString('utf8')), cursor: { offset: 10_000_000, line: 99_999 } })],
  ['the version 1 layout of an older release', () => JSON.stringify({ schemaVersion: 1, cursor: { offset: 0, line: 1 }, canaries: {}, stable: {} })],
];

const garbage = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) % 256));
const half = (b: Buffer) => b.subarray(0, Math.floor(b.length / 2));
const editJson = (fn: (doc: any, g: Golden) => void) => (b: Buffer, g: Golden) => {
  const doc = JSON.parse(b.toString('utf8'));
  fn(doc, g);
  return `${JSON.stringify(doc, null, 2)}\n`;
};
/** Replace line `n` (1-based) of a JSONL file. */
const editLine = (n: number, fn: (line: string) => string) => (b: Buffer) => {
  const lines = b.toString('utf8').split('\n');
  lines[n - 1] = fn(lines[n - 1]!);
  return lines.join('\n');
};
const yamlLine = (n: number, text: string) => (b: Buffer) => {
  const lines = b.toString('utf8').split('\n');
  lines[n - 1] = text;
  return lines.join('\n');
};

function damages(g: Golden): Damage[] {
  const sdd = (...p: string[]) => g.project.sdd(...p);
  const out: Damage[] = [];
  const json = (file: string, label: string, readers: Command[], edits: Array<[string, (b: Buffer, g: Golden) => Buffer | string]>) => {
    // JSON documents: the file is named; a line only where the parser knows one (SPEC: lines for YAML / JSONL).
    out.push({ file, kind: `${label}: truncated`, apply: half, mustFail: readers });
    out.push({ file, kind: `${label}: empty`, apply: () => '', mustFail: readers });
    out.push({ file, kind: `${label}: garbage bytes`, apply: () => garbage, mustFail: readers });
    out.push({ file, kind: `${label}: schemaVersion 99`, apply: editJson((d) => (d.schemaVersion = 99)), mustFail: readers });
    out.push({ file, kind: `${label}: schemaVersion missing`, apply: editJson((d) => delete d.schemaVersion), mustFail: readers });
    out.push({ file, kind: `${label}: a JSON array`, apply: () => '[]\n', mustFail: readers });
    for (const [kind, apply] of edits) out.push({ file, kind: `${label}: hand-edited, ${kind}`, apply, mustFail: readers });
  };
  json(sdd('config', 'prompt_versions.json'), 'registry', REGISTRY_READERS, [
    ['a version hash that is not hex', editJson((d, gg) => (d.versions[gg.stable].hash = 'not-a-hash'))],
    ['a role history entry pointing nowhere', editJson((d) => d.roles.alpha.history.push({ versionId: 'zz', at: 'x', origin: { kind: 'disk' } }))],
  ]);
  json(sdd('versions', `${g.stable}.json`), 'version content', VERSION_READERS, [
    ['a prompt edited by hand (content no longer matches its hash)', editJson((d) => (d.files['system_prompt.md'] += 'sneaky edit\n'))],
    ['files is a string', editJson((d) => (d.files = 'x'))],
  ]);
  json(sdd('config', 'canary.json'), 'canary state', STATE_READERS, [
    ['percentage 150', editJson((d) => (d.roles.alpha.canary.percentage = 150))],
    ['stable is not a version id', editJson((d) => (d.roles.alpha.stable = '../../etc'))],
    ['an unknown key', editJson((d) => (d.roles.alpha.surprise = true))],
    ['revision negative', editJson((d) => (d.revision = -1))],
  ]);
  out.push({ file: sdd('config', 'canary.json'), kind: 'canary state: hand-edited, stable names a version that is not registered', apply: editJson((d) => (d.roles.alpha.stable = 'aaaaaaaaaaaa')), mustFail: ['route'], schemaValid: true });
  // Logs: damage in the middle (line 3) is corruption; the file's last line stays intact.
  for (const [name, readers] of [
    ['ledger.jsonl', LEDGER_READERS],
    ['audit.jsonl', AUDIT_READERS],
  ] as const) {
    const file = sdd(name);
    out.push({ file, kind: `${name}: garbage line in the middle`, apply: editLine(3, () => 'this is not json'), mustFail: readers, line: 3 });
    out.push({ file, kind: `${name}: binary garbage line in the middle`, apply: (b) => Buffer.concat([b.subarray(0, nthLineStart(b, 3)), garbage.filter((x) => x !== 10), Buffer.from('\n'), b.subarray(nthLineStart(b, 3))]), mustFail: readers, line: 3 });
    out.push({ file, kind: `${name}: record version 99 in the middle`, apply: editLine(3, (l) => l.replace('"v":1', '"v":99')), mustFail: readers, line: 3 });
    out.push({ file, kind: `${name}: record without "v" in the middle`, apply: editLine(3, (l) => l.replace('"v":1,', '')), mustFail: readers, line: 3 });
    out.push({
      file,
      kind: `${name}: hand-edited, a field of the wrong type in the middle`,
      apply: editLine(3, (l) => (name === 'ledger.jsonl' ? l.replace(/"arm":"\w+"/, '"arm":"purple"') : l.replace(/"action":"\w+"/, '"action":"explode"'))),
      mustFail: readers,
      line: 3,
    });
    out.push({ file, kind: `${name}: hand-edited, a JSON array line in the middle`, apply: editLine(3, () => '[1,2,3]'), mustFail: readers, line: 3 });
    if (name === 'ledger.jsonl') {
      // A schema-valid edit: an outcome line pasted twice. The SPEC refuses a second outcome.
      out.push({ file, kind: `${name}: hand-edited, an outcome line duplicated`, apply: (b) => { const lines = b.toString('utf8').split('\n'); const i = lines.findIndex((l) => l.includes('"type":"outcome"')); lines.splice(i + 1, 0, lines[i]!); return lines.join('\n'); }, mustFail: readers, schemaValid: true });
    }
  }
  // .sdd/config.yaml (the user's file): errors name the line.
  const config = sdd('config.yaml');
  out.push({ file: config, kind: 'config.yaml: YAML syntax error', apply: yamlLine(6, '  min_canary_tasks: [1000'), mustFail: CONFIG_READERS, line: true });
  out.push({ file: config, kind: 'config.yaml: unknown key in canary', apply: yamlLine(7, '  rollback_margn: 0.1'), mustFail: CONFIG_READERS, line: 7 });
  out.push({ file: config, kind: 'config.yaml: wrong type', apply: yamlLine(6, '  min_canary_tasks: lots'), mustFail: CONFIG_READERS, line: 6 });
  out.push({ file: config, kind: 'config.yaml: out of range', apply: yamlLine(5, '  canary_percentage: 140'), mustFail: CONFIG_READERS, line: 5 });
  out.push({ file: config, kind: 'config.yaml: duplicate key', apply: yamlLine(7, '  min_canary_tasks: 5'), mustFail: CONFIG_READERS, line: 7 });
  out.push({ file: config, kind: 'config.yaml: webhook is not http(s)', apply: yamlLine(9, '    webhook: "file:///etc/passwd"'), mustFail: CONFIG_READERS, line: 9 });
  out.push({ file: config, kind: 'config.yaml: tab indentation', apply: yamlLine(6, '\tmin_canary_tasks: 1000'), mustFail: CONFIG_READERS, line: true });
  out.push({ file: config, kind: 'config.yaml: truncated mid-key', apply: (b) => b.subarray(0, b.indexOf('rollback_margin') + 8), mustFail: CONFIG_READERS, line: true });
  out.push({ file: config, kind: 'config.yaml: garbage bytes', apply: () => garbage, mustFail: CONFIG_READERS });
  out.push({ file: config, kind: 'config.yaml: canary is a list', apply: () => 'canary:\n  - 1\n  - 2\n', mustFail: CONFIG_READERS, line: true });
  out.push({ file: config, kind: 'config.yaml: alias bomb', apply: () => billionLaughs(), mustFail: CONFIG_READERS });
  return out;
}

function nthLineStart(b: Buffer, n: number): number {
  let offset = 0;
  for (let i = 1; i < n; i++) offset = b.indexOf(10, offset) + 1;
  return offset;
}

function billionLaughs(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  lines.push('canary:', '  min_canary_tasks: 10');
  return `${lines.join('\n')}\n`;
}

let golden: Golden;

interface Prepared {
  damage: Damage;
  command: Command;
  project: Project;
  file: string;
  damagedBytes: Buffer;
  before: Map<string, string>;
}

function judge(c: Prepared, result: { code: number | null; stderr: string }): string[] {
  const problems: string[] = [];
  if (STACK_FRAME.test(result.stderr)) problems.push('stack trace on stderr');
  if (/internal error/.test(result.stderr)) problems.push('internal error');
  const now = readFileSync(c.file);
  const appendOnly = c.file.endsWith('.jsonl') && result.code === 0;
  const kept = appendOnly ? now.subarray(0, c.damagedBytes.length).equals(c.damagedBytes) : now.equals(c.damagedBytes);
  if (!kept && !(c.damage.schemaValid && result.code === 0 && !c.damage.mustFail.includes(c.command))) problems.push('the damaged file was rewritten');
  if (c.damage.mustFail.includes(c.command)) {
    if (result.code === 0) problems.push('exit 0 with a damaged file it reads');
    const errorLines = result.stderr.split('\n').filter((l) => l.startsWith('error'));
    if (errorLines.length !== 1) problems.push(`expected one error line, got ${errorLines.length}`);
    const relative = c.file.slice(c.project.dir.length + 1);
    if (!result.stderr.includes(relative)) problems.push(`error does not name ${relative}`);
    else if (c.damage.line !== undefined) {
      const escaped = relative.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const lineRe = c.damage.line === true ? new RegExp(`${escaped}:\\d+`) : new RegExp(`${escaped}:${c.damage.line}\\b`);
      if (!lineRe.test(result.stderr)) problems.push(`error does not name the line${c.damage.line === true ? '' : ` ${c.damage.line}`}`);
    }
  }
  if (result.code !== 0) {
    const diff = snapshotDiff(c.before, sddSnapshot(c.project));
    if (diff.length > 0) problems.push(`failed but changed .sdd/: ${diff.join(', ')}`);
  }
  return problems;
}

beforeAll(async () => {
  const project = new Project({ roles: { alpha: roleFiles('alpha', 1), beta: roleFiles('beta', 1) }, config: CONFIG_YAML });
  const tasks = Array.from({ length: 30 }, (_, i) => ['--task', `g-${i}`]).flat();
  await binOk(project, ['canary', 'route', '--role', 'beta', '--task', 'b-0']);
  project.writeRole('beta', roleFiles('beta', 2));
  await binOk(project, ['canary', 'route', '--role', 'beta', '--task', 'b-1']); // direct release: beta has a previous stable
  await binOk(project, ['canary', 'route', '--role', 'alpha', '--task', 'g-init']);
  project.writeRole('alpha', roleFiles('alpha', 2));
  await binOk(project, ['config', 'canary', '--role', 'alpha', '--percentage', '50']);
  await binOk(project, ['canary', 'route', '--role', 'alpha', ...tasks]);
  const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ taskId: `g-${i}`, passed: i % 4 !== 0 })).join('\n');
  writeFileSync(project.path('outcomes.ndjson'), `${lines}\n`);
  await binOk(project, ['canary', 'record', '--from', project.path('outcomes.ndjson')]);
  const state = project.state();
  golden = { project, stable: state.roles.alpha.stable, canaryVersion: state.roles.alpha.canary.versionId };
  // Every command succeeds on the undamaged project.
  for (const command of ALL) {
    const copy = Project.copyOf(project);
    await binOk(copy, COMMANDS[command](golden));
  }
}, 120_000);

describe('corruption: damaged files are reported, never used, never rewritten', () => {
  it('every damaged copy x every command: those that need the file fail cleanly naming it; nothing is written', { timeout: scale(240_000, 1_800_000) }, async () => {
    const list = damages(golden);
    const prepared = list.flatMap((damage, d) =>
      ALL.map((command) => {
        const project = Project.copyOf(golden.project, 'bernstein-corrupt-');
        const file = damage.file.replace(golden.project.dir, project.dir);
        const damaged = damage.apply(readFileSync(file), golden);
        if (damaged === null) rmSync(file);
        else writeFileSync(file, damaged);
        return { id: `${d}:${command}`, damage, command, project, file, damagedBytes: readFileSync(file), before: sddSnapshot(project), args: COMMANDS[command](golden) };
      }),
    );
    // The whole matrix in-process (the built CLI's run(), what bin.js calls) ...
    const results = await runCliCases(
      prepared.map((c) => ({ id: c.id, argv: ['--dir', c.project.dir, ...c.args] })),
      { parallel: 2, workDir: golden.project.home },
    );
    const failures: string[] = [];
    for (const c of prepared) {
      const r = results.get(c.id)!;
      const problems = judge(c, { code: r.code, stderr: r.stderr + r.unhandled.join('\n') + (r.thrown ?? '') });
      if (problems.length > 0) failures.push(`${problems.join('; ')}\n  [${c.damage.kind}] bernstein ${c.args.join(' ')} -> exit ${r.code}: ${r.stderr.trim().slice(0, 400)}`);
    }
    // ... and through the real bin: every damaged file with one command that must fail on it
    // (SOAK=1: the whole matrix again).
    const binCases = SOAK ? prepared.map((c) => ({ ...c, project: Project.copyOf(golden.project, 'bernstein-corrupt-') })) : list.map((damage, d) => prepared.find((c) => c.id === `${d}:${damage.mustFail[d % damage.mustFail.length]}`)!).map((c) => ({ ...c, project: Project.copyOf(golden.project, 'bernstein-corrupt-') }));
    await pool(binCases, 3, async (c) => {
      const file = c.file.replace(/^.*?\/project\//, `${c.project.dir}/`);
      writeFileSync(file, c.damagedBytes);
      const before = sddSnapshot(c.project);
      const result = await runBin(c.project.dir, c.args, { timeoutMs: 60_000 });
      const problems = judge({ ...c, file, before }, result);
      if (problems.length > 0) failures.push(`(bin) ${problems.join('; ')}\n  [${c.damage.kind}] bernstein ${c.args.join(' ')} -> exit ${result.code}: ${result.stderr.trim().slice(0, 400)}`);
    });
    console.info(
      `[reliability] corruption: ${list.length} damaged files (${new Set(list.map((d) => d.file.split('/.sdd/')[1])).size} files under .sdd/) x ${ALL.length} commands = ${prepared.length} runs in-process + ${binCases.length} through the bin; ${failures.length} problems`,
    );
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('a damaged aggregates cache (derived) is rebuilt from the ledger: the commands that read it succeed and agree with an intact one', { timeout: scale(240_000, 1_800_000) }, async () => {
    const expected = JSON.parse((await binOk(Project.copyOf(golden.project, 'bernstein-corrupt-'), ['canary', 'status', '--json'])).stdout);
    const failures: string[] = [];
    for (const [kind, apply] of AGGREGATE_DAMAGES) {
      for (const command of AGGREGATE_READERS) {
        const project = Project.copyOf(golden.project, 'bernstein-corrupt-');
        const file = project.sdd('cache', 'aggregates.json');
        writeFileSync(file, apply(readFileSync(file)));
        rmSync(project.sdd('cache', 'status.json'), { force: true });
        const result = await runBin(project.dir, COMMANDS[command](golden), { timeoutMs: 60_000 });
        if (result.code !== 0 || STACK_FRAME.test(result.stderr)) failures.push(`[${kind}] ${command}: exit ${result.code}: ${result.stderr.trim().slice(0, 300)}`);
        if (command === 'status' && result.code === 0) {
          const status = JSON.parse((await binOk(project, ['canary', 'status', '--json'])).stdout);
          if (JSON.stringify(status) !== JSON.stringify(expected)) failures.push(`[${kind}] status after the rebuild differs from an intact cache's`);
        }
        rmSync(project.home, { recursive: true, force: true });
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('a lock path that is a regular file (not a lock directory): writers fail cleanly naming it, nothing changes', { timeout: 120_000 }, async () => {
    const project = Project.copyOf(golden.project, 'bernstein-corrupt-');
    writeFileSync(project.sdd('lock'), 'not a lock\n');
    const old = new Date(Date.now() - 120_000);
    utimesSync(project.sdd('lock'), old, old);
    const before = sddSnapshot(project);
    for (const command of ['route', 'record', 'config-canary'] as Command[]) {
      const result = await runBin(project.dir, COMMANDS[command](golden), { timeoutMs: 90_000 });
      expect(result.stderr, describeRun(result)).not.toMatch(STACK_FRAME);
      expect(result.code, describeRun(result)).not.toBe(0);
      expect(result.stderr, describeRun(result)).toContain('.sdd/lock');
      expect(snapshotDiff(before, sddSnapshot(project))).toEqual([]);
    }
    expect(readFileSync(project.sdd('lock'), 'utf8')).toBe('not a lock\n');
  });
});
