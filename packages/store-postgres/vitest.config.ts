import { bernsteinProject } from '../../vitest.shared.ts';

// Tests start real PostgreSQL servers: give them room, and never run two files' servers at once
// on a 2-core machine.
export default bernsteinProject('store-postgres', { testTimeout: 180_000, hookTimeout: 180_000, fileParallelism: false });
