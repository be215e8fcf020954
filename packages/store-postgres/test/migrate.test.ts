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

  it('refuses a database whose applied migration differs from the one shipped', async () => {
    const url = await server().createDatabase();
    await withClient(url, (c) => migrateSchema(c));
    await withClient(url, (c) => c.query("UPDATE bernstein.schema_migrations SET checksum = 'x' WHERE version = 1"));
    await expect(withClient(url, (c) => migrateSchema(c))).rejects.toThrow(/schema migration 1 is not the one this bernstein ships/);
  });
});
