import { spawn } from 'node:child_process';
import type { AuditEvent, FileProject, ProjectConfig } from '@bernstein/canary-router';

/** The JSON body POSTed to the webhook and written to the alert command's stdin. */
export interface AlertPayload {
  /** Human-readable, Slack-style. */
  text: string;
  event: 'rollback' | 'promotion';
  role: string;
  from: string | null;
  to: string | null;
  canaryId: string | null;
  actor: string;
  at: string;
  reason: string;
  evidence: unknown;
}

export interface AlertDelivery {
  channel: 'webhook' | 'command';
  ok: boolean;
  ms: number;
  error?: string;
}

/** Transitions that alert: rollbacks (automatic or manual, instant included) and promotions. */
export function alertPayload(event: AuditEvent): AlertPayload | null {
  const kind = event.action === 'rollback' || event.action === 'instant-rollback' ? 'rollback' : event.action === 'promote' ? 'promotion' : null;
  if (!kind) return null;
  const verb = kind === 'rollback' ? 'rolled back' : 'promoted';
  const subject = kind === 'rollback' ? event.from : event.to;
  const who = event.actor === 'auto' ? '' : ` (by ${event.actor})`;
  return {
    text: `[bernstein] ${verb} ${event.role} ${subject ?? ''}${who}: ${event.reason}`.replace(/\s+/g, ' '),
    event: kind,
    role: event.role,
    from: event.from,
    to: event.to,
    canaryId: event.canaryId,
    actor: event.actor,
    at: event.at,
    reason: event.reason,
    evidence: event.evidence,
  };
}

/**
 * Deliver alerts for applied transitions to the configured webhook and command. Runs after the
 * transition is durable and outside the project lock; each delivery is bounded by
 * `alerts.timeout_ms`, so a failing or hanging endpoint delays the caller by at most that long
 * and never undoes anything. Failed deliveries are returned for the caller to record.
 */
export async function deliverAlerts(config: ProjectConfig, payloads: readonly AlertPayload[]): Promise<AlertDelivery[]> {
  const { webhook, command, timeoutMs } = config.canary.alerts;
  const deliveries: Array<Promise<AlertDelivery>> = [];
  for (const payload of payloads) {
    if (webhook) deliveries.push(postWebhook(webhook, payload, timeoutMs));
    if (command) deliveries.push(runCommand(command, payload, timeoutMs));
  }
  return Promise.all(deliveries);
}

async function postWebhook(url: string, payload: AlertPayload, timeoutMs: number): Promise<AlertDelivery> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
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

/**
 * Deliver alerts for `events` and record failed deliveries in the audit log. Returns what
 * happened, for the caller to print.
 */
export async function alertTransitions(project: FileProject, events: readonly AuditEvent[]): Promise<Array<{ payload: AlertPayload; deliveries: AlertDelivery[] }>> {
  const payloads = events.map(alertPayload).filter((p): p is AlertPayload => p !== null);
  if (payloads.length === 0) return [];
  const config = await project.config();
  // All deliveries run at once: the total wait is one timeout, however many alerts there are.
  const results = await Promise.all(payloads.map(async (payload) => ({ payload, deliveries: await deliverAlerts(config, [payload]) })));
  const failures = results.flatMap(({ payload, deliveries }) => deliveries.filter((d) => !d.ok).map((d) => ({ payload, delivery: d })));
  if (failures.length > 0) {
    const source = events[events.length - 1]!;
    await project.audit.append(
      failures.map(({ payload, delivery }) => ({
        v: 1 as const,
        at: project.now().toISOString(),
        role: payload.role,
        action: 'alert-failed' as const,
        from: payload.from,
        to: payload.to,
        canaryId: payload.canaryId,
        actor: 'auto' as const,
        reason: `${delivery.channel} alert for the ${payload.event} failed: ${delivery.error}`,
        evidence: { channel: delivery.channel, error: delivery.error, ms: delivery.ms },
        revision: source.revision,
      })),
    );
  }
  return results;
}
