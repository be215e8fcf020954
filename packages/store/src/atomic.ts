import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import writeFileAtomicLib from 'write-file-atomic';
import { assertLocksHeld } from './lock.js';

/**
 * Replace `file` so that a reader sees either the old or the new content, never a mix:
 * write-file-atomic writes a sibling temp file, fsyncs it and renames it over the target.
 */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await assertLocksHeld();
  await writeFileAtomicLib(file, data, { fsync: true });
}

/** JSON with a trailing newline, pretty-printed so hand inspection and diffs stay readable. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
