import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLedgerRecord } from './ledger-check.js';
import { LedgerRecordSchema } from './ledger.js';

/** What the schema makes of a value: accepted unchanged, or not. The fast check must say the same. */
function schemaAcceptsUnchanged(value: unknown): boolean {
  const parsed = LedgerRecordSchema.safeParse(value);
  if (!parsed.success) return false;
  try {
    expect(parsed.data).toStrictEqual(value);
    return true;
  } catch {
    return false;
  }
}

/** JSON text of an object from [key, JSON text] pairs (so own "__proto__" keys and duplicates occur). */
const objectText = (pairs: ReadonlyArray<readonly [string, string]>) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
const json = (value: unknown) => JSON.stringify(value);

const anyJson = fc.jsonValue({ maxDepth: 2 }).map(json);
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const id = text.map(json);
/** Task ids at and around the limits: 512 / 513 characters (in code points), control characters. */
const taskIdOk = fc.oneof(text.filter((t) => t.length > 0 && !/[\u0000-\u001f]/.test(t)).map(json), fc.constantFrom('a'.repeat(512), '😀'.repeat(512), 'é', '\ud800lone').map(json));
const taskIdOdd = fc.oneof(fc.constantFrom('', 'a'.repeat(513), '😀'.repeat(513), 'x\u0000y', 'tab\there', '\u001f').map(json), fc.integer().map(json), fc.constant('null'));
const gateNameOk = fc.oneof(fc.constantFrom('lint', 'tests', 'g'.repeat(128), '😀'.repeat(128)), text.filter((t) => t.length > 0 && !(t in Object.prototype)));
const gateNameOdd = fc.constantFrom('constructor', 'toString', '__proto__', 'hasOwnProperty', '', 'g'.repeat(129), '😀'.repeat(129));
const gatesOk = fc.array(fc.tuple(gateNameOk, fc.boolean().map(json)), { maxLength: 3 }).map(objectText);
const gatesOdd = fc.oneof(
  fc.array(fc.tuple(fc.oneof(gateNameOk, gateNameOdd), fc.oneof(fc.boolean().map(json), fc.constantFrom('"pass"', '1', 'null', '{}'))), { minLength: 1, maxLength: 3 }).map(objectText),
  fc.constantFrom('[]', '[true]', 'null', 'true', '"gates"'),
);
const metricOk = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 1e6 }).map(json), fc.nat().map(json), fc.constantFrom('-0', '0', '1e308'));
const metricOdd = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -10, max: -1e-9 }).map(json), fc.constantFrom('-1', '"1"', 'null', 'true'));
const epochOk = fc.oneof(fc.integer().map(json), fc.constantFrom('null', '9007199254740991', '-9007199254740991'));
const epochOdd = fc.constantFrom('1.5', '9007199254740992', '-9007199254740992', '"1"', '1e300', 'true');

/** A key that is usually present (`presence`) and then usually valid (`ok`), else odd. */
const field = (key: string, ok: fc.Arbitrary<string>, odd: fc.Arbitrary<string>, presence = 0.99) =>
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), ok, odd).map(([present, valid, good, bad]) =>
    present < presence * 1000 ? ([key, valid < 970 ? good : bad] as const) : null,
  );

/** Records near the schema's edges: each field usually valid, sometimes wrong or missing, sometimes an extra key. */
const recordText = fc
  .tuple(
    field('v', fc.constant('1'), fc.constantFrom('2', '"1"', '0')),
    field('type', fc.constantFrom('"assign"', '"outcome"', '"late"'), fc.constantFrom('"other"', 'null')),
    field('taskId', taskIdOk, taskIdOdd),
    field('role', id, fc.constantFrom('1', 'null')),
    field('arm', fc.constantFrom('"stable"', '"canary"'), fc.constantFrom('"purple"', 'null')),
    field('versionId', id, fc.constant('7')),
    field('canaryId', fc.oneof(id, fc.constant('null')), fc.constant('3')),
    field('epoch', epochOk, epochOdd),
    field('at', fc.oneof(fc.constant('"2026-01-01T00:00:00.000Z"'), id), fc.constant('0')),
    field('passed', fc.boolean().map(json), fc.constantFrom('"true"', '0'), 0.6),
    field('gates', gatesOk, gatesOdd, 0.4),
    field('costUsd', metricOk, metricOdd, 0.4),
    field('durationMs', metricOk, metricOdd, 0.4),
    field('timedOut', fc.constant('true'), fc.constantFrom('false', '"true"', '1'), 0.2),
    field('stratum', fc.oneof(taskIdOk, fc.constantFrom(json('s'.repeat(128)), json('s'.repeat(129)))), taskIdOdd, 0.2),
    field('extra', anyJson, anyJson, 0.05),
    field('__proto__', anyJson, anyJson, 0.02),
  )
  .map((pairs) => objectText(pairs.filter((p) => p !== null)));

describe('isLedgerRecord (the hand-written check of ledger lines)', () => {
  it('accepts exactly the lines the zod schema accepts unchanged (property)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof({ arbitrary: recordText, weight: 9 }, { arbitrary: anyJson, weight: 1 }), (line) => {
        const value: unknown = JSON.parse(line);
        const fast = isLedgerRecord(value);
        expect(fast, line).toBe(schemaAcceptsUnchanged(value));
        if (fast) accepted++;
      }),
      { numRuns: 5000 },
    );
    // The generator must reach both answers often, or the property says little.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(4750);
  });

  it('accepts the records this toolkit writes, and refuses what the schema refuses', () => {
    const assign = { v: 1, type: 'assign', taskId: 't-1', role: 'backend', arm: 'canary', versionId: 'aaaaaaaaaaaa', canaryId: 'cccccccccccc', epoch: 0, at: '2026-01-01T00:00:00.000Z' };
    const outcome = { ...assign, type: 'outcome', passed: true, gates: { lint: true, tests: false }, costUsd: 0.25, durationMs: 1200 };
    const timeout = { ...assign, type: 'outcome', passed: false, timedOut: true };
    const late = { ...outcome, type: 'late' };
    for (const record of [assign, outcome, timeout, late, { ...assign, stratum: 'hard' }, { ...outcome, gates: {} }, { ...assign, canaryId: null, epoch: null }]) {
      const value: unknown = JSON.parse(JSON.stringify(record));
      expect(isLedgerRecord(value)).toBe(true);
      expect(schemaAcceptsUnchanged(value)).toBe(true);
    }
    for (const line of [
      JSON.stringify({ ...assign, passed: true }), // an outcome's key on an assignment: the schema strips it, so the check defers
      JSON.stringify({ ...outcome, gates: { constructor: true } }),
      JSON.stringify({ ...outcome, costUsd: -1 }),
      JSON.stringify({ ...assign, epoch: 1.5 }),
      JSON.stringify({ ...assign, taskId: 'a\nb' }),
      JSON.stringify({ ...timeout, passed: true }), // a timeout is a failure
      JSON.stringify({ ...late, timedOut: true }), // the schema strips it from a late outcome, so the check defers
      JSON.stringify({ ...assign, stratum: '' }),
      '{"v":1,"type":"outcome","taskId":"t","role":"r","arm":"stable","versionId":"x","canaryId":null,"epoch":null,"at":"a","passed":true,"gates":{"__proto__":true}}',
    ]) {
      expect(isLedgerRecord(JSON.parse(line)), line).toBe(false);
    }
  });
});
