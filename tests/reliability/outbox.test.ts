/**
 * Reliability 6: the alert outbox. A `record` process SIGKILLed after its rollback committed,
 * while it was delivering the alert (the webhook holds the request open): the transition is
 * durable, the alert is still in the outbox, and the next command delivers it once, with the same
 * idempotency key; `history` shows it delivered.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { describe as describeRun, runBin, sleep, startBin } from './lib/proc.ts';
import { removeProjects, type Project } from './lib/project.ts';
import { binOk, projectWithCanaries } from './lib/setup.ts';

afterAll(removeProjects);

interface Hook {
  url: string;
  requests: Array<{ key: string | undefined; body: { eventId: string; event: string } }>;
  /** From now on, answer 200 at once (and answer what is held). */
  answer: () => void;
  close: () => Promise<void>;
}

async function holdingWebhook(): Promise<Hook> {
  const requests: Hook['requests'] = [];
  const held: ServerResponse[] = [];
  let answering = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      requests.push({ key: req.headers['idempotency-key'] as string | undefined, body: JSON.parse(text) });
      if (answering) res.writeHead(200).end('ok');
      else held.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    answer: () => {
      answering = true;
      for (const res of held.splice(0)) res.writeHead(200).end('ok');
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const config = (url: string) =>
  `canary:\n  min_canary_tasks: 10\n  policy: threshold\n  rollback_margin: 0.1\n  alerts:\n    webhook: "${url}"\n    timeout_ms: 5000\n`;

async function outcomesThatRollBack(project: Project): Promise<string> {
  const ids = Array.from({ length: 80 }, (_, i) => `t-${i}`);
  const routed = await binOk(project, ['canary', 'route', '--role', 'alpha', '--json', ...ids.flatMap((id) => ['--task', id])]);
  const arms = routed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { taskId: string; arm: string });
  const file = project.path('outcomes.ndjson');
  writeFileSync(file, `${arms.map((r) => JSON.stringify({ taskId: r.taskId, passed: r.arm === 'stable' })).join('\n')}\n`);
  return file;
}

const outbox = (project: Project) =>
  readFileSync(project.sdd('outbox.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; status?: string });

describe('alert outbox', () => {
  it('a process killed between its rollback and the alert delivery: the next command delivers the alert once', { timeout: 120_000 }, async () => {
    const hook = await holdingWebhook();
    try {
      const project = await projectWithCanaries({ alpha: 50 }, config(hook.url));
      const file = await outcomesThatRollBack(project);
      const record = startBin(project.dir, ['canary', 'record', '--from', file]);
      // The rollback is committed and its alert is on the wire, held by the webhook: kill now.
      for (let i = 0; i < 600 && hook.requests.length === 0; i++) await sleep(50);
      expect(hook.requests, `the webhook was never called\n${record.stderr()}`).toHaveLength(1);
      record.child.kill('SIGKILL');
      expect((await record.exited).signal).toBe('SIGKILL');
      const eventId = hook.requests[0]!.body.eventId;
      expect(hook.requests[0]!.key).toBe(eventId);

      // Durable: rolled back, and the alert still pending (claimed by the dead process until its lease ends).
      expect(project.state().roles.alpha.canary).toBeNull();
      expect(outbox(project).filter((l) => l.type === 'complete')).toEqual([]);

      hook.answer();
      // The dead holder's lease (2 x timeout_ms + 1 s) runs out; then any writing command delivers.
      await sleep(11_500);
      const next = await runBin(project.dir, ['canary', 'route', '--role', 'alpha', '--task', 'after-kill'], { timeoutMs: 60_000 });
      expect(next.code, describeRun(next)).toBe(0);
      expect(hook.requests).toHaveLength(2);
      expect(hook.requests[1]!.key).toBe(eventId);
      expect(hook.requests[1]!.body).toMatchObject({ eventId, event: 'rollback' });

      // Once: later commands send nothing more; history shows the delivery.
      await binOk(project, ['canary', 'route', '--role', 'alpha', '--task', 'later']);
      expect(hook.requests).toHaveLength(2);
      const history = JSON.parse((await binOk(project, ['canary', 'history', '--json'])).stdout) as { events: Array<{ action: string }> };
      expect(history.events.filter((e) => e.action === 'rollback')).toHaveLength(1);
      expect(history.events.filter((e) => e.action === 'alert-delivered')).toHaveLength(1);
      expect(outbox(project).filter((l) => l.type === 'complete').map((l) => l.status)).toEqual(['delivered']);
    } finally {
      await hook.close();
    }
  });
});
