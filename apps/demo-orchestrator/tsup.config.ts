import { defineConfig } from 'tsup';

export default defineConfig({
  // The library (index) and the `pnpm demo` CLI (cli, runnable as `node apps/demo-orchestrator/dist/cli.js`).
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm'],
  target: 'node20',
  dts: { entry: ['src/index.ts'], compilerOptions: { customConditions: [] } },
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  clean: true,
});
