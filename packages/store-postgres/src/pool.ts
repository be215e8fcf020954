import pg from 'pg';
import { BernsteinError } from '@bernstein/store';
import type { StoreLocation } from './url.js';

type PostgresLocation = Extract<StoreLocation, { kind: 'postgres' }>;

/**
 * Connection settings and their defaults. Each can be set in the store URL's query string
 * (`postgres://host/db?pool_max=10&statement_timeout=60000`); these parameters are ours and are
 * removed before the URL reaches the driver.
 */
export interface PoolSettings {
  /** Connections per process. 5: a CLI command uses one or two; 16 hosts x 5 stay under PostgreSQL's default max_connections (100). */
  poolMax: number;
  /** Longest single statement, ms. Import and export work in batches well under it. */
  statementTimeoutMs: number;
  /** Longest wait for another host's role lock, ms (then LOCK_TIMEOUT); below the statement timeout so that a lock wait is reported as one. */
  lockTimeoutMs: number;
  /** A transaction left idle this long (a frozen host) is ended by the server, releasing its locks, ms. */
  idleInTransactionTimeoutMs: number;
  /** Longest wait for a new connection, ms. */
  connectTimeoutMs: number;
}

export const DEFAULT_POOL_SETTINGS: PoolSettings = {
  poolMax: 5,
  statementTimeoutMs: 30_000,
  lockTimeoutMs: 20_000,
  idleInTransactionTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
};

const PARAMS: Record<string, keyof PoolSettings> = {
  pool_max: 'poolMax',
  statement_timeout: 'statementTimeoutMs',
  lock_timeout: 'lockTimeoutMs',
  idle_in_transaction_session_timeout: 'idleInTransactionTimeoutMs',
  connect_timeout: 'connectTimeoutMs',
};

/** Split our settings off the URL: what the driver gets, and the settings with defaults filled in. */
export function poolSettingsOf(location: PostgresLocation): { connectionString: string; settings: PoolSettings } {
  const url = new URL(location.connectionString);
  const settings = { ...DEFAULT_POOL_SETTINGS };
  for (const [param, key] of Object.entries(PARAMS)) {
    const value = url.searchParams.get(param);
    if (value === null) continue;
    const number = Number(value);
    const min = key === 'poolMax' ? 1 : 0;
    if (!Number.isInteger(number) || number < min) {
      throw new BernsteinError('CONFIG_INVALID', `${location.display}: ${param}=${value} is not valid: expected a whole number >= ${min}${key === 'poolMax' ? '' : ' (milliseconds)'}`);
    }
    settings[key] = number;
    url.searchParams.delete(param);
  }
  return { connectionString: url.toString(), settings };
}

export function createPool(location: PostgresLocation): { pool: pg.Pool; settings: PoolSettings } {
  const { connectionString, settings } = poolSettingsOf(location);
  const pool = new pg.Pool({
    connectionString,
    max: settings.poolMax,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 10_000,
    // A CLI command ends when its work does, without waiting for idle connections to time out.
    allowExitOnIdle: true,
    statement_timeout: settings.statementTimeoutMs,
    lock_timeout: settings.lockTimeoutMs,
    idle_in_transaction_session_timeout: settings.idleInTransactionTimeoutMs,
    application_name: 'bernstein',
  });
  // An idle connection dropped by a server restart emits here; the next checkout gets a new one.
  pool.on('error', () => undefined);
  return { pool, settings };
}
