import { createHash } from 'node:crypto';
import type pg from 'pg';
import { BernsteinError } from '@bernstein/store';
import { PROJECT_LOCK_KEY } from './locks.js';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './schema.js';

export interface MigrateResult {
  /** The schema version before (0: no bernstein schema). */
  from: number;
  to: number;
  applied: Array<{ version: number; name: string }>;
}

export function migrationChecksum(migration: Migration): string {
  return createHash('sha256').update(migration.sql).digest('hex');
}

/**
 * Create or upgrade the schema. Idempotent, and safe from many hosts at once: the whole run holds
 * the project lock (an exclusive transaction-level advisory lock, which every other unit of work
 * takes shared), so a second host waits, then finds nothing left to do. Missing migrations are
 * applied in one transaction: all of them or none.
 */
export async function migrateSchema(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [PROJECT_LOCK_KEY]);
    await client.query('CREATE SCHEMA IF NOT EXISTS bernstein');
    await client.query(
      'CREATE TABLE IF NOT EXISTS bernstein.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM bernstein.schema_migrations ORDER BY version');
    const known = new Map(migrations.map((m) => [m.version, m]));
    const from = rows.reduce((max, row) => Math.max(max, row.version), 0);
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (from > latest) throw tooNew(from, latest);
    for (const row of rows) {
      const migration = known.get(row.version);
      if (!migration || migrationChecksum(migration) !== row.checksum) {
        throw new BernsteinError(
          'UNSUPPORTED_SCHEMA_VERSION',
          `the database's schema migration ${row.version} is not the one this bernstein ships (different content): it was made by another build; nothing was changed`,
        );
      }
    }
    const applied: MigrateResult['applied'] = [];
    for (const migration of migrations) {
      if (migration.version <= from) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO bernstein.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [migration.version, migration.name, migrationChecksum(migration)]);
      applied.push({ version: migration.version, name: migration.name });
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, latest), applied };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The schema version of the database (0: none). */
export async function schemaVersionOf(client: pg.ClientBase): Promise<number> {
  const exists = await client.query<{ present: boolean }>("SELECT to_regclass('bernstein.schema_migrations') IS NOT NULL AS present");
  if (!exists.rows[0]?.present) return 0;
  const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM bernstein.schema_migrations');
  return rows[0]?.version ?? 0;
}

/** Refuse a database whose schema is not exactly the one this package knows, in one line. */
export function assertSchemaVersion(found: number, store: string, expected: number = SCHEMA_VERSION): void {
  if (found === expected) return;
  if (found === 0) {
    throw new BernsteinError('UNSUPPORTED_SCHEMA_VERSION', `${store} has no bernstein schema yet: run \`bernstein store migrate\``, { found, expected });
  }
  if (found < expected) {
    throw new BernsteinError(
      'UNSUPPORTED_SCHEMA_VERSION',
      `${store} has schema version ${found}, older than this bernstein's ${expected}: run \`bernstein store migrate\``,
      { found, expected },
    );
  }
  throw tooNew(found, expected, store);
}

function tooNew(found: number, expected: number, store = 'the database'): BernsteinError {
  return new BernsteinError(
    'UNSUPPORTED_SCHEMA_VERSION',
    `${store} has schema version ${found}, newer than this bernstein knows (${expected}): upgrade bernstein on this host`,
    { found, expected },
  );
}
