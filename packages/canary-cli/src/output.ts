import { BernsteinError } from '@bernstein/store';

/** Global options every command receives. */
export interface GlobalOptions {
  dir: string;
  json: boolean;
  /** `--store <url>` when given (see selectStore in @bernstein/store-postgres). */
  store?: string | undefined;
}

/** Where a command writes: injectable so tests and the demo can capture output. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stdout is a terminal: colour and progress bars only then. */
  isTty: boolean;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTty: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
};

/** Exit codes: 0 success, 1 bad input or refused operation, 2 usage error, 70 internal error. */
export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 70 } as const;

/** One line on stderr, never a stack trace (unless BERNSTEIN_DEBUG is set). */
export function reportError(io: Io, error: unknown): number {
  if (error instanceof BernsteinError) {
    io.stderr(`error: ${oneLine(error.message)} [${error.code}]\n`);
    return EXIT.failed;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`error: internal error: ${oneLine(message)} (set BERNSTEIN_DEBUG=1 for details)\n`);
  if (process.env.BERNSTEIN_DEBUG && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
  return EXIT.internal;
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export function printJson(io: Io, value: unknown): void {
  io.stdout(`${JSON.stringify(value)}\n`);
}

/** A plain aligned table for humans. */
export function table(rows: readonly (readonly string[])[], header?: readonly string[]): string {
  const all = header ? [header, ...rows] : [...rows];
  if (all.length === 0) return '';
  const widths = all[0]!.map((_, column) => Math.max(...all.map((row) => visibleLength(row[column] ?? ''))));
  return `${all
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell + ' '.repeat(widths[column]! - visibleLength(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

export function invalidArgument(message: string): BernsteinError {
  return new BernsteinError('INVALID_ARGUMENT', message);
}
