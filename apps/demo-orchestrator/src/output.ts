import { isAbsolute, relative } from 'node:path';
import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

/**
 * Human output. On a terminal a status line at the bottom is rewritten in place (throttled) and
 * permanent lines are printed above it; elsewhere only permanent lines are printed.
 */
export class Terminal {
  readonly colors: Colors;
  private statusShown = false;
  private lastStatusAt = 0;

  constructor(
    private readonly write: (text: string) => void,
    readonly tty: boolean,
    color: boolean,
  ) {
    this.colors = pc.createColors(color);
  }

  static forStream(stream: NodeJS.WriteStream): Terminal {
    const tty = Boolean(stream.isTTY);
    const color = tty && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
    return new Terminal((text) => stream.write(text), tty, color);
  }

  /** A terminal that prints nothing (for library use and tests). */
  static silent(): Terminal {
    return new Terminal(() => undefined, false, false);
  }

  line(text = ''): void {
    this.clearStatus();
    this.write(`${text}\n`);
  }

  status(text: string, force = false): void {
    if (!this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastStatusAt < 80) return;
    this.lastStatusAt = now;
    const width = Math.max(20, (process.stdout.columns || 100) - 1);
    const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
    const shown = plain.length > width ? `${plain.slice(0, width - 1)}…` : text;
    this.write(`\r\u001b[2K${shown}`);
    this.statusShown = true;
  }

  clearStatus(): void {
    if (!this.statusShown) return;
    this.write('\r\u001b[2K');
    this.statusShown = false;
  }
}

export function percent(passed: number, tasks: number): string {
  return tasks === 0 ? '–' : `${Math.round((passed / tasks) * 100)} %`;
}

/** A plain aligned table. */
export function table(rows: ReadonlyArray<readonly string[]>, indent = '  '): string[] {
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows.map((row) =>
    (indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visible(cell)))).join('  ')).trimEnd(),
  );
}

/** A path relative to the current folder when it is inside it, else absolute. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
