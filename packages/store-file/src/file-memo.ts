import { statSync } from 'node:fs';
import { BernsteinError } from '@bernstein/store';

/**
 * What `stat` says about a file, as one string: inode, size, and modification and change times in
 * nanoseconds. Every writer of `.sdd/` either replaces a file (write-file-atomic renames a new
 * inode over it) or appends to it (the size grows), so an equal signature means nobody wrote the
 * file since, in this process or another. Synchronous: one stat costs microseconds, less than a
 * round trip through the thread pool.
 */
export function fileSignature(file: string): string {
  try {
    const info = statSync(file, { bigint: true });
    return `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`, { file }, { cause: error });
  }
}

/**
 * A parsed file kept in memory while its signature holds: a long-lived process (the server)
 * parses the state and the registry once per change instead of once per request, and still sees
 * every write of another process (the CLI) at its next read.
 */
export class FileMemo<T> {
  private entry: { signature: string; value: T } | undefined;

  constructor(
    private readonly file: string,
    private readonly read: () => Promise<T>,
  ) {}

  async get(): Promise<T> {
    // Signature first, then the read: a write in between leaves a newer value under an older
    // signature, which only costs a re-read next time (never a stale answer).
    const signature = fileSignature(this.file);
    if (this.entry?.signature === signature) return this.entry.value;
    const value = await this.read();
    this.entry = { signature, value };
    return value;
  }

  /** Forget the value (after writing the file: the next get reads what was written). */
  invalidate(): void {
    this.entry = undefined;
  }
}

/** Freeze a parsed JSON value all the way down, so that sharing it between callers is safe. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}
