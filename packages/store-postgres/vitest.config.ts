import { bernsteinProject } from '../../vitest.shared.ts';

// Tests start real PostgreSQL servers: give them room, and never run two files' servers at once
// on a 2-core machine.
const project = bernsteinProject('store-postgres', { testTimeout: 180_000, hookTimeout: 180_000, fileParallelism: false });
// vitest hands the ssr conditions to node as `--conditions`; with `import` among them, `pg`'s
// require('pg-pool') would load pg-pool's ES module build and fail. Node adds `import` itself
// where it applies, so only `source` (our TypeScript) is needed here.
project.ssr = { ...project.ssr, resolve: { ...project.ssr?.resolve, conditions: ['source', 'node', 'default'] } };
export default project;
