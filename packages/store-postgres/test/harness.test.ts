import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPgServer, type PgServer } from '../src/testing/pg-server.ts';

describe('the PostgreSQL test server', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPgServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('accepts password connections on 127.0.0.1 and survives pg_ctl restart -m immediate', async () => {
    const url = await server.createDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('CREATE TABLE kept (n int)');
    await client.query('INSERT INTO kept VALUES (1)');
    await client.end();
    server.restartImmediate();
    const again = new pg.Client({ connectionString: url });
    await again.connect();
    const { rows } = await again.query('SELECT n FROM kept');
    await again.end();
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('refuses a wrong password', async () => {
    const client = new pg.Client({ connectionString: server.url().replace(/:[^:@]+@/, ':wrong@') });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });
});
