import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A throw-away project root with `templates/roles/<role>/<file>` written from a map, and
 * `.sdd/config.yaml` when `config` is given.
 */
export async function makeProject(roles: Record<string, Record<string, string>>, options: { config?: string; prefix?: string } = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), options.prefix ?? 'bernstein-test-'));
  for (const [role, files] of Object.entries(roles)) {
    for (const [name, text] of Object.entries(files)) {
      const file = join(root, 'templates', 'roles', role, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    }
  }
  if (options.config !== undefined) {
    await mkdir(join(root, '.sdd'), { recursive: true });
    await writeFile(join(root, '.sdd', 'config.yaml'), options.config);
  }
  return root;
}

/** Write (or overwrite) one template file of a project made by makeProject. */
export async function writeRoleFile(root: string, role: string, name: string, text: string): Promise<void> {
  const file = join(root, 'templates', 'roles', role, name);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
}
