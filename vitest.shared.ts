import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/**
 * Shared per-package vitest settings. The `source` export condition makes workspace packages
 * resolve to their TypeScript sources, so unit tests never depend on a stale `dist/`.
 */
export function bernsteinProject(name: string, extra: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { conditions: ['source', 'import', 'module', 'node', 'default'] },
    // vitest hands the ssr conditions to node as `--conditions` for externalised packages; with
    // `import` (or `module`) among them, a CommonJS dependency's require() of a dual package
    // (pg -> pg-pool) would load its ES module build and fail. Node adds `import` itself where it applies.
    ssr: { resolve: { conditions: ['source', 'node', 'default'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...extra,
    },
  });
}
