import { BernsteinError } from '@bernstein/store';
import { redactSecrets, type StoreLocation } from './url.js';

type PostgresLocation = Extract<StoreLocation, { kind: 'postgres' }>;

interface DriverError extends Error {
  code?: string;
  constraint?: string;
  detail?: string;
}

/** Socket-level failures: the server is gone, restarting, or unreachable. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
/** Server-side codes that mean the connection or the server went away. */
const SERVER_GONE_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

export function isConnectionLoss(error: unknown): boolean {
  const e = error as DriverError;
  if (!e || typeof e !== 'object') return false;
  if (e.code && (CONNECTION_CODES.has(e.code) || SERVER_GONE_CODES.has(e.code))) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(e.message ?? '');
}

/**
 * A driver error as a BernsteinError with a stable code and one line that names the store by its
 * redacted URL. Never a password: every message passes through redactSecrets.
 */
export function storeError(location: PostgresLocation, error: unknown, doing: string): BernsteinError {
  if (error instanceof BernsteinError) {
    const message = redactSecrets(error.message, location);
    return message === error.message ? error : new BernsteinError(error.code, message, error.details);
  }
  const e = error as DriverError;
  const raw = redactSecrets(String(e?.message ?? error), location);
  const where = location.display;
  switch (e?.code) {
    case '28P01':
    case '28000':
      return new BernsteinError('CONFIG_INVALID', `cannot connect to ${where}: ${raw}`, { store: where });
    case '3D000':
      return new BernsteinError('CONFIG_INVALID', `cannot connect to ${where}: ${raw} (create it, e.g. createdb, then run \`bernstein store migrate\`)`, { store: where });
    case '55P03':
      return new BernsteinError('LOCK_TIMEOUT', `${where}: ${doing}: waited too long for a lock held by another host (${raw})`, { store: where });
    case '57014':
      return new BernsteinError('IO_ERROR', `${where}: ${doing}: ${raw} (the statement timeout can be raised with ?statement_timeout=<ms> in the store URL)`, { store: where });
    case '40001':
    case '40P01':
      return new BernsteinError('CONFLICT', `${where}: ${doing}: a concurrent transaction got in the way (${raw}); nothing was written, run the command again`, { store: where });
    case '23505':
      if (e.constraint === 'ledger_one_outcome') {
        return new BernsteinError('DUPLICATE_OUTCOME', `${where}: ${doing}: that task's assignment already has an outcome`, { store: where });
      }
      return new BernsteinError('CONFLICT', `${where}: ${doing}: another host wrote the same thing first (${e.constraint ?? raw}); nothing of this was written`, { store: where });
    case '42P01':
    case '3F000':
      return new BernsteinError('UNSUPPORTED_SCHEMA_VERSION', `${where} has no bernstein schema: run \`bernstein store migrate\``, { store: where });
    default:
      break;
  }
  if (isConnectionLoss(error)) {
    return new BernsteinError('IO_ERROR', `cannot reach the store at ${where} while trying to ${doing}: ${raw}; nothing of this command's unfinished work was written`, {
      store: where,
    });
  }
  return new BernsteinError('IO_ERROR', `${where}: ${doing}: ${raw}`, { store: where, sqlState: e?.code });
}
