import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/cli.ts'],
  format: ['esm'],
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
  sourcemap: true,
  clean: true,
});
