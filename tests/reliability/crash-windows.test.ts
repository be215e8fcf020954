/**
 * Reliability 2b: crash windows hit on purpose rather than by chance.
 * - a process SIGKILLed while holding the project lock: the next command succeeds (stale lock);
 * - the on-disk state a crash leaves between the state write and the audit append;
 * - torn last lines of the ledger and the audit log (a crash mid-append);
 * - a writer stalled (SIGSTOP) past the lock's staleness while another takes over.
 */
import { existsSync, readFileSync, statSync, truncateSync, appendFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { auditFacts, ledgerFacts, stateProblems, statusProblems } from './lib/invariants.ts';
import { describe as describeRun, fixture, runBin, runNode, scale, sleep, startBin, startNode, STACK_FRAME } from './lib/proc.ts';
import { removeProjects } from './lib/project.ts';
import { binOk, projectWithCanaries, roleFiles } from './lib/setup.ts';

afterAll(removeProjects);

const CONFIG = 'canary:\n  min_canary_tasks: 1000\n';

describe('crash windows', () => {
  it('a process killed while holding the lock: the next route and record succeed once the lock is stale', { timeout: 90_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 50 }, CONFIG);
    const holder = startNode(fixture('hold-lock.mjs'), [project.dir]);
    await holder.waitFor('locked');
    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(existsSync(project.sdd('lock')), 'the killed holder left its lock behind').toBe(true);

    const route = await runBin(project.dir, ['canary', 'route', '--role', 'alpha', '--task', 'after-kill'], { timeoutMs: 60_000 });
    expect(route.code, describeRun(route)).toBe(0);
    const record = await runBin(project.dir, ['canary', 'record', '--task', 'after-kill', '--failed'], { timeoutMs: 60_000 });
    expect(record.code, describeRun(record)).toBe(0);
    // Readers never needed the lock.
    const status = await runBin(project.dir, ['canary', 'status', '--json']);
    expect(status.code, describeRun(status)).toBe(0);
    expect(statusProblems(project, JSON.parse(status.stdout))).toEqual([]);
    expect(ledgerFacts(project).outcomes.get('after-kill')).toHaveLength(1);
    console.info(`[reliability] stale lock: the next writer got the lock of a SIGKILLed holder after ${route.ms} ms (staleness 10 s)`);
  });

  it('a crash between the state write and the audit append: history shows the transition, and the next transition logs it exactly once', { timeout: 60_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 50 }, CONFIG);
    const auditBefore = statSync(project.sdd('audit.jsonl')).size;
    await binOk(project, ['config', 'canary', '--role', 'alpha', '--percentage', '30']);
    // The bytes a crash right after the (atomic) state write leaves: new state, old audit log.
    truncateSync(project.sdd('audit.jsonl'), auditBefore);
    const revision = project.state().revision;

    const history = await binOk(project, ['canary', 'history', '--json']);
    const lastLogged = JSON.parse(history.stdout).events.at(-1);
    // Repair on the next transition (the file adapter's recovery) must leave it there exactly once.
    await binOk(project, ['config', 'canary', '--role', 'alpha', '--percentage', '40']);
    const audit = auditFacts(project);
    expect(audit.transitions.filter((e) => e.revision === revision)).toHaveLength(1);
    expect(await stateProblems(project, { audit })).toEqual([]);
    // What an operator sees before any repair: the transition that is in effect must be in history.
    expect(lastLogged?.revision, 'canary history omits the transition that is in effect (state revision ' + revision + ')').toBe(revision);
  });

  it('a torn last ledger line: skipped with a warning naming file and line, fenced by the next append, never counted', { timeout: 60_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 50 }, CONFIG);
    await binOk(project, ['canary', 'route', '--role', 'alpha', '--task', 'a', '--task', 'b', '--task', 'c']);
    await binOk(project, ['canary', 'record', '--task', 'a', '--passed']);
    await binOk(project, ['canary', 'record', '--task', 'b', '--failed']);
    // A crash in the middle of appending c's outcome.
    const ledgerFile = project.sdd('ledger.jsonl');
    const whole = readFileSync(ledgerFile, 'utf8');
    const lines = whole.split('\n').length; // the torn line's number
    appendFileSync(ledgerFile, '{"v":1,"type":"outcome","taskId":"c","role":"alpha","arm":"sta');
    const tornBytes = readFileSync(ledgerFile);

    for (const args of [['canary', 'status', '--json'], ['canary', 'history'], ['versions', 'scan']]) {
      const result = await runBin(project.dir, args);
      expect(result.code, describeRun(result)).toBe(0);
      if (args[1] === 'status') {
        expect(result.stderr, describeRun(result)).toContain(`${ledgerFile}:${lines}`);
        expect(result.stderr).toMatch(/warning: .*unterminated last line/);
      }
    }
    expect(readFileSync(ledgerFile).equals(tornBytes), 'readers changed the ledger').toBe(true);

    // c was never acknowledged: recording it now is not a duplicate.
    const record = await runBin(project.dir, ['canary', 'record', '--task', 'c', '--passed']);
    expect(record.code, describeRun(record)).toBe(0);
    expect(record.stderr).toMatch(/warning: .*unterminated last line|warning: .*torn/);
    const after = readFileSync(ledgerFile);
    expect(after.subarray(0, tornBytes.length).equals(tornBytes), 'the torn bytes were rewritten (append-only)').toBe(true);
    // Forever after, whoever reads that part of the ledger skips the fenced fragment with a warning.
    await binOk(project, ['canary', 'route', '--role', 'alpha', '--task', 'd']);
    const later = await binOk(project, ['canary', 'record', '--task', 'd', '--passed']);
    expect(later.stderr).toContain(`${ledgerFile}:${lines}: skipped a record torn by an earlier crash`);
    const status = await runBin(project.dir, ['canary', 'status', '--json']);
    expect(status.code, describeRun(status)).toBe(0);
    expect(ledgerFacts(project).outcomes.get('c')).toHaveLength(1);
    expect(statusProblems(project, JSON.parse(status.stdout))).toEqual([]);
    const window = JSON.parse(status.stdout).roles[0].canary;
    expect(window.stable.tasks + window.canary.tasks).toBe(4);
  });

  it('a torn last audit line: history and transitions go on with a warning', { timeout: 60_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 50 }, CONFIG);
    const auditFile = project.sdd('audit.jsonl');
    appendFileSync(auditFile, '{"v":1,"at":"2026-01-01T00:00:00.000Z","role":"alpha","act');
    const history = await runBin(project.dir, ['canary', 'history', '--json']);
    expect(history.code, describeRun(history)).toBe(0);
    expect(history.stderr).toMatch(new RegExp(`warning: ${auditFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`));
    await binOk(project, ['config', 'canary', '--role', 'alpha', '--percentage', '35']);
    const again = await binOk(project, ['canary', 'history', '--json']);
    expect(again.stderr).toMatch(/torn by an earlier crash/);
    expect(await stateProblems(project)).toEqual([]);
  });

  it('a writer stalled inside the lock past its staleness (after its duplicate check, before its append) while another records the same tasks: no outcome twice, status equals the ledger', { timeout: 120_000 }, async () => {
    const project = await projectWithCanaries({ alpha: 50 }, CONFIG);
    const n = 2000;
    const routed = await runNode(fixture('route-many.mjs'), [project.dir, 'alpha', 's-', String(n)], { timeoutMs: 60_000 });
    expect(routed.code, describeRun(routed)).toBe(0);
    const fileA = project.path('a.ndjson');
    const fileB = project.path('b.ndjson');
    // Both send outcomes of the same tasks: whoever comes second must be refused, line by line.
    writeFileSync(fileA, Array.from({ length: n }, (_, i) => JSON.stringify({ taskId: `s-${i}`, passed: true })).join('\n') + '\n');
    writeFileSync(fileB, Array.from({ length: n }, (_, i) => JSON.stringify({ taskId: `s-${i}`, passed: false })).join('\n') + '\n');

    // A freezes for 14 s inside its locked batch; B takes the lock once it is stale (10 s).
    const a = startNode(fixture('stall-record.mjs'), [project.dir, fileA, '14000']);
    await a.waitFor('stalling');
    const b = await runBin(project.dir, ['canary', 'record', '--from', fileB], { timeoutMs: 60_000 });
    const aEnded = await a.exited;

    const ledger = ledgerFacts(project);
    const status = await runBin(project.dir, ['canary', 'status', '--json']);
    const doubled = [...ledger.outcomes.values()].filter((list) => list.length > 1).length;
    console.info(
      `[reliability] stalled writer: B exit ${b.code} after ${b.ms} ms; A exit ${aEnded.code}: ${a.stdout().trim().split('\n').at(-1)}; ` +
        `${ledger.outcomes.size} tasks with outcomes, ${doubled} with two`,
    );
    expect(b.code, describeRun(b)).toBe(0);
    expect(a.stderr()).not.toMatch(STACK_FRAME);
    expect(status.code, describeRun(status)).toBe(0);
    const problems = [
      ...(doubled > 0 ? [`${doubled} tasks recorded twice: the stalled writer appended after its lock was taken over`] : []),
      ...statusProblems(project, JSON.parse(status.stdout), ledger),
      ...(await stateProblems(project)),
    ];
    expect(problems).toEqual([]);
  });
});

void roleFiles;
