import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { BernsteinError, projectPaths } from '@bernstein/store';
import { readRoleBundle, type LoadedBundle } from '@bernstein/prompt-versions';
import { bundleLayout, loadProjectConfig, type Actor, type ProjectConfig, type Transition } from '@bernstein/canary-router';
import type { RolloutStore, TransitionRequest } from './port.js';
import { AlertDispatcher } from './services/alerts.js';

export interface RolloutOptions {
  /** The project root: `.sdd/config.yaml` and the role bundles on disk (`templates`) are read from here. */
  root: string;
  store: RolloutStore;
  /** Clock, injectable for tests and simulations. */
  now?: () => Date;
  /** Source of new canary ids (12 lowercase hex); injectable so seeded simulations reproduce routing. */
  newCanaryId?: () => string;
}

/**
 * What every service works with: the store (through the port only), the project root, the
 * configuration (re-read whenever its file changes, so a long-running process sees edits), the
 * clock, and the alert dispatcher that delivers the outbox after each commit.
 */
export class Rollout {
  readonly root: string;
  readonly store: RolloutStore;
  readonly now: () => Date;
  readonly newCanaryId: () => string;
  readonly alerts: AlertDispatcher;
  private readonly configFile: string;
  private configCache: { key: string; config: Promise<ProjectConfig> } | undefined;

  constructor(options: RolloutOptions) {
    this.root = options.root;
    this.store = options.store;
    this.now = options.now ?? (() => new Date());
    this.newCanaryId = options.newCanaryId ?? (() => randomBytes(6).toString('hex'));
    this.configFile = projectPaths(options.root).config;
    this.alerts = new AlertDispatcher(this);
  }

  /** `.sdd/config.yaml`: parsed once per version of the file (size, mtime and inode decide). */
  async config(): Promise<ProjectConfig> {
    let key = 'missing';
    try {
      // Synchronous: a stat costs microseconds, less than a round trip through the thread pool.
      const info = statSync(this.configFile);
      key = `${info.size}:${info.mtimeMs}:${info.ino}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new BernsteinError('IO_ERROR', `${this.configFile}: cannot read (${(error as Error).message})`, { file: this.configFile }, { cause: error });
      }
    }
    if (this.configCache?.key !== key) {
      const config = loadProjectConfig({ config: this.configFile });
      this.configCache = { key, config };
      config.catch(() => {
        if (this.configCache?.config === config) this.configCache = undefined;
      });
    }
    return this.configCache.config;
  }

  /** Bundles read from disk, by role, with the config they were read under and the signature of every input. */
  private readonly bundles = new Map<string, { config: ProjectConfig; inputs: Array<[path: string, signature: string]>; loaded: LoadedBundle }>();

  /**
   * A role's bundle on disk (prompt-versions `readRoleBundle` through the configured layout), read
   * again only when the configuration or one of the files and folders it was read from changed
   * (stat: inode, size, times), so a long-running process does not re-read and re-hash the files
   * per request. A read whose inputs were modified within BUNDLE_SETTLE_MS is not reused: an edit
   * of the same size within the file system's clock tick could otherwise go unseen. Frozen: every
   * caller shares it. A bundle that cannot be read throws every time (nothing is kept).
   */
  async roleBundle(role: string, config?: ProjectConfig): Promise<LoadedBundle> {
    config ??= await this.config();
    const cached = this.bundles.get(role);
    if (cached && cached.config === config && cached.inputs.every(([path, signature]) => inputSignature(path).signature === signature)) return cached.loaded;
    this.bundles.delete(role);
    const startedAt = Date.now();
    const loaded = await readRoleBundle(bundleLayout(this.root, config), role);
    const inputs = loaded.inputs.map((path) => [path, inputSignature(path)] as const);
    deepFreeze(loaded);
    // Inputs are stat'ed after the read: a change in between shows as a mismatch next time.
    if (inputs.every(([, s]) => s.changedAt < startedAt - BUNDLE_SETTLE_MS)) this.bundles.set(role, { config, inputs: inputs.map(([path, s]) => [path, s.signature]), loaded });
    return loaded;
  }

  /** Where the role bundles on disk live. */
  async templatesDir(): Promise<string> {
    return join(this.root, (await this.config()).templates);
  }

  /** A transition request stamped with this rollout's clock and canary-id source. */
  request(transition: Transition, actor: Actor, reason: string, evidence?: unknown): TransitionRequest {
    return { transition, actor, reason, ...(evidence !== undefined ? { evidence } : {}), at: this.now().toISOString(), newCanaryId: this.newCanaryId() };
  }

  private readonly warned = new Set<string>();

  /** Hand `message` to `sink` the first time `key` is seen by this rollout (a warning per process, not per task). */
  warnOnce(key: string, message: string, sink: ((message: string) => void) | undefined): void {
    if (!sink || this.warned.has(key)) return;
    this.warned.add(key);
    sink(message);
  }

  /** Wait for alert deliveries in flight (at most `timeoutMs`), then release the store. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.alerts.drain(options.timeoutMs);
    await this.store.close();
  }
}

/** How long after its last change a bundle input is trusted not to change again unseen (see roleBundle). */
const BUNDLE_SETTLE_MS = 2000;

/** A file's or folder's signature, and when it last changed (ms); missing is a signature too. */
function inputSignature(path: string): { signature: string; changedAt: number } {
  try {
    const info = statSync(path, { bigint: true });
    return { signature: `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`, changedAt: Number((info.mtimeNs > info.ctimeNs ? info.mtimeNs : info.ctimeNs) / 1_000_000n) };
  } catch {
    return { signature: 'missing', changedAt: 0 };
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

export function openRollout(options: RolloutOptions): Rollout {
  return new Rollout(options);
}
