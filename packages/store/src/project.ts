import { resolve, join } from 'node:path';
import { withLock, type LockHandle, type LockOptions } from './lock.js';

/** Where everything lives under a project root. The only place these names are spelled. */
export interface ProjectPaths {
  root: string;
  sdd: string;
  /** The user's configuration: read, never written by the tools. */
  config: string;
  /** Version registry and each role's history. */
  registry: string;
  /** Immutable content of each version, one file per version id (content-addressed). */
  versionsDir: string;
  /** Stable/canary/rejected per role: the routing state. */
  canaryState: string;
  /** Append-only: task assignments and outcomes. */
  ledger: string;
  /** Append-only: every transition with actor, reason and evidence. */
  audit: string;
  /** Append-only: the alert outbox (alerts written with their transition, and their deliveries). */
  outbox: string;
  /** Derived, rebuildable: per-canary outcome counts folded from the ledger up to an offset. */
  aggregates: string;
  /** Derived, rebuildable: the ledger's task ids hashed and sorted, pointing at their lines. */
  taskIndex: string;
  /** Derived: the last `canary status`, keyed on the store's revision. */
  statusMemo: string;
  /** The inter-process lock every writer takes. */
  lock: string;
}

export function projectPaths(root: string): ProjectPaths {
  const absRoot = resolve(root);
  const sdd = join(absRoot, '.sdd');
  return {
    root: absRoot,
    sdd,
    config: join(sdd, 'config.yaml'),
    registry: join(sdd, 'config', 'prompt_versions.json'),
    versionsDir: join(sdd, 'versions'),
    canaryState: join(sdd, 'config', 'canary.json'),
    ledger: join(sdd, 'ledger.jsonl'),
    audit: join(sdd, 'audit.jsonl'),
    outbox: join(sdd, 'outbox.jsonl'),
    aggregates: join(sdd, 'cache', 'aggregates.json'),
    taskIndex: join(sdd, 'cache', 'tasks.idx'),
    statusMemo: join(sdd, 'cache', 'status.json'),
    lock: join(sdd, 'lock'),
  };
}

/**
 * Run `fn` as the only writer of the project. All read-modify-write of files under `.sdd/`
 * happens inside this lock; readers never need it because every replace is atomic and logs
 * tolerate a torn tail.
 */
export function withProjectLock<T>(paths: ProjectPaths, fn: (handle: LockHandle) => Promise<T>, options?: LockOptions): Promise<T> {
  return withLock(paths.lock, fn, options);
}
