import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { havePostgres, startPgServer, type PgServer } from '../src/testing/pg-server.ts';
import { migrateSchema } from '../src/migrate.ts';

/**
 * Whether this machine can run the PostgreSQL tests. Under CI=true they never skip: a missing
 * PostgreSQL fails them (startPgServer says what to install).
 */
export const skipWithoutPostgres = !havePostgres() && process.env.CI !== 'true';

/** One server per test file, started before its tests and removed after them. */
export function useServer(): () => PgServer {
  let server: PgServer | undefined;
  beforeAll(async () => {
    server = await startPgServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('the PostgreSQL test server did not start');
    return server;
  };
}

/** A fresh database with the current schema; returns its URL. */
export async function migratedDatabase(server: PgServer): Promise<string> {
  const url = await server.createDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrateSchema(client);
  } finally {
    await client.end();
  }
  return url;
}
