import { createHash } from 'node:crypto';

/**
 * Advisory lock keys (transaction-level: released at commit or rollback, and by the server when a
 * host's connection dies, so a SIGKILLed host never leaves a lock behind).
 *
 * - PROJECT_LOCK_KEY: every unit of work takes it shared; `{ project: true }` units (migrate,
 *   import, export) take it exclusive, so they see and write a quiet database.
 * - one key per role: a role-scoped unit of work holds its roles' keys exclusively, in sorted
 *   order (no deadlock between two multi-role units). Two roles never share a key in practice
 *   (64 bits of SHA-256), so their canaries never wait on each other.
 */
/** A fixed int8 (as text). The one value written into SQL text rather than passed as a parameter: a constant of digits. */
export const PROJECT_LOCK_KEY = '7305608213493252096';
if (!/^\d+$/.test(PROJECT_LOCK_KEY)) throw new Error('PROJECT_LOCK_KEY must be digits');

export function roleLockKey(role: string): string {
  const digest = createHash('sha256').update(`bernstein role\u0000${role}`).digest();
  return digest.readBigInt64BE(0).toString();
}
