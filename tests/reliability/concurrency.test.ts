/**
 * Reliability 1: many orchestrator processes routing and recording against one project with
 * active canaries, while an operator loops `canary status`, `versions scan` and `canary history`.
 * Afterwards: every acknowledged outcome is in the ledger exactly once, status agrees with the
 * ledger, the audit log replays (revisions 1, 2, 3, ...; at most one decision per canary), every
 * decision's evidence is a real prefix of the ledger, and the state loads.
 * CI: 8 processes x 150 tasks; SOAK=1: 16 x 300.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { auditFacts, ledgerFacts, stateProblems, statusProblems } from './lib/invariants.ts';
import { fixture, describe as describeRun, runBin, runNode, scale, STACK_FRAME } from './lib/proc.ts';
import { removeProjects, type Project } from './lib/project.ts';
import { projectWithCanaries } from './lib/setup.ts';

afterAll(removeProjects);

const PROCESSES = scale(8, 16);
const TASKS = scale(100, 300);

describe(`concurrency: ${PROCESSES} processes x ${TASKS} tasks with an operator looping status / scan / history`, () => {
  it('loses nothing, counts nothing twice, and decides each canary at most once', { timeout: scale(240_000, 1_200_000) }, async () => {
    // alpha: a clearly worse canary (rolled back); beta: an equal one (may be promoted);
    // gamma: a 2 % canary that stays below min_canary_tasks (its counts are checked in status).
    const project = await projectWithCanaries({ alpha: 50, beta: 50, gamma: 2 }, `canary:\n  min_canary_tasks: ${scale(50, 100)}\n`);
    const started = Date.now();

    let workersDone = false;
    const operator = operatorLoop(project, () => workersDone);
    const workers = Array.from({ length: PROCESSES }, (_, i) =>
      runNode(fixture('worker.mjs'), [project.dir, String(i), String(TASKS)], { timeoutMs: scale(200_000, 1_100_000) }),
    );
    const results = await Promise.all(workers).finally(() => {
      workersDone = true;
    });
    const op = await operator;
    const elapsed = Date.now() - started;

    const acked = new Map<string, boolean>();
    let retries = 0;
    let duplicatesRefused = 0;
    for (const r of results) {
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stderr, describeRun(r)).not.toMatch(STACK_FRAME);
      for (const line of r.stdout.split('\n')) {
        const ack = /^ack (\S+) ([01])$/.exec(line);
        if (ack) acked.set(ack[1]!, ack[2] === '1');
        const done = /^done (.*)$/.exec(line);
        if (done) {
          const stats = JSON.parse(done[1]!);
          retries += stats.retries;
          duplicatesRefused += stats.duplicatesRefused;
        }
      }
    }
    expect(acked.size).toBe(PROCESSES * TASKS);

    // Ledger: each acknowledged outcome exactly once, with the outcome that was sent.
    const ledger = ledgerFacts(project);
    expect(ledger.problems).toEqual([]);
    const missing = [...acked.keys()].filter((id) => !ledger.outcomes.has(id));
    expect(missing, 'acknowledged outcomes missing from the ledger').toEqual([]);
    const wrong = [...acked].filter(([id, passed]) => ledger.outcomes.get(id)![0]!.passed !== passed).map(([id]) => id);
    expect(wrong, 'outcomes recorded with the wrong result').toEqual([]);
    const extra = [...ledger.outcomes.keys()].filter((id) => !acked.has(id));
    expect(extra, 'outcomes nobody sent').toEqual([]);

    // Audit log: replays cleanly; alpha was rolled back exactly once.
    const audit = auditFacts(project);
    expect(audit.problems).toEqual([]);
    expect(await stateProblems(project, { audit })).toEqual([]);
    const decisions = audit.transitions.filter((e) => e.action === 'promote' || e.action === 'rollback' || e.action === 'step');
    const alphaDecisions = decisions.filter((e) => e.role === 'alpha');
    expect(alphaDecisions.map((e) => e.action)).toEqual(['rollback']);

    // Each automatic decision's evidence is the count of that canary's outcomes at some point of
    // the ledger: the decision saw a real, whole prefix of it.
    for (const decision of decisions.filter((e) => e.actor === 'auto')) {
      const counts = { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } };
      const target = { stable: pick(decision.evidence.stable), canary: pick(decision.evidence.canary) };
      let matched = JSON.stringify(counts) === JSON.stringify(target);
      for (const outcome of ledger.outcomeList) {
        if (outcome.canaryId !== decision.canaryId) continue;
        const arm = counts[outcome.arm as 'stable' | 'canary'];
        arm.tasks++;
        if (outcome.passed) arm.passed++;
        if (JSON.stringify(counts) === JSON.stringify(target)) matched = true;
      }
      expect(matched, `evidence of ${decision.action} ${decision.canaryId} ${JSON.stringify(target)} is not a ledger prefix`).toBe(true);
    }

    // Status (the bin) equals the ledger, role by role.
    const status = await runBin(project.dir, ['canary', 'status', '--json']);
    expect(status.code, describeRun(status)).toBe(0);
    expect(statusProblems(project, JSON.parse(status.stdout), ledger)).toEqual([]);
    expect(JSON.parse(status.stdout).roles.find((r: any) => r.role === 'gamma').canary, 'gamma canary still running').not.toBeNull();

    expect(op.failures, 'operator commands that failed').toEqual([]);
    console.info(
      `[reliability] concurrency: ${PROCESSES} processes x ${TASKS} tasks = ${acked.size} routed+recorded (${retries} retries, ${duplicatesRefused} duplicates refused) ` +
        `in ${(elapsed / 1000).toFixed(1)} s; operator ran ${op.runs} commands (${op.regressions} count regressions); ` +
        `${audit.transitions.length} transitions (${decisions.map((d) => `${d.role}:${d.action}`).join(', ')}); lost 0, duplicated 0`,
    );
    expect(op.regressions, 'status counts went backwards while a canary ran').toBe(0);
  });
});

function pick(arm: { tasks: number; passed: number }) {
  return { tasks: arm.tasks, passed: arm.passed };
}

/**
 * `canary status --json`, `versions scan --json` and `canary history --json` in a loop until told
 * to stop: each must succeed with parseable output, and a running canary's counts never go back.
 */
async function operatorLoop(project: Project, stop: () => boolean) {
  const failures: string[] = [];
  let runs = 0;
  let regressions = 0;
  const seen = new Map<string, { stable: number; canary: number }>();
  const commands = [['canary', 'status', '--json'], ['versions', 'scan', '--json'], ['canary', 'history', '--json']];
  for (let i = 0; !stop(); i++) {
    const args = commands[i % commands.length]!;
    const result = await runBin(project.dir, args, { timeoutMs: 120_000 });
    runs++;
    let parsed: any;
    try {
      parsed = JSON.parse(result.stdout);
    } catch {
      parsed = undefined;
    }
    if (result.code !== 0 || parsed === undefined || STACK_FRAME.test(result.stderr)) {
      failures.push(`${args.join(' ')}: ${describeRun(result)}`);
      continue;
    }
    if (args[1] === 'status') {
      for (const role of parsed.roles) {
        if (!role.canary) continue;
        const before = seen.get(role.canary.id);
        const now = { stable: role.canary.stable.tasks, canary: role.canary.canary.tasks };
        if (before && (now.stable < before.stable || now.canary < before.canary)) regressions++;
        seen.set(role.canary.id, now);
      }
    }
  }
  return { failures, runs, regressions };
}
