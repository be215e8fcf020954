import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BernsteinError, projectPaths } from '@bernstein/store';
import { loadProjectConfig, type Actor, type ProjectConfig, type Transition } from '@bernstein/canary-router';
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
      const info = await stat(this.configFile);
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

export function openRollout(options: RolloutOptions): Rollout {
  return new Rollout(options);
}
