import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrateSchema, schemaVersionOf } from '../src/migrate.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/schema.ts';
import { openPostgresStore } from '../src/store.ts';
import { skipWithoutPostgres, useServer } from './fixture.ts';

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe.skipIf(skipWithoutPostgres)('schema migrations', () => {
  const server = useServer();

  it('creates the schema once: a second run applies nothing', async () => {
    const url = await server().createDatabase();
    const first = await withClient(url, (c) => migrateSchema(c));
    expect(first).toEqual({ from: 0, to: SCHEMA_VERSION, applied: MIGRATIONS.map((m) => ({ version: m.version, name: m.name })) });
    const second = await withClient(url, (c) => migrateSchema(c));
    expect(second).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
    expect(await withClient(url, (c) => schemaVersionOf(c))).toBe(SCHEMA_VERSION);
  });

  it('is safe from several hosts at once: exactly one applies each migration', async () => {
    const url = await server().createDatabase();
    const results = await Promise.all(Array.from({ length: 6 }, () => withClient(url, (c) => migrateSchema(c))));
    expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
    const rows = await withClient(url, async (c) => (await c.query('SELECT version FROM bernstein.schema_migrations ORDER BY version')).rows);
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
  });

  it('every other use refuses a database without the schema, or with an older or a newer one, in one line saying what to run', async () => {
    const url = await server().createDatabase();
    const shown = url.replace(/:[^:@/]+@/, ':***@');
    await expect(openPostgresStore(url, { root: '/nonexistent' })).rejects.toThrow(`${shown} has no bernstein schema yet: run \`bernstein store migrate\``);

    const next = { version: SCHEMA_VERSION + 1, name: 'a later release', sql: 'CREATE TABLE bernstein.later (n int)' };
    await withClient(url, (c) => migrateSchema(c, [...MIGRATIONS, next]));
    const tooNew = openPostgresStore(url, { root: '/nonexistent' });
    await expect(tooNew).rejects.toThrow(`${shown} has schema version ${SCHEMA_VERSION + 1}, newer than this bernstein knows (${SCHEMA_VERSION}): upgrade bernstein on this host`);
    await expect(withClient(url, (c) => migrateSchema(c))).rejects.toThrow(/newer than this bernstein knows/);

    const older = await server().createDatabase();
    const first = { ...MIGRATIONS[0]! };
    await withClient(older, (c) => migrateSchema(c, [first]));
    const pretendNewer = [first, { version: 2, name: 'next', sql: 'SELECT 1' }];
    // This build knows version 2; the database has 1: it is older.
    const { assertSchemaVersion } = await import('../src/migrate.ts');
    expect(() => assertSchemaVersion(1, 'db', pretendNewer.length)).toThrow('db has schema version 1, older than this bernstein\'s 2: run `bernstein store migrate`');
  });

  it('upgrades a version 1 database that holds tasks: outcomes kept, late outcomes then accepted', async () => {
    const url = await server().createDatabase();
    await withClient(url, (c) => migrateSchema(c, [MIGRATIONS[0]!]));
    const assign = { v: 1 as const, type: 'assign', taskId: 't1', role: 'r', arm: 'canary', versionId: 'aaaaaaaaaaaa', canaryId: 'cccccccccccc', epoch: 0, at: '2026-01-01T00:00:00.000Z' };
    await withClient(url, async (c) => {
      const { rows } = await c.query<{ seq: string }>("INSERT INTO bernstein.ledger (kind, task_id, role, canary_id, record) VALUES ('assign', 't1', 'r', 'cccccccccccc', $1::json) RETURNING seq::text AS seq", [JSON.stringify(assign)]);
      await c.query("INSERT INTO bernstein.tasks (task_id, role, routed_at, assignment_seq, assignment) VALUES ('t1', 'r', $1, $2, $3::json)", [assign.at, rows[0]!.seq, JSON.stringify(assign)]);
    });
    const upgraded = await withClient(url, (c) => migrateSchema(c));
    expect(upgraded).toEqual({ from: 1, to: SCHEMA_VERSION, applied: MIGRATIONS.slice(1).map((m) => ({ version: m.version, name: m.name })) });
    const store = await openPostgresStore(url, { root: '/nonexistent' });
    try {
      const timeout = { ...assign, type: 'outcome' as const, arm: 'canary' as const, at: '2026-01-01T03:00:00.000Z', passed: false, timedOut: true as const };
      const late = { ...assign, type: 'late' as const, arm: 'canary' as const, at: '2026-01-01T04:00:00.000Z', passed: true };
      await store.transaction({ roles: ['r'] }, (tx) => tx.appendOutcomes([timeout, late]));
      expect((await store.getTasks(['t1'])).tasks.get('t1')).toMatchObject({ outcome: { timedOut: true }, late: { type: 'late', passed: true } });
      // The database refuses a second late outcome of an assignment by itself, not only the code.
      await expect(
        withClient(url, (c) => c.query("INSERT INTO bernstein.ledger (kind, task_id, role, canary_id, assignment_seq, record) SELECT 'late', task_id, role, 'cccccccccccc', assignment_seq, late FROM bernstein.tasks WHERE task_id = 't1'")),
      ).rejects.toThrow(/ledger_one_late/);
    } finally {
      await store.close();
    }
  });

  it('refuses a database whose applied migration differs from the one shipped', async () => {
    const url = await server().createDatabase();
    await withClient(url, (c) => migrateSchema(c));
    await withClient(url, (c) => c.query("UPDATE bernstein.schema_migrations SET checksum = 'x' WHERE version = 1"));
    await expect(withClient(url, (c) => migrateSchema(c))).rejects.toThrow(/schema migration 1 is not the one this bernstein ships/);
  });
});
