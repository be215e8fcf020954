import { isReservedName } from './bundle.js';
import type { LedgerRecord } from './ledger.js';

/*
 * Hand-written checks of the ledger's record kinds, for the paths that validate every line
 * of a large ledger (rebuilding aggregates and the task index, reading a task's lines back).
 * The zod schemas in ledger.ts stay the definition of the format: a check here answers true only
 * for a value the schema accepts and returns unchanged (no key stripped, nothing coerced), and
 * callers fall back to the schema whenever it answers false, so the schema still decides every
 * value the check does not, and writes every error message. ledger-check.test.ts holds the two to
 * the same answers (fast-check). Inputs are values made by JSON.parse (plain objects, arrays,
 * strings, numbers, booleans, null).
 */

const CONTROL_CHARACTER = /[\u0000-\u001f]/;
const HIGH_SURROGATE = /[\ud800-\udbff]/;

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
}

/** Length in code points (zod measures string lengths so), counted only when it matters. */
function withinCodePoints(text: string, max: number): boolean {
  if (text.length <= max) return true;
  if (!HIGH_SURROGATE.test(text)) return false;
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    if ((text.charCodeAt(i) & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count <= max;
}

/** TaskIdSchema: 1 to 512 characters, no control characters. */
export function isTaskId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && withinCodePoints(value, 512) && !CONTROL_CHARACTER.test(value);
}

/** GateResultsSchema: gate name (1 to 128 characters, not a built-in property name) to boolean. */
export function isGateResults(value: unknown): value is Record<string, boolean> {
  if (!isPlainRecord(value) || Object.hasOwn(value, '__proto__')) return false;
  for (const name in value) {
    if (!Object.hasOwn(value, name)) return false;
    if (typeof value[name] !== 'boolean' || name.length === 0 || !withinCodePoints(name, 128) || isReservedName(name)) return false;
  }
  return true;
}

/** costUsd / durationMs: a finite number >= 0. */
export function isMetricValue(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** The fields of both record kinds (`Where` in ledger.ts), checked on `record`. */
function hasWhere(record: Record<string, unknown>): boolean {
  const { canaryId, epoch } = record;
  return (
    record.v === 1 &&
    isTaskId(record.taskId) &&
    typeof record.role === 'string' &&
    (record.arm === 'stable' || record.arm === 'canary') &&
    typeof record.versionId === 'string' &&
    (canaryId === null || typeof canaryId === 'string') &&
    (epoch === null || Number.isSafeInteger(epoch)) &&
    typeof record.at === 'string'
  );
}

const WHERE_KEYS = 9; // v, type, taskId, role, arm, versionId, canaryId, epoch, at
const RESULT_OPTIONAL = ['gates', 'costUsd', 'durationMs'] as const;

/** StratumSchema: 1 to 128 characters, no control characters. */
function isStratum(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && withinCodePoints(value, 128) && !CONTROL_CHARACTER.test(value);
}

/** How many of the optional result fields `value` has, or -1 if one of them is not valid. */
function resultOptionals(value: Record<string, unknown>): number {
  let optional = 0;
  for (const key of RESULT_OPTIONAL) {
    if (!Object.hasOwn(value, key)) continue;
    optional++;
    const field = value[key];
    if (key === 'gates' ? !isGateResults(field) : !isMetricValue(field)) return -1;
  }
  return optional;
}

/**
 * True iff `value` is a ledger record exactly as `LedgerRecordSchema` would return it. False
 * means "ask the schema" (it may still accept the value, e.g. with keys it strips).
 */
export function isLedgerRecord(value: unknown): value is LedgerRecord {
  if (!isPlainRecord(value)) return false;
  let keys = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return false;
    keys++;
  }
  if (value.type === 'assign') {
    if (!hasWhere(value)) return false;
    if (!Object.hasOwn(value, 'stratum')) return keys === WHERE_KEYS;
    return keys === WHERE_KEYS + 1 && isStratum(value.stratum);
  }
  if ((value.type !== 'outcome' && value.type !== 'late') || typeof value.passed !== 'boolean' || !hasWhere(value)) return false;
  const optional = resultOptionals(value);
  if (optional < 0) return false;
  if (value.type === 'outcome' && Object.hasOwn(value, 'timedOut')) {
    // A timeout is a failure: the schema refuses `timedOut: true` with `passed: true`.
    return value.timedOut === true && value.passed === false && keys === WHERE_KEYS + 2 + optional;
  }
  return keys === WHERE_KEYS + 1 + optional;
}
