/**
 * Every failure the toolkit reports on purpose is a BernsteinError with a stable `code`.
 * The CLI prints `error[<code>]: <message>` on one line and exits non-zero; library users can
 * switch on `code` instead of parsing messages.
 */
export type ErrorCode =
  | 'MALFORMED_FILE'
  | 'UNSUPPORTED_SCHEMA_VERSION'
  | 'LOCK_TIMEOUT'
  | 'LOCK_COMPROMISED'
  | 'INVALID_ARGUMENT'
  | 'INVALID_ROLE'
  | 'ROLE_NOT_FOUND'
  | 'BUNDLE_INVALID'
  /** A role folder with no file and no model config: not a role yet. */
  | 'BUNDLE_EMPTY'
  | 'VERSION_NOT_FOUND'
  | 'VERSION_AMBIGUOUS'
  | 'CANARY_EXISTS'
  | 'NO_CANARY'
  | 'CONFLICT'
  | 'TASK_UNKNOWN'
  | 'DUPLICATE_OUTCOME'
  | 'CONFIG_INVALID'
  | 'IO_ERROR';

export class BernsteinError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BernsteinError';
    this.code = code;
    this.details = details;
  }
}

export function isBernsteinError(error: unknown, code?: ErrorCode): error is BernsteinError {
  return error instanceof BernsteinError && (code === undefined || error.code === code);
}

/** A file that exists but cannot be trusted. `line` is 1-based when known. */
export class MalformedFileError extends BernsteinError {
  readonly file: string;
  readonly line: number | undefined;

  constructor(file: string, problem: string, line?: number, options?: { cause?: unknown }) {
    super('MALFORMED_FILE', `${file}${line !== undefined ? `:${line}` : ''}: ${problem}`, { file, line }, options);
    this.file = file;
    this.line = line;
  }
}
