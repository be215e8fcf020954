/**
 * Issue 2: every package packs with `pnpm pack` (workspace:^ rewritten to real ranges), installs
 * with plain `npm install` in a project OUTSIDE the workspace, and works there: each library
 * imports and answers, and the installed `bernstein` bin runs.
 *
 * Needs the npm registry for third-party dependencies; skipped (with the reason) only when the
 * registry cannot be reached.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from './helpers/paths.ts';
import { makeProject, removeProjects } from './helpers/project.ts';

const exec = promisify(execFile);

// npm install and real processes: generous limits (a hang still fails).
vi.setConfig({ testTimeout: 120_000 });

const PACKAGES = ['@bernstein/store', '@bernstein/prompt-versions', '@bernstein/canary-router', '@bernstein/quality-compare', '@bernstein/rollout', '@bernstein/store-file', '@bernstein/store-postgres', '@bernstein/server', '@bernstein/canary-cli'] as const;

async function registryReachable(): Promise<string | null> {
  try {
    await exec('npm', ['ping', '--fetch-retries=0'], { timeout: 15_000, cwd: tmpdir() });
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0] ?? 'npm ping failed';
  }
}

const work = mkdtempSync(join(tmpdir(), 'bernstein-pack-'));
const tarballDir = join(work, 'tarballs');
const consumer = join(work, 'consumer');

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  removeProjects();
});

describe('packed packages, installed outside the workspace', () => {
  let unreachable: string | null = null;
  const tarballs = new Map<string, string>();

  beforeAll(async () => {
    unreachable = await registryReachable();
    if (unreachable) {
      console.warn(`SKIPPING the pack/install test: the npm registry is unreachable (${unreachable})`);
      return;
    }
    for (const name of PACKAGES) {
      const { stdout } = await exec('pnpm', ['--filter', name, 'pack', '--pack-destination', tarballDir], { cwd: REPO_ROOT, timeout: 120_000 });
      const file = stdout
        .split('\n')
        .map((line) => line.trim())
        .find((line) => line.endsWith('.tgz'));
      if (!file) throw new Error(`pnpm pack of ${name} printed no tarball:\n${stdout}`);
      tarballs.set(name, file.startsWith('/') ? file : join(tarballDir, file));
    }
    rmSync(consumer, { recursive: true, force: true });
    await exec('mkdir', ['-p', consumer]);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs.values()], {
      cwd: consumer,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  }, 420_000);

  it('packs each package with dist/, types, a publish exports map and no workspace: ranges', async (ctx) => {
    if (unreachable) ctx.skip(`npm registry unreachable (${unreachable}); cannot install packed packages`);
    for (const [name, tarball] of tarballs) {
      const { stdout: listing } = await exec('tar', ['-tzf', tarball]);
      expect(listing, name).toContain('package/dist/index.js');
      expect(listing, name).toContain('package/dist/index.d.ts');
      expect(listing, name).not.toMatch(/package\/src\//);
      const { stdout: manifestText } = await exec('tar', ['-xzOf', tarball, 'package/package.json']);
      expect(manifestText, name).not.toContain('workspace:');
      const manifest = JSON.parse(manifestText) as { exports: Record<string, Record<string, string>>; dependencies?: Record<string, string> };
      expect(manifest.exports['.'], name).toMatchObject({ types: './dist/index.d.ts', import: './dist/index.js' });
      // The `source` condition points at src/, which is not packed.
      expect(manifest.exports['.']!.source, name).toBeUndefined();
      for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
        if (dep.startsWith('@bernstein/')) expect(range, `${name} -> ${dep}`).toMatch(/^[\^~]?\d+\.\d+\.\d+/);
      }
    }
  });

  it('imports each installed library from the outside project and calls it', async (ctx) => {
    if (unreachable) ctx.skip(`npm registry unreachable (${unreachable}); cannot install packed packages`);
    const checks: Record<string, string> = {
      '@bernstein/store': "m => { const p = m.projectPaths('/srv/app'); if (!p.registry.endsWith('/.sdd/config/prompt_versions.json')) throw new Error(p.registry); return p.registry; }",
      '@bernstein/prompt-versions': "m => { const h = m.hashBundle({ role: 'r', files: { 'a.md': 'x' }, model: {} }); if (h.hash.slice(0, 12) !== h.id) throw new Error('id'); return h.id; }",
      '@bernstein/canary-router': "m => { const b = m.bucket('task-1', 'abcdefabcdef'); if (!(b >= 0 && b < 100)) throw new Error(String(b)); return b; }",
      '@bernstein/quality-compare': "m => { const i = m.jeffreysInterval(5, 10); if (!(i[0] > 0 && i[0] < 0.5 && i[1] > 0.5 && i[1] < 1)) throw new Error(String(i)); return i; }",
      '@bernstein/rollout': "m => { const k = m.aggregateKey({ canaryId: null, role: 'backend' }); if (k !== 'role:backend') throw new Error(k); return k; }",
      '@bernstein/store-file': "m => { if (typeof m.openFileStore !== 'function') throw new Error('no openFileStore'); return 'ok'; }",
      '@bernstein/store-postgres': "m => { const l = m.selectStore({ flag: 'postgres://u:p@127.0.0.1:5432/db', env: {} }); if (l.kind !== 'postgres') throw new Error(l.kind); return m.redactUrl('postgres://u:p@127.0.0.1:5432/db'); }",
      '@bernstein/server': "m => { const doc = m.buildOpenApiDocument(m.ROUTES, 'packed'); if (doc.openapi !== '3.1.0') throw new Error(doc.openapi); return Object.keys(doc.paths).length; }",
      '@bernstein/canary-cli': "m => { if (typeof m.run !== 'function') throw new Error('no run'); return typeof m.run; }",
    };
    for (const [name, check] of Object.entries(checks)) {
      const { stdout } = await exec(process.execPath, ['-e', `import(${JSON.stringify(name)}).then(${check}).then(v => console.log(JSON.stringify(v)))`], { cwd: consumer });
      expect(stdout.trim(), name).not.toBe('');
    }
    // Resolved from the consumer's node_modules, not from the workspace.
    for (const name of PACKAGES) {
      const { stdout: where } = await exec(process.execPath, ['--input-type=module', '-e', `console.log(import.meta.resolve(${JSON.stringify(name)}))`], { cwd: consumer });
      expect(where.trim(), name).toMatch(new RegExp(`^file://${consumer}/node_modules/${name}/dist/`));
    }

    // The installed libraries together: route a task in a project of their own.
    const project = makeProject({ roles: { backend: { files: { 'system_prompt.md': 'hello\n' }, model: { default_model: 'sonnet' } } } });
    const script = `
      const { routeTasks } = await import('@bernstein/rollout');
      const { openFileRollout } = await import('@bernstein/store-file');
      const [r] = await routeTasks(openFileRollout(${JSON.stringify(project.dir)}), 'backend', ['T-1']);
      console.log(JSON.stringify(r));`;
    writeFileSync(join(consumer, 'route.mjs'), script);
    const { stdout: routed } = await exec(process.execPath, ['route.mjs'], { cwd: consumer });
    expect(JSON.parse(routed)).toMatchObject({ taskId: 'T-1', arm: 'stable', model: { default_model: 'sonnet' }, files: { 'system_prompt.md': 'hello\n' } });
  });

  it('runs the installed `bernstein` bin: --help, and real commands on a project', async (ctx) => {
    if (unreachable) ctx.skip(`npm registry unreachable (${unreachable}); cannot install packed packages`);
    const bin = join(consumer, 'node_modules', '.bin', 'bernstein');
    const help = await exec(bin, ['--help'], { cwd: consumer });
    expect(help.stdout).toMatch(/Usage: bernstein/);
    for (const command of ['versions', 'config', 'canary', 'serve']) expect(help.stdout).toContain(command);

    const project = makeProject({ roles: { backend: { files: { 'system_prompt.md': 'hello\n' }, model: { default_model: 'sonnet' } } } });
    const scan = await exec(bin, ['versions', 'scan', '--json', '--dir', project.dir], { cwd: consumer });
    const versions = (JSON.parse(scan.stdout) as { versions: Array<{ role: string; id: string; new: boolean }> }).versions;
    expect(versions).toEqual([expect.objectContaining({ role: 'backend', id: expect.stringMatching(/^[0-9a-f]{12}$/), new: true })]);
    const route = await exec(bin, ['canary', 'route', '--role', 'backend', '--task', 'T-1', '--json', '--dir', project.dir], { cwd: consumer });
    expect(JSON.parse(route.stdout)).toMatchObject({ taskId: 'T-1', arm: 'stable', versionId: versions[0]!.id });
    const status = await exec(bin, ['canary', 'status', '--json', '--dir', project.dir], { cwd: consumer });
    expect(JSON.parse(status.stdout).roles[0]).toMatchObject({ role: 'backend', stableVersion: versions[0]!.id, canary: null });
    expect(readFileSync(project.files.registry, 'utf8')).toContain(versions[0]!.id);
  });
});
