import { BernsteinError } from '@bernstein/store';
import { createColors } from 'picocolors';

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
  /** True when stdout is a terminal (progress bars only then). */
  isTty: boolean;
  /** Colour on stdout / stderr (see `colourWanted`); absent = none. */
  colour?: { stdout: boolean; stderr: boolean };
}

/**
 * Colour only on a terminal, never when piped. `FORCE_COLOR` (any value but `0` / `false`) turns it
 * on anywhere and wins over `NO_COLOR`, as in Node itself; `NO_COLOR` (any non-empty value) turns
 * it off. picocolors' own detection is not used because it also colours under `CI` when piped.
 */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTty: Boolean(process.stdout.isTTY),
  colour: { stdout: colourWanted(process.stdout), stderr: colourWanted(process.stderr) },
};

export type Colours = ReturnType<typeof createColors>;

/** The colour functions for one of the io's streams (identity functions when colour is off). */
export function colours(io: Io, stream: 'stdout' | 'stderr' = 'stdout'): Colours {
  return createColors(Boolean(io.colour?.[stream]));
}

/** `error: ...` / `warning: ...` / `notice: ...` prefixes, coloured on a terminal. */
export function errorLine(io: Io, message: string): string {
  return `${colours(io, 'stderr').red('error:')} ${cutLongInput(oneLine(message))}\n`;
}
export function warningLine(io: Io, message: string): string {
  return `${colours(io, 'stderr').yellow('warning:')} ${cutLongInput(oneLine(message))}\n`;
}

/**
 * Error messages echo input (task ids, option values, paths); a 5,000-character id must not fill
 * the terminal. Any run of non-space characters longer than MAX_ECHOED (long enough for any sane path) is cut to its head and
 * tail around `…(N chars)…`, and a whole line to MAX_LINE.
 */
export const MAX_ECHOED = 160;
export const MAX_LINE = 1000;
export function cutLongInput(text: string): string {
  const cut = text.replace(new RegExp(`\\S{${MAX_ECHOED + 1},}`, 'g'), (run) => {
    // Quotes and punctuation around the input stay; the count is of the input itself.
    const [, open = '', core = run, close = ''] = /^(["'`(]*)(.*?)(["'`),.;:]*)$/s.exec(run) ?? [];
    return `${open}${core.slice(0, 100)}…(${core.length.toLocaleString('en-US')} chars)…${core.slice(-40)}${close}`;
  });
  return cut.length > MAX_LINE ? `${cut.slice(0, MAX_LINE)}…(${cut.length.toLocaleString('en-US')} chars in all)` : cut;
}

/** Exit codes: 0 success, 1 bad input or refused operation, 2 usage error, 70 internal error. */
export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 70 } as const;

/** One line on stderr, never a stack trace (unless BERNSTEIN_DEBUG is set). */
export function reportError(io: Io, error: unknown): number {
  if (error instanceof BernsteinError) {
    io.stderr(errorLine(io, `${error.message} [${error.code}]`));
    return EXIT.failed;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(errorLine(io, `internal error: ${message} (set BERNSTEIN_DEBUG=1 for details)`));
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
export function table(rows: readonly (readonly string[])[], header?: readonly string[], c?: Colours): string {
  const all = header ? [c ? header.map((cell) => c.bold(cell)) : header, ...rows] : [...rows];
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
