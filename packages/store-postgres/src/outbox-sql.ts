import type { OutboxEntry } from '@bernstein/rollout';

/** Insert outbox entries in one statement (one array parameter per column); used by transitions and by import. */
export async function insertOutboxEntries(run: (sql: string, params: unknown[]) => Promise<unknown>, alerts: readonly OutboxEntry[]): Promise<void> {
  await run(
    `INSERT INTO bernstein.outbox (id, revision, role, created_at, payload, status, attempts)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::json[], $6::text[], $7::json[])`,
    [
      alerts.map((a) => a.id),
      alerts.map((a) => a.revision),
      alerts.map((a) => a.role),
      alerts.map((a) => a.createdAt),
      alerts.map((a) => JSON.stringify(a.payload)),
      alerts.map((a) => a.status),
      alerts.map((a) => JSON.stringify(a.attempts)),
    ],
  );
}
