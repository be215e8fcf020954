import { BernsteinError, formatZodIssues } from '@bernstein/store';
import { CANARY_POLICIES, StepsSchema, type CanaryPolicy } from '@bernstein/canary-router';

/** A percentage given on the command line: a plain decimal number from 0 to 100. */
export function parsePercentage(text: string, flag = '--percentage'): number {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) throw new BernsteinError('INVALID_ARGUMENT', `${flag} must be a number from 0 to 100, got "${text}"`);
  const value = Number(trimmed);
  if (!(value >= 0 && value <= 100)) throw new BernsteinError('INVALID_ARGUMENT', `${flag} must be from 0 to 100, got ${text}`);
  return value;
}

/** `5,25,50,100`: the ramp rule of the config and the `start` transition (StepsSchema), from the command line. */
export function parseSteps(text: string): number[] {
  const steps = text.split(',').map((part) => parsePercentage(part, '--steps'));
  const checked = StepsSchema.safeParse(steps);
  if (!checked.success) {
    throw new BernsteinError('INVALID_ARGUMENT', `--steps must increase strictly, every step above 0 and at most 100; ${text}: ${formatZodIssues(checked.error.issues)}`);
  }
  return checked.data;
}

/** One of the judge's policies (CANARY_POLICIES). */
export function parsePolicy(text: string): CanaryPolicy {
  const policy = CANARY_POLICIES.find((p) => p === text);
  if (policy) return policy;
  throw new BernsteinError('INVALID_ARGUMENT', `--policy must be ${CANARY_POLICIES.map((p) => `"${p}"`).join(' or ')}, got "${text}"`);
}

/** A non-negative finite number (cost, duration). */
export function parseNonNegative(text: string, flag: string): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (trimmed === '' || !Number.isFinite(value) || value < 0) throw new BernsteinError('INVALID_ARGUMENT', `${flag} must be a non-negative number, got "${text}"`);
  return value;
}
