/**
 * @bernstein/test-utils: what the workspace's tests share. Private; never published.
 */
export { seededRandom, suiteSeed } from './random.js';
export { makeProject, writeRoleFile } from './project.js';
export { childEnv, runNode, type RunOptions, type RunResult } from './process.js';
