/** A small seeded PRNG (mulberry32): a failing property or trial can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a randomised suite: `envName` (e.g. RELIABILITY_SEED) when set, else a fresh one. */
export function suiteSeed(envName: string): number {
  const fromEnv = Number(process.env[envName]);
  return Number.isFinite(fromEnv) && process.env[envName] ? fromEnv : Date.now() % 1_000_000_007;
}
