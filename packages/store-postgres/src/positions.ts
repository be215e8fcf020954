import { BernsteinError } from '@bernstein/store';
import { z } from 'zod';

/**
 * Ledger positions and audit cursors, made from PostgreSQL snapshots rather than sequence
 * numbers. Two hosts' transactions take sequence numbers in one order and may commit in the
 * other, so "everything after seq N" would skip a record that committed late. A snapshot
 * (`pg_current_snapshot()`) says exactly which transactions' writes a read saw; every row carries
 * the id of the transaction that wrote it (`txid`), so "what is new since that read" is the rows
 * whose transaction was not visible in the snapshot: nothing is skipped and nothing repeats.
 */

/** What one read saw: its snapshot, plus its own transaction when the read ran inside one that wrote. */
export const SeenSchema = z.object({
  snap: z.string().regex(/^\d+:\d+:[\d,]*$/),
  self: z.string().regex(/^\d+$/).nullable(),
});
export type Seen = z.infer<typeof SeenSchema>;

/** Audit cursor: returned = (visible in `seen` and key <= `key`) + `extra` (seqs), see store.ts readAudit. */
export const AuditCursorSchema = z.object({
  v: z.literal(1),
  seen: SeenSchema.nullable(),
  /** [revision, seq] of the last event counted as returned; null = no bound (everything visible in `seen`). */
  key: z.tuple([z.number().int(), z.number().int()]).nullable(),
  extra: z.array(z.number().int()),
});
export type AuditCursorData = z.infer<typeof AuditCursorSchema>;

const LedgerPositionSchema = z.object({ v: z.literal(1), seen: SeenSchema });

function encode(prefix: string, value: unknown): string {
  return `${prefix}${Buffer.from(JSON.stringify(value)).toString('base64url')}`;
}

function decode<T>(prefix: string, text: string, schema: z.ZodType<T>, what: string): T {
  if (typeof text !== 'string' || !text.startsWith(prefix)) {
    throw new BernsteinError('INVALID_ARGUMENT', `not a ${what} of the PostgreSQL store: ${JSON.stringify(String(text).slice(0, 40))}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text.slice(prefix.length), 'base64url').toString('utf8'));
  } catch {
    throw new BernsteinError('INVALID_ARGUMENT', `malformed ${what}: ${JSON.stringify(text.slice(0, 40))}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new BernsteinError('INVALID_ARGUMENT', `malformed ${what}: ${JSON.stringify(text.slice(0, 40))}`);
  return parsed.data;
}

export const encodeLedgerPosition = (seen: Seen): string => encode('pgl1.', { v: 1, seen });
export const decodeLedgerPosition = (text: string): Seen => decode('pgl1.', text, LedgerPositionSchema, 'ledger position').seen;
export const encodeAuditCursor = (cursor: AuditCursorData): string => encode('pga1.', cursor);
export const decodeAuditCursor = (text: string): AuditCursorData => decode('pga1.', text, AuditCursorSchema, 'audit cursor');

/**
 * SQL: "the row's transaction was visible to `seen`" for a table alias `t` with a `txid` column,
 * given the snapshot and self parameters' positions ($n).
 */
export function visibleTo(snapParam: string, selfParam: string, column = 'txid'): string {
  return `(pg_visible_in_snapshot(${column}, ${snapParam}::pg_snapshot) OR coalesce(${column} = ${selfParam}::xid8, false))`;
}
