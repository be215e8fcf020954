import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNonNegative, parsePercentage, parsePolicy, parseSteps } from './parse.js';

describe('argument parsers', () => {
  it('accepts plain percentages from 0 to 100', () => {
    expect(parsePercentage('0')).toBe(0);
    expect(parsePercentage('20')).toBe(20);
    expect(parsePercentage('99.95')).toBe(99.95);
    expect(parsePercentage('100')).toBe(100);
  });

  it('refuses anything else with the flag named', () => {
    for (const bad of ['-1', '100.5', '101', 'abc', '', '1e2', '0x10', '20%', ' ', 'NaN', 'Infinity']) {
      expect(() => parsePercentage(bad), bad).toThrow(/--percentage/);
    }
  });

  it('property: a percentage either parses into [0, 100] or throws a BernsteinError', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          const value = parsePercentage(text);
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(100);
        } catch (error) {
          expect((error as { code?: string }).code).toBe('INVALID_ARGUMENT');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('parses strictly increasing steps', () => {
    expect(parseSteps('5,25,50,100')).toEqual([5, 25, 50, 100]);
    expect(() => parseSteps('5,5')).toThrow(/increase/);
    expect(() => parseSteps('0,50')).toThrow(/above 0/);
    expect(() => parseSteps('5,,50')).toThrow(/--steps/);
  });

  it('parses policies and non-negative numbers', () => {
    expect(parsePolicy('threshold')).toBe('threshold');
    expect(() => parsePolicy('bayes')).toThrow(/sequential/);
    expect(parseNonNegative('0.42', '--cost-usd')).toBe(0.42);
    expect(() => parseNonNegative('-1', '--cost-usd')).toThrow(/--cost-usd/);
    expect(() => parseNonNegative('', '--duration-ms')).toThrow(/--duration-ms/);
  });
});
