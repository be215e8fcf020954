import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOutcomeInput } from './outcome-input-check.js';
import { OutcomeInputSchema } from './record.js';

function schemaAcceptsUnchanged(value: unknown): boolean {
  const parsed = OutcomeInputSchema.safeParse(value);
  if (!parsed.success) return false;
  try {
    expect(parsed.data).toStrictEqual(value);
    return true;
  } catch {
    return false;
  }
}

/** JSON text of an object from [key, JSON text] pairs (so own "__proto__" keys and duplicates occur). */
const objectText = (pairs: ReadonlyArray<readonly [string, string] | null>) =>
  `{${pairs
    .filter((p) => p !== null)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(',')}}`;
const json = (value: unknown) => JSON.stringify(value);
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const anyJson = fc.jsonValue({ maxDepth: 2 }).map(json);

const taskIdOk = fc.oneof(text.filter((t) => t.length > 0 && !/[\u0000-\u001f]/.test(t)).map(json), fc.constantFrom('a'.repeat(512), '😀'.repeat(512)).map(json));
const taskIdOdd = fc.oneof(fc.constantFrom('', 'a'.repeat(513), '😀'.repeat(513), 'x\u0000y', 'a\nb').map(json), fc.constantFrom('1', 'null'));
const gateNameOk = fc.oneof(fc.constantFrom('lint', 'tests', 'g'.repeat(128)), text.filter((t) => t.length > 0 && !(t in Object.prototype)));
const gateNameOdd = fc.constantFrom('constructor', '__proto__', 'valueOf', '', 'g'.repeat(129));
const gatesOk = fc.array(fc.tuple(gateNameOk, fc.boolean().map(json)), { maxLength: 3 }).map(objectText);
const gatesOdd = fc.oneof(
  fc.array(fc.tuple(fc.oneof(gateNameOk, gateNameOdd), fc.oneof(fc.boolean().map(json), fc.constantFrom('"pass"', '"fail"', '1', 'null'))), { minLength: 1, maxLength: 3 }).map(objectText),
  fc.constantFrom('[]', 'null', 'true'),
);
const metricOk = fc.oneof(fc.nat().map(json), fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 1e9 }).map(json), fc.constantFrom('-0', '1e308'));
const metricOdd = fc.constantFrom('-1', '-1e-9', '"3"', 'null', 'false');

const field = (key: string, ok: fc.Arbitrary<string>, odd: fc.Arbitrary<string>, presence: number) =>
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), ok, odd).map(([present, valid, good, bad]) =>
    present < presence * 1000 ? ([key, valid < 950 ? good : bad] as const) : null,
  );

const inputText = fc
  .tuple(
    field('taskId', taskIdOk, taskIdOdd, 0.98),
    field('passed', fc.boolean().map(json), fc.constantFrom('"true"', '1', 'null'), 0.98),
    field('gates', gatesOk, gatesOdd, 0.5),
    field('costUsd', metricOk, metricOdd, 0.5),
    field('durationMs', metricOk, metricOdd, 0.5),
    field('extra', anyJson, anyJson, 0.05),
    field('__proto__', anyJson, anyJson, 0.02),
  )
  .map(objectText);

describe('isOutcomeInput (the hand-written check of NDJSON outcome lines)', () => {
  it('accepts exactly the lines OutcomeInputSchema accepts unchanged (property)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof({ arbitrary: inputText, weight: 9 }, { arbitrary: anyJson, weight: 1 }), (line) => {
        const value: unknown = JSON.parse(line);
        const fast = isOutcomeInput(value);
        expect(fast, line).toBe(schemaAcceptsUnchanged(value));
        if (fast) accepted++;
      }),
      { numRuns: 5000 },
    );
    expect(accepted).toBeGreaterThan(500);
    expect(accepted).toBeLessThan(4500);
  });

  it('refuses what the schema refuses, so the schema words the error', () => {
    for (const line of ['{"taskId":"t","passed":true,"extra":1}', '{"taskId":"t","passed":true,"gates":{"__proto__":true}}', '{"taskId":"","passed":true}', '{"taskId":"t","passed":true,"costUsd":-1}']) {
      expect(isOutcomeInput(JSON.parse(line)), line).toBe(false);
      expect(OutcomeInputSchema.safeParse(JSON.parse(line)).success, line).toBe(false);
    }
    expect(isOutcomeInput({ taskId: 't', passed: false, gates: { lint: true }, costUsd: 0.1, durationMs: 5 })).toBe(true);
  });
});
