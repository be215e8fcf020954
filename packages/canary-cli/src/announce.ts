import { describeAuditEvent, type AuditEvent, type FileProject } from '@bernstein/canary-router';
import { alertTransitions } from '@bernstein/quality-compare';
import { colours, warningLine, type Io } from './output.js';

/**
 * Say what transitions happened (one line each on stderr; rollbacks as ALERT), then deliver the
 * webhook / command alerts for rollbacks and promotions. Failed deliveries are reported and are
 * in the audit log; they never undo anything.
 */
export async function announce(project: FileProject, events: readonly AuditEvent[], io: Io) {
  const c = colours(io, 'stderr');
  for (const event of events) {
    const alert = event.action === 'rollback' || event.action === 'instant-rollback';
    io.stderr(`${alert ? c.bold(c.red('ALERT:')) : c.cyan('notice:')} ${describeAuditEvent(event)}\n`);
  }
  const delivered = await alertTransitions(project, events);
  for (const { deliveries } of delivered) {
    for (const d of deliveries) if (!d.ok) io.stderr(warningLine(io, `${d.channel} alert failed: ${d.error} (recorded in the audit log)`));
  }
  return delivered.map(({ payload, deliveries }) => ({ event: payload.event, role: payload.role, deliveries }));
}
