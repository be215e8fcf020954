import { defineConfig } from 'tsup';

export default defineConfig({
  // cli: `pnpm bench`; the others are child-process scripts the harness spawns (no TS runtime is
  // installed, so children run built files).
  entry: ['src/cli.ts', 'src/scale-build.ts', 'src/write-worker.ts', 'src/rss-probe.ts'],
  format: ['esm'],
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  clean: true,
  // Every dependency (also the SDK dev dependencies) stays an import of node_modules: bundling
  // CommonJS SDKs into ESM breaks their require() of node built-ins.
  skipNodeModulesBundle: true,
});
