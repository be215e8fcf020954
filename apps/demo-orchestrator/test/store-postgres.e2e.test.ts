import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { havePostgres, startPgServer, TEST_DB_PASSWORD, type PgServer } from '@bernstein/store-postgres/testing';
import { assertBuilt, bernsteinBin, demoCli, runNode, type RunResult } from './helpers.js';

/**
 * `pnpm demo --store <url>`: the default story on PostgreSQL, against a real server started here
 * (initdb + pg_ctl into a temporary directory). The workspace keeps only its templates and
 * config; the whole state is in the database, where `bernstein --store <url>` reads it back.
 * Under CI=true this never skips: a missing PostgreSQL fails it.
 */

interface HistoryEvent {
  role: string;
  action: string;
  from: string | null;
  to: string | null;
  actor: string;
  evidence: { stable?: { tasks: number; passed: number }; canary?: { tasks: number; passed: number } } | null;
}

const skip = !havePostgres() && process.env.CI !== 'true';
if (skip) console.warn('SKIPPED: the demo on PostgreSQL needs initdb and pg_ctl (Debian: apt-get install postgresql).');

describe.skipIf(skip)('the demo on PostgreSQL (--store)', () => {
  let server: PgServer;
  let url: string;
  let dir: string;
  let workspace: string;
  let run: RunResult;
  let events: HistoryEvent[];

  beforeAll(async () => {
    assertBuilt();
    server = await startPgServer();
    url = await server.createDatabase('demo');
    dir = mkdtempSync(join(tmpdir(), 'bernstein-demo-pg-'));
    workspace = join(dir, 'demo-workspace');
    const migrated = await runNode([bernsteinBin, 'store', 'migrate', '--store', url]);
    expect(migrated.code, migrated.stderr).toBe(0);
    run = await runNode([demoCli, '--dir', workspace, '--store', url, '--json']);
    const history = await runNode([bernsteinBin, '--store', url, 'canary', 'history', '--dir', workspace, '--json']);
    expect(history.code, history.stderr).toBe(0);
    events = (JSON.parse(history.stdout) as { events: HistoryEvent[] }).events;
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the whole story and exits 0, with the rollback and the promotion it prints', () => {
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(run.stdout) as { ok: boolean; store: string | null; phases: Array<{ name: string; outcome: string; decision: { action: string } | null }>; alerts: number };
    expect(result.ok).toBe(true);
    expect(result.phases.map((p) => [p.name, p.outcome, p.decision?.action ?? null])).toEqual([
      ['baseline', 'done', null],
      ['backend-prompt-edit', 'as-expected', 'rollback'],
      ['qa-model-change', 'as-expected', 'promote'],
    ]);
    expect(result.alerts).toBe(2);
    expect(run.stderr).toMatch(/backend: canary \w+ ROLLED BACK/);
    // Reaching 100 % is the promotion: the ramp 5 -> 25 -> 50 promotes where the next step would be 100.
    expect(run.stderr).toMatch(/qa: canary \w+ PROMOTED at 50 %/);
    // The store is named without its password, in the summary and everywhere else.
    expect(result.store).toMatch(/^postgres:\/\/bernstein:\*\*\*@127\.0\.0\.1:\d+\/demo$/);
    expect(run.stdout + run.stderr).not.toContain(TEST_DB_PASSWORD);
  });

  it('keeps the state in the database, not in the workspace', () => {
    expect(readdirSync(join(workspace, '.sdd'))).toEqual(['config.yaml']);
    expect(existsSync(join(workspace, '.sdd', 'ledger.jsonl'))).toBe(false);
  });

  it('bernstein --store <url> canary history shows the automatic rollback and promotion with their evidence', () => {
    const rollback = events.find((e) => e.role === 'backend' && e.action === 'rollback');
    const start = events.find((e) => e.role === 'backend' && e.action === 'start');
    expect(rollback).toMatchObject({ actor: 'auto', from: start!.to });
    expect(rollback!.evidence!.canary!.passed / rollback!.evidence!.canary!.tasks).toBeLessThan(rollback!.evidence!.stable!.passed / rollback!.evidence!.stable!.tasks);
    const qa = events.filter((e) => e.role === 'qa' && ['start', 'step', 'promote'].includes(e.action)).map((e) => e.action);
    expect(qa).toEqual(['start', 'step', 'step', 'promote']);
    expect(events.find((e) => e.role === 'qa' && e.action === 'promote')).toMatchObject({ actor: 'auto' });
  });

  it('refuses to start a fresh story on a database that already holds one, with one line', async () => {
    const again = await runNode([demoCli, '--dir', join(dir, 'another'), '--store', url]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toMatch(/^error: postgres:\/\/bernstein:\*\*\*@127\.0\.0\.1:\d+\/demo already holds a project \(roles backend, docs, qa\)/);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
  }, 120_000);
});
