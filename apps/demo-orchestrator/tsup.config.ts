import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.library';

// The library (index) and the `pnpm demo` CLI (cli, runnable as `node apps/demo-orchestrator/dist/cli.js`).
export default defineConfig(
  libraryBuild(['src/index.ts', 'src/cli.ts'], { dts: { entry: ['src/index.ts'], compilerOptions: { customConditions: [] } } }),
);
