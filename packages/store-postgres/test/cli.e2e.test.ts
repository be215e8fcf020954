import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../src/schema.ts';
import { TEST_DB_PASSWORD } from '../src/testing/pg-server.ts';
import { skipWithoutPostgres, useServer } from './fixture.ts';
import { editPrompt, makeTemplateTree } from './fleet-helpers.ts';

/** The built `bernstein` bin, run as a user would (run `pnpm build` first). */
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../canary-cli/dist/bin/bin.js');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bernstein(args: readonly string[], env: Record<string, string> = {}, input = ''): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1', BERNSTEIN_DEBUG: '', BERNSTEIN_STORE_URL: '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const ok = (r: Result): Result => {
  expect(r.code, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
  return r;
};

const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe.skipIf(skipWithoutPostgres)('the bernstein bin on PostgreSQL', () => {
  const server = useServer();

  it('store migrate: created once, then up to date; other commands refuse a database without the schema; no password in any output', async () => {
    const url = await server().createDatabase();
    const tree = await makeTemplateTree('');
    try {
      const refused = await bernstein(['--dir', tree.dir, '--store', url, 'canary', 'status']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toMatch(/has no bernstein schema yet: run `bernstein store migrate`/);
      const created = ok(await bernstein(['--dir', tree.dir, '--store', url, 'store', 'migrate']));
      expect(created.stdout).toMatch(new RegExp(`schema created \\(version ${SCHEMA_VERSION}\\)`));
      const again = ok(await bernstein(['--dir', tree.dir, '--json', 'store', 'migrate'], { BERNSTEIN_STORE_URL: url }));
      expect(JSON.parse(again.stdout)).toMatchObject({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
      // store.url with ${NAME}: the password comes from the environment.
      const templated = url.replace(encodeURIComponent(TEST_DB_PASSWORD), '${FLEET_PASSWORD}');
      await writeFile(join(tree.dir, '.sdd', 'config.yaml'), `store:\n  url: "${templated}"\n`);
      ok(await bernstein(['--dir', tree.dir, 'versions', 'scan'], { FLEET_PASSWORD: TEST_DB_PASSWORD }));
      const unset = await bernstein(['--dir', tree.dir, 'versions', 'scan']);
      expect(unset.stderr).toMatch(/store\.url references \$\{FLEET_PASSWORD\}, but the environment variable FLEET_PASSWORD is not set/);
      const wrong = await bernstein(['--dir', tree.dir, 'canary', 'status'], { FLEET_PASSWORD: 'not-the-password' });
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(/password authentication failed/);
      for (const r of [refused, created, again, unset, wrong]) {
        expect(r.stdout + r.stderr).not.toContain(TEST_DB_PASSWORD);
        expect(r.stdout + r.stderr).not.toContain(encodeURIComponent(TEST_DB_PASSWORD));
        expect(r.stdout + r.stderr).not.toContain('not-the-password');
      }
    } finally {
      await tree.cleanup();
    }
  });

  it('a stale host serves the fleet\'s stable and warns once; nothing is released or canaried', async () => {
    const url = await server().createDatabase();
    const tree = await makeTemplateTree('canary:\n  canary_percentage: 0\n');
    try {
      ok(await bernstein(['--store', url, 'store', 'migrate']));
      const hostA = await tree.copy('host-a');
      const hostB = await tree.copy('host-b');
      ok(await bernstein(['--dir', hostA, '--store', url, 'canary', 'route', '--role', 'backend', '--task', 'A-1']));
      // Host A pulls a new prompt and routes: released directly (canary_percentage 0).
      await editPrompt(hostA, 'backend', 'You are the backend agent. Version 2.\n');
      const released = lines(ok(await bernstein(['--dir', hostA, '--store', url, '--json', 'canary', 'route', '--role', 'backend', '--task', 'A-2'])).stdout);
      const v2 = released[0]!.versionId;
      const historyBefore = JSON.parse(ok(await bernstein(['--dir', hostA, '--store', url, '--json', 'canary', 'history'])).stdout);
      expect(historyBefore.events.map((e: { action: string }) => e.action)).toEqual(['init', 'release']);

      // Host B still has version 1 on disk, which the role had as stable before.
      const routedB = await bernstein(['--dir', hostB, '--store', url, '--json', 'canary', 'route', '--role', 'backend', '--task', 'B-1', '--task', 'B-2']);
      ok(routedB);
      expect(lines(routedB.stdout).map((r) => r.versionId)).toEqual([v2, v2]);
      const warnings = routedB.stderr.split('\n').filter((l) => /behind/.test(l));
      expect(warnings).toHaveLength(1);
      const historyAfter = JSON.parse(ok(await bernstein(['--dir', hostB, '--store', url, '--json', 'canary', 'history'])).stdout);
      expect(historyAfter.events).toEqual(historyBefore.events);
      const status = JSON.parse(ok(await bernstein(['--dir', hostB, '--store', url, '--json', 'canary', 'status'])).stdout);
      expect(status.roles.find((r: { role: string }) => r.role === 'backend')).toMatchObject({ stableVersion: v2, canary: null });

      // With automatic canaries on, the stale bundle starts none either.
      await writeFile(join(hostB, '.sdd', 'config.yaml'), 'canary:\n  canary_percentage: 20\n');
      ok(await bernstein(['--dir', hostB, '--store', url, 'canary', 'route', '--role', 'backend', '--task', 'B-3']));
      const historyLater = JSON.parse(ok(await bernstein(['--dir', hostB, '--store', url, '--json', 'canary', 'history'])).stdout);
      expect(historyLater.events).toEqual(historyBefore.events);
      // A never-seen bundle still starts a canary.
      await editPrompt(hostB, 'backend', 'You are the backend agent. Version 3.\n');
      ok(await bernstein(['--dir', hostB, '--store', url, 'canary', 'route', '--role', 'backend', '--task', 'B-4']));
      const historyNew = JSON.parse(ok(await bernstein(['--dir', hostB, '--store', url, '--json', 'canary', 'history'])).stdout);
      expect(historyNew.events.map((e: { action: string }) => e.action)).toEqual(['init', 'release', 'start']);
    } finally {
      await tree.cleanup();
    }
  });

  it('export writes a snapshot the file-backed CLI opens with the same status and history; import of it is idempotent and refuses another history', async () => {
    const url = await server().createDatabase();
    const tree = await makeTemplateTree('canary:\n  canary_percentage: 50\n  min_canary_tasks: 5\n');
    const out = await mkdtemp(join(tmpdir(), 'bernstein-export-'));
    try {
      ok(await bernstein(['--store', url, 'store', 'migrate']));
      const host = await tree.copy('host');
      ok(await bernstein(['--dir', host, '--store', url, 'canary', 'route', '--role', 'backend', '--task', 'T-0']));
      await editPrompt(host, 'backend', 'You are the backend agent. Version 2.\n');
      const ids = Array.from({ length: 40 }, (_, i) => `T-${i + 1}`);
      const routed = lines(ok(await bernstein(['--dir', host, '--store', url, '--json', 'canary', 'route', '--role', 'backend', ...ids.flatMap((id) => ['--task', id])])).stdout);
      const ndjson = routed.map((r, i) => JSON.stringify({ taskId: r.taskId, passed: r.arm === 'stable' ? i % 10 !== 0 : i % 3 === 0, costUsd: i / 100 })).join('\n');
      ok(await bernstein(['--dir', host, '--store', url, 'canary', 'record', '--from', '-'], {}, ndjson));

      const pgStatus = ok(await bernstein(['--dir', host, '--store', url, '--json', 'canary', 'status'])).stdout;
      const pgHistory = ok(await bernstein(['--dir', host, '--store', url, '--json', 'canary', 'history'])).stdout;
      const pgVersions = ok(await bernstein(['--dir', host, '--store', url, '--json', 'versions', 'list'])).stdout;

      const exported = ok(await bernstein(['--dir', host, '--store', url, 'store', 'export', '--to', out]));
      expect(exported.stdout).toMatch(/exported .* 1 roles, 2 versions, 81 ledger records/);
      expect(existsSync(join(out, '.sdd', 'ledger.jsonl'))).toBe(true);
      expect(ok(await bernstein(['--dir', out, '--json', 'canary', 'history'])).stdout).toBe(pgHistory);
      expect(ok(await bernstein(['--dir', out, '--json', 'versions', 'list'])).stdout).toBe(pgVersions);
      // The same routing state; `disk` describes --dir's templates, which a snapshot does not carry.
      const withoutDisk = (text: string) => (JSON.parse(text) as { roles: Array<Record<string, unknown>> }).roles.map(({ disk: _disk, ...role }) => role);
      const fileStatus = ok(await bernstein(['--dir', out, '--json', 'canary', 'status'])).stdout;
      expect(withoutDisk(fileStatus)).toEqual(withoutDisk(pgStatus));
      expect(withoutDisk(fileStatus)).not.toEqual([]);
      // Exporting over a project is refused and writes nothing.
      const ledgerBytes = await readFile(join(out, '.sdd', 'ledger.jsonl'));
      const over = await bernstein(['--dir', host, '--store', url, 'store', 'export', '--to', out]);
      expect(over.code).not.toBe(0);
      expect(over.stderr).toMatch(/already holds a project/);
      expect(await readFile(join(out, '.sdd', 'ledger.jsonl'))).toEqual(ledgerBytes);

      // The snapshot imported into a fresh database, twice: the second run copies nothing.
      const fresh = await server().createDatabase();
      ok(await bernstein(['--store', fresh, 'store', 'migrate']));
      const imported = ok(await bernstein(['--dir', out, '--store', fresh, 'store', 'import']));
      expect(imported.stdout).toMatch(/imported backend from .* 2 versions, 41 assignments, 40 outcomes/);
      expect(ok(await bernstein(['--dir', out, '--store', fresh, '--json', 'canary', 'history'])).stdout).toBe(pgHistory);
      const twice = ok(await bernstein(['--dir', out, '--store', fresh, 'store', 'import']));
      expect(twice.stdout).toMatch(/nothing to copy/);
      // Another project with the same role: refused, nothing written.
      const other = await tree.copy('other');
      ok(await bernstein(['--dir', other, 'canary', 'route', '--role', 'backend', '--task', 'X-1']));
      const refused = await bernstein(['--dir', other, '--store', fresh, 'store', 'import']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/already holds a different history for role "backend"/);
      expect(ok(await bernstein(['--dir', out, '--store', fresh, '--json', 'canary', 'history'])).stdout).toBe(pgHistory);
    } finally {
      await tree.cleanup();
      await rm(out, { recursive: true, force: true });
    }
  });
});
