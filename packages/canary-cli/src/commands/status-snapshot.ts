import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RoleView } from './status-view.js';

/**
 * A memo of `canary status`, keyed by the exact bytes of everything status reads: the config,
 * the routing state, the registry, the aggregates, and the ledger's size and mtime (it is
 * append-only), plus the stat signature of every role file and folder the `disk` entries were
 * read from. When the key matches, status prints the memo without loading the validation
 * and statistics code; any change to any input (including a hand edit or damage) misses the
 * memo and takes the full, validating path. Only that path writes a memo.
 *
 * This module imports nothing heavy on purpose: it is the start-up fast path.
 */
// 3: roles carry their disk entry and lastCanary. 4: canaries carry awaiting, epochs, attrition, strata.
const SNAPSHOT_VERSION = 4;

interface Snapshot {
  schemaVersion: number;
  key: string;
  /** The role files and folders the `disk` entries were read from, with their stat signature. */
  inputs: Array<[path: string, signature: string]>;
  roles: RoleView[];
}

/** Size, times and inode (following symlinks), or "missing": any edit, addition or removal changes a file's or its folder's signature. */
async function signature(path: string): Promise<string> {
  try {
    const info = await stat(path);
    return `${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.ino}`;
  } catch {
    return 'missing';
  }
}

async function inputsUnchanged(inputs: Snapshot['inputs']): Promise<boolean> {
  for (const [path, expected] of inputs) if ((await signature(path)) !== expected) return false;
  return true;
}

function snapshotFile(dir: string): string {
  return join(dir, '.sdd', 'cache', 'status.json');
}

async function bytesOrMissing(file: string): Promise<Buffer | string> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}

/** The memo key of the project's current inputs. */
export async function statusKey(dir: string): Promise<string> {
  const sdd = join(dir, '.sdd');
  const hash = createHash('sha256').update(`bernstein-status-${SNAPSHOT_VERSION}\0`);
  for (const file of ['config.yaml', 'config/canary.json', 'config/prompt_versions.json', 'cache/aggregates.json']) {
    const content = await bytesOrMissing(join(sdd, file));
    hash.update(`${file}\0${typeof content === 'string' ? content : content.length}\0`);
    if (typeof content !== 'string') hash.update(content);
  }
  try {
    const ledger = await stat(join(sdd, 'ledger.jsonl'));
    hash.update(`ledger\0${ledger.size}\0${ledger.mtimeMs}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    hash.update('ledger\0missing');
  }
  return hash.digest('hex');
}

/** The memoized roles, if the memo matches the project's current inputs; otherwise null. */
export async function readStatusSnapshot(dir: string): Promise<RoleView[] | null> {
  try {
    const snapshot = JSON.parse(await readFile(snapshotFile(dir), 'utf8')) as Snapshot;
    if (snapshot?.schemaVersion !== SNAPSHOT_VERSION || typeof snapshot.key !== 'string' || !Array.isArray(snapshot.roles) || !Array.isArray(snapshot.inputs)) return null;
    return snapshot.key === (await statusKey(dir)) && (await inputsUnchanged(snapshot.inputs)) ? snapshot.roles : null;
  } catch {
    // No memo, a damaged memo, or an unreadable input: the full path reports what is wrong.
    return null;
  }
}

/** Save a memo (atomic rename). Best effort: a failure only costs the next run some time. */
export async function writeStatusSnapshot(dir: string, key: string, roles: RoleView[], inputPaths: readonly string[] = []): Promise<void> {
  const file = snapshotFile(dir);
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    // Only inside an existing .sdd/: status never creates a project.
    await mkdir(join(dir, '.sdd', 'cache')).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    const inputs: Snapshot['inputs'] = [];
    for (const path of new Set(inputPaths)) inputs.push([path, await signature(path)]);
    await writeFile(temp, `${JSON.stringify({ schemaVersion: SNAPSHOT_VERSION, key, inputs, roles } satisfies Snapshot)}\n`);
    await rename(temp, file);
  } catch {
    await import('node:fs/promises').then(({ rm }) => rm(temp, { force: true })).catch(() => undefined);
  }
}
