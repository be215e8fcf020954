import { expect } from 'vitest';
import { describeResult, type RunResult } from './process.ts';

/**
 * The SPEC's bad-input contract: a non-zero exit, exactly one line on stderr naming the problem,
 * never a stack trace or an "internal error".
 */
export function expectCleanError(result: RunResult, mentions: Array<string | RegExp> = []): string {
  const context = describeResult(result);
  expect(result.code, context).not.toBe(0);
  expect(result.code, context).not.toBeNull();
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines, `expected exactly one line on stderr\n${context}`).toHaveLength(1);
  const line = lines[0]!;
  expect(line, context).not.toMatch(/\n\s+at |^\s+at |internal error|TypeError|ReferenceError|SyntaxError: /);
  for (const mention of mentions) {
    if (typeof mention === 'string') expect(line, context).toContain(mention);
    else expect(line, context).toMatch(mention);
  }
  return line;
}

/** A successful run: exit 0 (with the output in the message when it is not). */
export function expectOk(result: RunResult): RunResult {
  expect(result.code, describeResult(result)).toBe(0);
  return result;
}
