import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.library';

export default defineConfig([
  // The library entry: dependencies stay external, as usual for a package.
  libraryBuild(['src/index.ts'], { clean: false }),
  {
    // The `bernstein` bin: one self-contained bundle (code-split per command), because start-up
    // time is a product target and resolving hundreds of module files costs more than parsing one.
    entry: { bin: 'src/bin.ts' },
    outDir: 'dist/bin',
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    tsconfig: 'tsconfig.build.json',
    noExternal: [/.*/],
    minify: true,
    splitting: true,
    sourcemap: false,
    clean: false,
    // CommonJS dependencies bundled into ESM still call require() for node built-ins and read
    // __filename / __dirname (write-file-atomic seeds its temp names with __filename).
    banner: {
      js: [
        "import { createRequire as __bernsteinCreateRequire } from 'node:module';",
        "import { fileURLToPath as __bernsteinFileURLToPath } from 'node:url';",
        'const require = __bernsteinCreateRequire(import.meta.url);',
        'const __filename = __bernsteinFileURLToPath(import.meta.url);',
        "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
      ].join(' '),
    },
  },
]);
