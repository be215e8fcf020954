import { bernsteinProject } from '../vitest.shared.ts';

export default bernsteinProject('tests', { include: ['**/*.test.ts'], exclude: ['**/node_modules/**'] });
