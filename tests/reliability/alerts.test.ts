/**
 * Reliability 5: alert faults. A rollback decided while the webhook refuses connections, never
 * answers, or answers 500 (a local node:http server), and while the alert command fails or hangs:
 * the transition is durable (state + audit log), the CLI returns within a bounded wait
 * (alerts.timeout_ms: 1000), and an 'alert-failed' event is in the audit log.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { auditFacts, stateProblems } from './lib/invariants.ts';
import { describe as describeRun, runBin, STACK_FRAME } from './lib/proc.ts';
import { removeProjects, type Project } from './lib/project.ts';
import { binOk, projectWithCanaries } from './lib/setup.ts';

afterAll(removeProjects);

type Behaviour = 'refuse' | 'hang' | '500' | 'ok';

async function webhook(behaviour: Behaviour): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    hits++;
    req.resume();
    if (behaviour === 'hang') return; // never answers
    res.writeHead(behaviour === '500' ? 500 : 200, { 'content-type': 'text/plain' }).end(behaviour === '500' ? 'boom' : 'ok');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  if (behaviour === 'refuse') await close(); // the port is now closed: connections are refused
  return { url: `http://127.0.0.1:${port}/hook`, hits: () => hits, close: behaviour === 'refuse' ? async () => undefined : close };
}

const config = (alerts: string) => `canary:\n  min_canary_tasks: 10\n  policy: threshold\n  rollback_margin: 0.1\n  alerts:\n    timeout_ms: 1000\n${alerts}`;

/** A canary that every recorded outcome makes worse: the record of the last batch rolls it back. */
async function canaryAboutToRollBack(project: Project): Promise<string> {
  const ids = Array.from({ length: 80 }, (_, i) => `t-${i}`);
  const routed = await binOk(project, ['canary', 'route', '--role', 'alpha', '--json', ...ids.flatMap((id) => ['--task', id])]);
  const arms = routed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { taskId: string; arm: string });
  const lines = arms.map((r) => JSON.stringify({ taskId: r.taskId, passed: r.arm === 'stable' }));
  const file = project.path('outcomes.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('alert faults: the transition stands, the CLI returns, the failure is audited', () => {
  for (const behaviour of ['refuse', 'hang', '500'] as const) {
    it(`webhook that ${behaviour === 'refuse' ? 'refuses connections' : behaviour === 'hang' ? 'never answers' : 'answers 500'}`, { timeout: 90_000 }, async () => {
      const hook = await webhook(behaviour);
      try {
        const project = await projectWithCanaries({ alpha: 50 }, config(`    webhook: "${hook.url}"\n`));
        const canaryId = project.state().roles.alpha.canary.id;
        const file = await canaryAboutToRollBack(project);
        const record = await runBin(project.dir, ['canary', 'record', '--from', file], { timeoutMs: 30_000 });
        expect(record.code, describeRun(record)).toBe(0);
        expect(record.stderr).not.toMatch(STACK_FRAME);
        expect(record.stderr, describeRun(record)).toMatch(/ALERT: .*rolled back/);
        expect(record.stderr, describeRun(record)).toMatch(/warning: webhook alert failed/);
        // Durable: the state and the audit log say rolled back, once.
        const state = project.state();
        expect(state.roles.alpha.canary).toBeNull();
        const audit = auditFacts(project);
        expect(audit.transitions.filter((e) => e.canaryId === canaryId && e.action === 'rollback')).toHaveLength(1);
        expect(audit.alertFailures.filter((e) => e.canaryId === canaryId).map((e) => e.evidence.channel)).toEqual(['webhook']);
        expect(await stateProblems(project, { audit })).toEqual([]);
        const history = await binOk(project, ['canary', 'history', '--json']);
        expect(JSON.parse(history.stdout).events.some((e: any) => e.action === 'alert-failed')).toBe(true);
        if (behaviour !== 'refuse') expect(hook.hits()).toBeGreaterThan(0);
        console.info(`[reliability] alerts: webhook ${behaviour}: record with a rollback returned in ${record.ms} ms (timeout_ms 1000)`);
      } finally {
        await hook.close();
      }
    });
  }

  for (const [name, command] of [
    ['an alert command that fails', 'exit 3'],
    ['an alert command that hangs', 'sleep 30'],
  ] as const) {
    it(name, { timeout: 90_000 }, async () => {
      const project = await projectWithCanaries({ alpha: 50 }, config(`    command: "${command}"\n`));
      const file = await canaryAboutToRollBack(project);
      const record = await runBin(project.dir, ['canary', 'record', '--from', file], { timeoutMs: 30_000 });
      expect(record.code, describeRun(record)).toBe(0);
      expect(record.stderr).not.toMatch(STACK_FRAME);
      expect(project.state().roles.alpha.canary).toBeNull();
      const audit = auditFacts(project);
      expect(audit.alertFailures.map((e) => e.evidence.channel)).toEqual(['command']);
      expect(await stateProblems(project, { audit })).toEqual([]);
      console.info(`[reliability] alerts: command "${command}": record with a rollback returned in ${record.ms} ms`);
    });
  }

  it('a manual rollback (`config canary --rollback`) alerts too: a failing webhook is audited', { timeout: 60_000 }, async () => {
    const hook = await webhook('500');
    try {
      const project = await projectWithCanaries({ alpha: 50 }, config(`    webhook: "${hook.url}"\n`));
      const rollback = await runBin(project.dir, ['config', 'canary', '--rollback', '--role', 'alpha', '--reason', 'bad reviews'], { timeoutMs: 30_000 });
      expect(rollback.code, describeRun(rollback)).toBe(0);
      expect(project.state().roles.alpha.canary).toBeNull();
      expect(hook.hits(), 'the webhook was never called for a manual rollback (SPEC: alerts on rollback and on promotion)').toBeGreaterThan(0);
      expect(auditFacts(project).alertFailures).toHaveLength(1);
    } finally {
      await hook.close();
    }
  });
});
