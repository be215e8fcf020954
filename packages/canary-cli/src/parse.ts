import { BernsteinError } from '@bernstein/store';

/** A percentage given on the command line: a plain decimal number from 0 to 100. */
export function parsePercentage(text: string, flag = '--percentage'): number {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) throw new BernsteinError('INVALID_ARGUMENT', `${flag} must be a number from 0 to 100, got "${text}"`);
  const value = Number(trimmed);
  if (!(value >= 0 && value <= 100)) throw new BernsteinError('INVALID_ARGUMENT', `${flag} must be from 0 to 100, got ${text}`);
  return value;
}

/** `5,25,50,100`: strictly increasing percentages, each in (0, 100]. */
export function parseSteps(text: string): number[] {
  const steps = text.split(',').map((part) => parsePercentage(part, '--steps'));
  if (steps.length === 0) throw new BernsteinError('INVALID_ARGUMENT', '--steps needs at least one percentage');
  for (let i = 0; i < steps.length; i++) {
    if (steps[i]! <= 0) throw new BernsteinError('INVALID_ARGUMENT', `--steps: every step must be above 0, got ${steps[i]}`);
    if (i > 0 && steps[i]! <= steps[i - 1]!) throw new BernsteinError('INVALID_ARGUMENT', `--steps must increase strictly, got ${text}`);
  }
  return steps;
}

export function parsePolicy(text: string): 'sequential' | 'threshold' {
  if (text === 'sequential' || text === 'threshold') return text;
  throw new BernsteinError('INVALID_ARGUMENT', `--policy must be "sequential" or "threshold", got "${text}"`);
}

/** A non-negative finite number (cost, duration). */
export function parseNonNegative(text: string, flag: string): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (trimmed === '' || !Number.isFinite(value) || value < 0) throw new BernsteinError('INVALID_ARGUMENT', `${flag} must be a non-negative number, got "${text}"`);
  return value;
}
