import { defineConfig } from 'vitest/config';

// One vitest run over every workspace member, so `pnpm test` prints a single summary and
// .ci/run can count every test from one JSON report.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tests', 'bench'],
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
