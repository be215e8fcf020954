import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BernsteinError } from './errors.js';

export interface LockOptions {
  /** How long to keep trying before giving up with LOCK_TIMEOUT. */
  timeoutMs?: number;
  /**
   * A lock whose holder stopped refreshing it for this long is taken over. The holder refreshes
   * it every staleMs/2, so a process killed while holding the lock delays others by at most
   * about this long.
   */
  staleMs?: number;
}

export interface LockHandle {
  /** Rejects with LOCK_COMPROMISED when the lock was lost (e.g. the process stalled past staleMs). */
  assertHeld(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Locks held by the current async call chain, so nested withLock on the same path is a no-op. */
const heldLocks = new AsyncLocalStorage<Map<string, LockHandle>>();
const DEFAULT_STALE_MS = 10_000;

/**
 * Run `fn` while holding an inter-process lock on `lockPath` (a directory created by
 * proper-lockfile with mkdir, which is atomic on local file systems). The lock is released
 * when `fn` settles, whatever the outcome.
 */
export async function withLock<T>(
  lockPath: string,
  fn: (handle: LockHandle) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  // Reentrant within one async call chain: a store method that locks can be composed inside a
  // larger critical section (e.g. route = register + transition + ledger append) without deadlock.
  const alreadyHeld = heldLocks.getStore()?.get(lockPath);
  if (alreadyHeld) return fn(alreadyHeld);

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  await mkdir(dirname(lockPath), { recursive: true });

  let compromised: Error | undefined;
  const deadline = Date.now() + timeoutMs;
  let release: (() => Promise<void>) | undefined;
  let attempt = 0;
  // proper-lockfile's own retry schedule is count-based; we loop ourselves for a time bound and
  // jittered back-off that stays fair with many contending processes.
  // Loaded on first use: read-only commands (status, history) never pay for it.
  const lockfile = (await import('proper-lockfile')).default;
  for (;;) {
    try {
      release = await lockfile.lock(dirname(lockPath), {
        lockfilePath: lockPath,
        realpath: false,
        stale: staleMs,
        retries: 0,
        onCompromised: (error: Error) => {
          compromised = error;
        },
      });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') {
        throw new BernsteinError('IO_ERROR', `cannot take lock ${lockPath}: ${(error as Error).message}`, {}, { cause: error });
      }
      if (Date.now() >= deadline) {
        throw new BernsteinError(
          'LOCK_TIMEOUT',
          `timed out after ${timeoutMs} ms waiting for the lock ${lockPath} (another bernstein process is busy)`,
          { lockPath },
        );
      }
      attempt += 1;
      const backoff = Math.min(30, 2 + attempt * 2);
      await new Promise((resolve) => setTimeout(resolve, backoff / 2 + Math.random() * backoff));
    }
  }

  // An owner token beside the lock: a holder that was frozen (SIGSTOP, a long GC, a suspended VM)
  // past the staleness limit finds someone else's token when it resumes, and stops before
  // writing instead of trusting a lock it no longer has.
  const ownerFile = `${lockPath}.owner`;
  const token = `${process.pid}:${randomBytes(8).toString('hex')}`;
  try {
    await writeFile(ownerFile, token);
  } catch (error) {
    await release().catch(() => undefined);
    throw new BernsteinError('IO_ERROR', `cannot write ${ownerFile}: ${(error as Error).message}`, {}, { cause: error });
  }
  const handle: LockHandle = {
    async assertHeld() {
      if (compromised) {
        throw new BernsteinError('LOCK_COMPROMISED', `lost the lock ${lockPath}: ${compromised.message}`, { lockPath });
      }
      let owner = '';
      try {
        owner = await readFile(ownerFile, 'utf8');
      } catch {
        // missing: taken over and released, or removed by hand
      }
      if (owner !== token) {
        throw new BernsteinError('LOCK_COMPROMISED', `lost the lock ${lockPath}: this process stalled past the staleness limit and another took it over; nothing more was written`, {
          lockPath,
        });
      }
    },
  };
  try {
    const held = new Map(heldLocks.getStore() ?? []);
    if (!release) throw new Error('unreachable');
    held.set(lockPath, handle);
    return await heldLocks.run(held, () => fn(handle));
  } finally {
    // Leave nothing behind: remove our token (only if it is still ours), then the lock.
    try {
      if ((await readFile(ownerFile, 'utf8')) === token) await rm(ownerFile, { force: true });
    } catch {
      // already gone
    }
    try {
      await release!();
    } catch {
      // Releasing a compromised lock fails; the work already failed or completed and nothing
      // more can be done about the lock itself.
    }
  }
}

/**
 * Throws LOCK_COMPROMISED if any lock held by the current call chain was lost. The writers in
 * this package call it immediately before they touch a file, so a holder that stalled past the
 * staleness limit never writes on top of the process that took its lock over.
 */
export async function assertLocksHeld(): Promise<void> {
  for (const handle of heldLocks.getStore()?.values() ?? []) await handle.assertHeld();
}
