import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** tests/ */
export const TESTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The workspace root. */
export const REPO_ROOT = resolve(TESTS_DIR, '..');
export const FIXTURES_DIR = join(TESTS_DIR, 'fixtures');
export const CLI_PACKAGE_DIR = join(REPO_ROOT, 'packages', 'canary-cli');

/**
 * The built `bernstein` bin, as the CLI package declares it (package.json "bin"), so the tests
 * follow the package if its build layout changes.
 */
export function binPath(): string {
  const pkg = JSON.parse(readFileSync(join(CLI_PACKAGE_DIR, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.bernstein;
  if (!bin) throw new Error(`${CLI_PACKAGE_DIR}/package.json declares no "bernstein" bin`);
  return join(CLI_PACKAGE_DIR, bin);
}

export function fixture(name: string): string {
  return join(FIXTURES_DIR, name);
}
