import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AssignmentRecord } from './ledger.js';

/** A throwaway project root with `templates/roles/<role>/<file>` written from a map. */
export async function makeProject(roles: Record<string, Record<string, string>>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'bernstein-pv-'));
  for (const [role, files] of Object.entries(roles)) {
    for (const [name, text] of Object.entries(files)) {
      const file = join(root, 'templates', 'roles', role, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    }
  }
  return root;
}

/** An assignment record of role "backend" for ledger and index tests. */
export const assign = (taskId: string, arm: 'stable' | 'canary' = 'stable', canaryId: string | null = null): AssignmentRecord => ({
  v: 1,
  type: 'assign',
  taskId,
  role: 'backend',
  arm,
  versionId: 'aaaaaaaaaaaa',
  canaryId,
  epoch: null,
  at: '2026-01-01T00:00:00.000Z',
});
