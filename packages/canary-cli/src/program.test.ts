import { describe, expect, it } from 'vitest';
import { run } from './program.js';
import type { Io } from './output.js';

function capture(): Io & { out: string; err: string } {
  const io = { out: '', err: '', isTty: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

describe('bernstein program', () => {
  it('prints help with examples and exits 0', async () => {
    const io = capture();
    expect(await run(['node', 'bernstein', 'config', 'canary', '--help'], io)).toBe(0);
    expect(io.out).toContain('Examples:');
    expect(io.out).toContain('--prompt-version');
  });

  it('turns a usage error into one line and exit code 2', async () => {
    const io = capture();
    expect(await run(['node', 'bernstein', 'canary', 'route', '--role', 'x'], io)).toBe(2);
    expect(io.err.trim().split('\n')).toHaveLength(1);
    expect(io.err).toMatch(/--task/);
  });

  it('turns a bad value into one line naming the problem, exit code 1, before touching the project', async () => {
    const io = capture();
    const code = await run(['node', 'bernstein', '--dir', '/nonexistent/project', 'config', 'canary', '--role', 'r', '--percentage', '150'], io);
    expect(code).toBe(1);
    expect(io.err).toBe('error: --percentage must be from 0 to 100, got 150 [INVALID_ARGUMENT]\n');
  });
});
