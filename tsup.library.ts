import type { Options } from 'tsup';

/**
 * The build every library package shares: ESM for Node 20 with declarations and source maps.
 * `customConditions: []` keeps the declaration build off the workspace's `source` export
 * condition, so each package's .d.ts is built from its own sources and its dependencies' dist.
 */
export function libraryBuild(entry: Options['entry'], overrides: Options = {}): Options {
  return {
    entry,
    format: ['esm'],
    target: 'node20',
    dts: { compilerOptions: { customConditions: [] } },
    tsconfig: 'tsconfig.build.json',
    sourcemap: true,
    clean: true,
    ...overrides,
  };
}
