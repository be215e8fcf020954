/** The suite's seeded PRNG, shared by the workspace's tests (replay a failing trial with RELIABILITY_SEED). */
import { seededRandom, suiteSeed as seedFrom } from '@bernstein/test-utils';

export { seededRandom };

export function suiteSeed(): number {
  return seedFrom('RELIABILITY_SEED');
}
