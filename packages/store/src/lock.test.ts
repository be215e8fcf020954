import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withLock } from './lock.js';

describe('withLock', () => {
  it('serialises critical sections (read-modify-write never interleaves)', async () => {
    const lockPath = join(await mkdtemp(join(tmpdir(), 'bernstein-lock-')), 'lock');
    let counter = 0;
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withLock(lockPath, async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          const read = counter;
          await new Promise((resolve) => setTimeout(resolve, 1));
          counter = read + 1;
          inside -= 1;
        }),
      ),
    );
    expect(counter).toBe(20);
    expect(maxInside).toBe(1);
  });

  it('is reentrant within one async call chain', async () => {
    const lockPath = join(await mkdtemp(join(tmpdir(), 'bernstein-lock-')), 'lock');
    const result = await withLock(lockPath, () => withLock(lockPath, async () => 'nested'), { timeoutMs: 2000 });
    expect(result).toBe('nested');
  });

  it('releases the lock when the critical section throws', async () => {
    const lockPath = join(await mkdtemp(join(tmpdir(), 'bernstein-lock-')), 'lock');
    await expect(withLock(lockPath, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(withLock(lockPath, async () => 'free', { timeoutMs: 2000 })).resolves.toBe('free');
  });

  it('gives up with LOCK_TIMEOUT while another holder keeps it', async () => {
    const lockPath = join(await mkdtemp(join(tmpdir(), 'bernstein-lock-')), 'lock');
    let release!: () => void;
    const held = withLock(lockPath, () => new Promise<void>((resolve) => (release = resolve)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A separate call chain: not reentrant, so it must wait and time out.
    const error = await new Promise((resolve) => setImmediate(() => withLock(lockPath, async () => 'x', { timeoutMs: 300 }).catch(resolve)));
    expect((error as { code?: string }).code).toBe('LOCK_TIMEOUT');
    release();
    await held;
  });
});
