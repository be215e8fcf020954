import { describeAuditEvent, type AuditEvent } from '@bernstein/canary-router';
import type { Rollout } from '@bernstein/rollout';
import type { Io } from './output.js';

/**
 * Say what transitions happened (one line each on stderr; rollbacks as ALERT), then wait a
 * bounded time (alerts.timeout_ms, plus a little for the outbox bookkeeping) for the outbox
 * delivery the services started after commit. Failed deliveries are reported and are in the
 * audit log; they never undo anything, and an alert not delivered in time stays in the outbox
 * for the next command.
 */
export async function announce(rollout: Rollout, events: readonly AuditEvent[], io: Io) {
  for (const event of events) {
    const alert = event.action === 'rollback' || event.action === 'instant-rollback';
    io.stderr(`${alert ? 'ALERT' : 'notice'}: ${describeAuditEvent(event)}\n`);
  }
  const { timeoutMs } = (await rollout.config()).canary.alerts;
  await rollout.alerts.drain(timeoutMs + 2000);
  const delivered = rollout.alerts.reportsFor(events);
  for (const { deliveries } of delivered) {
    for (const d of deliveries) if (!d.ok) io.stderr(`warning: ${d.channel} alert failed: ${d.error} (recorded in the audit log)\n`);
  }
  return delivered.map(({ payload, deliveries }) => ({ event: payload.event, role: payload.role, deliveries }));
}
