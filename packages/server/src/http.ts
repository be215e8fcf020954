/** Small HTTP helpers shared by the handlers: JSON errors, bounded bodies, status codes. */
import { BernsteinError, type ErrorCode } from '@bernstein/store';
import { HTTPException } from 'hono/http-exception';

/** An error answered as `{"error":{"code","message"}}` with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_ROLE: 400,
  CONFIG_INVALID: 400,
  BUNDLE_INVALID: 422,
  ROLE_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  TASK_UNKNOWN: 404,
  NO_CANARY: 409,
  VERSION_AMBIGUOUS: 409,
  CANARY_EXISTS: 409,
  CONFLICT: 409,
  DUPLICATE_OUTCOME: 409,
  LOCK_TIMEOUT: 503,
};

/** Status, code and one-line message for any error; unexpected ones say nothing about internals. */
export function describeError(error: unknown): { status: number; code: string; message: string; internal: boolean } {
  if (error instanceof HttpError) return { status: error.status, code: error.code, message: error.message, internal: false };
  if (error instanceof BernsteinError) return { status: STATUS_OF[error.code] ?? 500, code: error.code, message: oneLine(error.message), internal: false };
  if (error instanceof HTTPException) {
    return { status: error.status, code: error.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', message: oneLine(error.message || 'bad request'), internal: false };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error (the server log has the details)', internal: true };
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * The request body as text, refusing more than `limit` bytes (by Content-Length up front, and
 * while streaming for chunked bodies) without buffering the excess.
 */
export async function readBody(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is ${declared} bytes; at most ${limit} are accepted here`);
  // A declared length within the limit bounds the body (the HTTP parser reads no more than it):
  // read it whole, which on Node skips building a web ReadableStream per request (the costliest
  // part of a small request). Chunked bodies stream below, counted as they come.
  if (Number.isFinite(declared)) return declared === 0 ? '' : request.text();
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${limit} bytes`);
    }
    chunks.push(value);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text;
}

/** Parse JSON text; `null` when it is not JSON. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `the body is not valid JSON (${(error as Error).message})` };
  }
}
