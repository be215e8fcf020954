import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openPostgresStore } from '../src/index.ts';
import { TEST_DB_PASSWORD } from '../src/testing/pg-server.ts';
import { skipWithoutPostgres, useServer } from './fixture.ts';
import { ledgerOf, makeTemplateTree } from './fleet-helpers.ts';

/** The built `bernstein` bin, run as a user would (run `pnpm build` first). */
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../canary-cli/dist/bin/bin.js');
const env = { ...process.env, NO_COLOR: '1', BERNSTEIN_DEBUG: '', BERNSTEIN_STORE_URL: '' };

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

describe.skipIf(skipWithoutPostgres)('bernstein serve --store postgres://', () => {
  const server = useServer();

  it('routes over OFREP and records an outcome in the shared database, then drains on SIGTERM', async () => {
    const url = await server().createDatabase();
    const tree = await makeTemplateTree('');
    try {
      const migrated = await run(['--dir', tree.dir, '--store', url, 'store', 'migrate']);
      expect(migrated.code, migrated.stderr).toBe(0);

      const child = spawn(process.execPath, [BIN, '--dir', tree.dir, '--json', 'serve', '--port', '0', '--store', url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      const base = await new Promise<string>((done, reject) => {
        let stdout = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d;
          const newline = stdout.indexOf('\n');
          if (newline >= 0) done((JSON.parse(stdout.slice(0, newline)) as { url: string }).url);
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code} before listening\nstderr: ${stderr}`)));
      });
      try {
        const routed = await post(`${base}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: 'pg-serve-1' } });
        expect(routed.status, JSON.stringify(routed.body)).toBe(200);
        expect(routed.body.variant).toBe('stable');
        const recorded = await post(`${base}/v1/outcomes`, [{ taskId: 'pg-serve-1', passed: true }]);
        expect(recorded.status, JSON.stringify(recorded.body)).toBe(200);
        expect(recorded.body.results.map((r: { status: string }) => r.status)).toEqual(['recorded']);
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited, stderr).toBe(0);
      expect(stderr).toContain('postgres:');
      expect(stderr).not.toContain(TEST_DB_PASSWORD);
      // The assignment and the outcome are rows of the database, not files under .sdd/.
      const store = await openPostgresStore(url, { root: tree.dir });
      try {
        const ledger = await ledgerOf(store);
        expect(ledger.filter((r) => r.taskId === 'pg-serve-1').map((r) => r.type)).toEqual(['assign', 'outcome']);
      } finally {
        await store.close();
      }
    } finally {
      await tree.cleanup();
    }
  });
});
