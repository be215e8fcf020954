import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../program.js';
import type { Io } from '../output.js';

function capture(): Io & { out: string; err: string } {
  const io = { out: '', err: '', isTty: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

async function bernstein(dir: string, ...args: string[]) {
  const io = capture();
  const code = await run(['node', 'bernstein', '--dir', dir, ...args], io);
  return { code, out: io.out, err: io.err };
}

describe('canary status memo', () => {
  it('answers from the memo while nothing changed, and recomputes after any change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bernstein-memo-'));
    await mkdir(join(dir, 'templates/roles/backend'), { recursive: true });
    await writeFile(join(dir, 'templates/roles/backend/system_prompt.md'), 'v1\n');
    expect((await bernstein(dir, 'canary', 'route', '--role', 'backend', '--task', 't1')).code).toBe(0);
    const first = await bernstein(dir, 'canary', 'status', '--json');
    expect(first.code).toBe(0);
    const memoFile = join(dir, '.sdd/cache/status.json');
    const memo = JSON.parse(await readFile(memoFile, 'utf8'));
    expect(memo.roles).toEqual(JSON.parse(first.out).roles);

    // Prove the fast path is taken: a memo with the right key is believed as it is.
    memo.roles[0].stableVersion = 'from-the-memo';
    await writeFile(memoFile, JSON.stringify(memo));
    expect(JSON.parse((await bernstein(dir, 'canary', 'status', '--json')).out).roles[0].stableVersion).toBe('from-the-memo');

    // Any change to an input (here the ledger) misses the memo and recomputes.
    await bernstein(dir, 'canary', 'route', '--role', 'backend', '--task', 't2');
    expect(JSON.parse((await bernstein(dir, 'canary', 'status', '--json')).out).roles[0].stableVersion).toMatch(/^[0-9a-f]{12}$/);

    // A damaged input is reported by the full path, memo or not.
    await writeFile(join(dir, '.sdd/config/canary.json'), '{"schemaVersion":1,');
    const broken = await bernstein(dir, 'canary', 'status');
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/canary\.json/);
  });
});
