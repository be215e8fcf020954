/**
 * The typed error of the statistics core: impossible input (passed > tasks, negative or
 * non-finite counts, an out-of-range percentage, an epoch the caller did not describe). Callers
 * tell it from bugs by `code`.
 */
export class StatsInputError extends Error {
  readonly code = 'INVALID_STATS_INPUT' as const;
  constructor(message: string) {
    super(message);
    this.name = 'StatsInputError';
  }
}

/** Throw a StatsInputError unless `x` is a non-negative safe integer. */
export function assertCount(x: unknown, what: string): asserts x is number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new StatsInputError(`${what} must be a non-negative integer, got ${String(x)}`);
}

/** Throw unless 0 <= passed <= tasks, both integers. */
export function assertPassCounts(passed: unknown, tasks: unknown, what: string): void {
  assertCount(tasks, `${what}: tasks`);
  assertCount(passed, `${what}: passed`);
  if ((passed as number) > (tasks as number)) throw new StatsInputError(`${what}: passed (${String(passed)}) must be <= tasks (${String(tasks)})`);
}
