import { bernsteinProject } from '../../vitest.shared.ts';

export default bernsteinProject('test-utils');
