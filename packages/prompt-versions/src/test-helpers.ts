import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

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
