import { defineConfig } from 'tsup';

export default defineConfig({
  // `testing`: the throw-away PostgreSQL server used by this package's tests, the repository's
  // end-to-end tests and `pnpm bench`.
  entry: { index: 'src/index.ts', 'testing/pg-server': 'src/testing/pg-server.ts' },
  format: ['esm'],
  target: 'node20',
  dts: { compilerOptions: { customConditions: [] } },
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  clean: true,
});
