import { isGateResults, isMetricValue, isTaskId } from '@bernstein/prompt-versions';
import type { OutcomeInput } from './record.js';

const OPTIONAL = new Set(['gates', 'costUsd', 'durationMs']);

/**
 * True iff `value` (a JSON.parse'd NDJSON line) is an outcome input exactly as
 * `OutcomeInputSchema` would return it: the check `recordOutcomes` makes of every line, without
 * the cost of a schema parse. False means "ask the schema", which decides and words the error;
 * outcome-input-check.test.ts holds the two to the same answers (fast-check).
 */
export function isOutcomeInput(value: unknown): value is OutcomeInput {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const input = value as Record<string, unknown>;
  if (!isTaskId(input.taskId) || typeof input.passed !== 'boolean') return false;
  let keys = 0;
  for (const key in input) {
    if (!Object.hasOwn(input, key)) return false;
    keys++;
    if (!OPTIONAL.has(key)) continue;
    if (key === 'gates' ? !isGateResults(input[key]) : !isMetricValue(input[key])) return false;
  }
  let expected = 2;
  for (const key of OPTIONAL) if (Object.hasOwn(input, key)) expected++;
  return keys === expected;
}
