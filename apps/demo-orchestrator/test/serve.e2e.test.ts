import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, checkLedgerConsistency, demoCli, readLedger, startNode } from './helpers.js';

const SCENARIO = `version: 1
name: serve
canary: { canary_percentage: 0 }
roles:
  backend: { model: m, passProbability: 0.9 }
phases:
  - name: short
    title: A short queue
    tasks: 12
    mix: { backend: 1 }
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('pnpm demo --serve', () => {
  let dir: string | undefined;
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the story behind bernstein serve, prints the dashboard URL, and serves until Ctrl-C', async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'bernstein-demo-serve-'));
    const workspace = join(dir, 'ws');
    writeFileSync(join(dir, 'scenario.yaml'), SCENARIO);
    const port = await freePort();
    const { child, done } = startNode([demoCli, '--dir', workspace, '--scenario', join(dir, 'scenario.yaml'), '--serve', String(port), '--no-report']);
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    let exited = false;
    void done.then(() => (exited = true));
    while (!stdout.includes('stays up') && !exited) await new Promise((r) => setTimeout(r, 100));
    expect(exited, stdout).toBe(false);
    const url = `http://127.0.0.1:${port}`;
    expect(stdout).toContain(`live dashboard: ${url}/`);

    const status = (await (await fetch(`${url}/v1/status`)).json()) as { roles: Array<{ role: string; stableVersion: string | null; stableOutcomes: { tasks: number } }> };
    const backend = status.roles.find((r) => r.role === 'backend')!;
    expect(backend.stableVersion).toMatch(/^[0-9a-f]{12}$/);
    expect(backend.stableOutcomes.tasks).toBe(12);
    expect((await fetch(`${url}/`)).status).toBe(200);

    child.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('bernstein serve: stopped');
    const { assigned, outcomes } = checkLedgerConsistency(readLedger(workspace));
    expect(outcomes.size).toBe(assigned.size);
  }, 180_000);
});
