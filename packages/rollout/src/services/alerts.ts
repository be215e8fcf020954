import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AuditEvent, ProjectConfig } from '@bernstein/canary-router';
import { isBernsteinError } from '@bernstein/store';
import { MAX_ALERT_ROUNDS, type AlertAttempt, type AlertChannel, type AlertPayload, type OutboxEntry } from '../core/outbox.js';
import type { Rollout } from '../rollout.js';

export interface AlertDelivery {
  channel: AlertChannel;
  ok: boolean;
  ms: number;
  error?: string;
}

/** What one delivery round did with one alert. */
export interface AlertReport {
  payload: AlertPayload;
  deliveries: AlertDelivery[];
  status: OutboxEntry['status'];
}

/**
 * Delivers the alert outbox after commit. Every service that commits transitions calls `kick()`;
 * delivery then runs in the background (a slow or dead endpoint never holds the command or
 * request that caused the alert): claim pending alerts (a lease, so two processes never send the
 * same alert at once), send each to the configured webhook (header `Idempotency-Key: <eventId>`)
 * and command, each bounded by `alerts.timeout_ms`, then record the attempts and an
 * `alert-delivered` / `alert-failed` audit note in one unit of work. A channel that failed is
 * retried by later rounds (the next command, or a timer in a long-running process), up to
 * MAX_ALERT_ROUNDS; a crash at any point leaves the alert pending for the next round.
 */
export class AlertDispatcher {
  private running: Promise<void> | null = null;
  private again = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly listeners = new Set<(report: AlertReport) => void>();
  private readonly errorListeners = new Set<(error: unknown) => void>();
  /** The latest reports of this process, by event id (bounded). */
  private readonly recent = new Map<string, AlertReport>();

  constructor(private readonly rollout: Rollout) {}

  /** Start a delivery round in the background (coalesced with one already running). */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Run a delivery round now and wait for it (and any running one). */
  async flush(): Promise<void> {
    this.kick();
    await this.running;
  }

  /** Wait for deliveries in flight, at most `timeoutMs` (unbounded when omitted). */
  async drain(timeoutMs?: number): Promise<void> {
    if (!this.running) return;
    if (timeoutMs === undefined) {
      while (this.running) await this.running;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    const done = (async () => {
      while (this.running) await this.running;
    })();
    await Promise.race([done, timeout]);
    clearTimeout(timer);
  }

  onReport(listener: (report: AlertReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A round that failed as a whole (the store was unavailable): the alerts stay pending. */
  onError(listener: (error: unknown) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** What this process delivered for these events (in their order; events that do not alert, or not delivered yet, are left out). */
  reportsFor(events: readonly AuditEvent[]): AlertReport[] {
    return events.flatMap((e) => {
      const report = this.recent.get(`rev-${e.revision}`);
      return report ? [report] : [];
    });
  }

  /** Stop retrying (a long-running process shutting down). */
  stop(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.round();
      } catch (error) {
        for (const listener of this.errorListeners) listener(error);
      }
    } while (this.again);
  }

  private async round(): Promise<void> {
    const config = await this.rollout.config();
    const { timeoutMs } = config.canary.alerts;
    const leaseMs = timeoutMs * 2 + 1000;
    const store = this.rollout.store;
    // Most rounds find nothing: look without taking any lock first.
    if ((await store.listAlerts({ status: 'pending' })).length === 0) return;
    const claimed = await store.transaction({ roles: [] }, (tx) => tx.claimAlerts({ holder: this.holder, leaseMs, limit: 100 }));
    if (claimed.length === 0) return;
    // All at once: the wait is one timeout, however many alerts there are.
    const rounds = await Promise.all(claimed.map(async (entry) => ({ entry, deliveries: await deliver(config, entry) })));
    const at = this.rollout.now().toISOString();
    const reports: AlertReport[] = [];
    let retry = false;
    await store.transaction({ roles: [] }, async (tx) => {
      for (const { entry, deliveries } of rounds) {
        const attempts: AlertAttempt[] = deliveries.map((d) => ({ at, channel: d.channel, ok: d.ok, ms: d.ms, ...(d.error !== undefined ? { error: d.error } : {}) }));
        const all = [...entry.attempts, ...attempts];
        const failing = channelsOf(config).filter((channel) => !all.some((a) => a.channel === channel && a.ok));
        const roundsSoFar = Math.max(0, ...channelsOf(config).map((channel) => all.filter((a) => a.channel === channel).length));
        const status: OutboxEntry['status'] = failing.length === 0 ? 'delivered' : roundsSoFar >= MAX_ALERT_ROUNDS ? 'failed' : 'pending';
        try {
          await tx.completeAlert(entry.id, this.holder, { attempts, status });
        } catch (error) {
          // The lease ran out and another process took the alert over: its round records the outcome.
          if (isBernsteinError(error, 'CONFLICT')) continue;
          throw error;
        }
        await tx.appendAuditNotes(notesFor(entry, deliveries, at));
        if (status === 'pending') retry = true;
        reports.push({ payload: entry.payload, deliveries, status });
      }
    });
    for (const report of reports) {
      this.recent.set(report.payload.eventId, report);
      if (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value!);
      for (const listener of this.listeners) listener(report);
    }
    if (retry) this.scheduleRetry(timeoutMs);
  }

  /** A long-running process retries on its own; a short one leaves it to the next command. */
  private scheduleRetry(timeoutMs: number): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, Math.max(1000, timeoutMs * 2));
    this.retryTimer.unref();
  }
}

function channelsOf(config: ProjectConfig): AlertChannel[] {
  const { webhook, command } = config.canary.alerts;
  return [...(webhook ? (['webhook'] as const) : []), ...(command ? (['command'] as const) : [])];
}

/** Send to every configured channel that has not taken this alert yet. */
async function deliver(config: ProjectConfig, entry: OutboxEntry): Promise<AlertDelivery[]> {
  const { webhook, command, timeoutMs } = config.canary.alerts;
  const done = new Set(entry.attempts.filter((a) => a.ok).map((a) => a.channel));
  const deliveries: Array<Promise<AlertDelivery>> = [];
  if (webhook && !done.has('webhook')) deliveries.push(postWebhook(webhook, entry.payload, timeoutMs));
  if (command && !done.has('command')) deliveries.push(runCommand(command, entry.payload, timeoutMs));
  return Promise.all(deliveries);
}

/** The audit notes of one round: history shows every alert delivered and every failed attempt. */
function notesFor(entry: OutboxEntry, deliveries: readonly AlertDelivery[], at: string): AuditEvent[] {
  const { payload } = entry;
  const base = { v: 1 as const, at, role: payload.role, from: payload.from, to: payload.to, canaryId: payload.canaryId, actor: 'auto' as const, revision: entry.revision };
  return deliveries.map((d) =>
    d.ok
      ? { ...base, action: 'alert-delivered' as const, reason: `${d.channel} alert for the ${payload.event} delivered (event ${payload.eventId})`, evidence: { channel: d.channel, eventId: payload.eventId, ms: d.ms } }
      : { ...base, action: 'alert-failed' as const, reason: `${d.channel} alert for the ${payload.event} failed: ${d.error}`, evidence: { channel: d.channel, eventId: payload.eventId, error: d.error, ms: d.ms } },
  );
}

async function postWebhook(url: string, payload: AlertPayload, timeoutMs: number): Promise<AlertDelivery> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': payload.eventId },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Drain the body so the socket is released promptly.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) return { channel: 'webhook', ok: false, ms: Date.now() - started, error: `HTTP ${response.status}` };
    return { channel: 'webhook', ok: true, ms: Date.now() - started };
  } catch (error) {
    const message = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : ((error as Error & { cause?: Error }).cause?.message ?? (error as Error).message);
    return { channel: 'webhook', ok: false, ms: Date.now() - started, error: message };
  }
}

function runCommand(command: string, payload: AlertPayload, timeoutMs: number): Promise<AlertDelivery> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ channel: 'command', ok, ms: Date.now() - started, ...(error ? { error } : {}) });
    };
    // Own process group, so a timeout kills the shell and whatever it started.
    const child = spawn(command, { shell: true, stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      done(false, `did not finish within ${timeoutMs} ms`);
    }, timeoutMs);
    child.on('error', (error) => done(false, error.message));
    child.on('close', (code, signal) => {
      if (code === 0) done(true);
      else done(false, `exited with ${signal ?? `code ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`);
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(JSON.stringify(payload));
    child.unref();
  });
}

