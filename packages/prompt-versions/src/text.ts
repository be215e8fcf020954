import { BernsteinError } from '@bernstein/store';

/**
 * How the bytes of a bundle file become the text that is hashed and stored. Pure functions: the
 * loader reads bytes, these decide what they mean.
 *
 * - Text is strict UTF-8 (a byte-order mark is kept as content), so no byte is ever lost.
 * - Line endings are normalised, CRLF and lone CR to LF: the one exception to "byte for byte",
 *   so a Windows checkout (`core.autocrlf=true`) and a Linux checkout give the same id.
 * - Binary files are refused for the role, with an error naming the file: a version is text that
 *   an agent reads, diffs and reviews. A binary file in a template tree (an image in a skill's
 *   assets) is left out with `bundle.ignore`.
 */

/** CRLF and lone CR become LF. */
export function normaliseLineEndings(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A NUL byte in the first 8 KiB: what git calls a binary file. */
export function looksBinary(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length, 8192);
  for (let i = 0; i < end; i++) if (bytes[i] === 0) return true;
  return false;
}

/**
 * 1-based line of the first byte sequence that is not UTF-8. Lines are split on 0x0A bytes, which
 * never occur inside a multi-byte sequence, so each line can be checked on its own.
 */
export function firstInvalidUtf8Line(bytes: Uint8Array): number | undefined {
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      try {
        strictUtf8.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      line++;
      start = i + 1;
    }
  }
  return undefined;
}

/**
 * The text of one bundle file, line endings normalised. Throws BUNDLE_INVALID naming `display`
 * (and the line) for a binary file or bytes that are not UTF-8.
 */
export function decodeBundleText(display: string, bytes: Uint8Array, role?: string): string {
  const details = { ...(role !== undefined ? { role } : {}), file: display };
  if (looksBinary(bytes)) {
    throw new BernsteinError(
      'BUNDLE_INVALID',
      `${display}: binary file (it contains NUL bytes); a bundle holds UTF-8 text only: add a pattern for it to bundle.ignore in .sdd/config.yaml, or remove it`,
      { ...details, binary: true },
    );
  }
  try {
    return normaliseLineEndings(strictUtf8.decode(bytes));
  } catch {
    const line = firstInvalidUtf8Line(bytes);
    throw new BernsteinError('BUNDLE_INVALID', `${display}${line !== undefined ? `:${line}` : ''}: not valid UTF-8 text; bundle files must be UTF-8`, { ...details, line });
  }
}
