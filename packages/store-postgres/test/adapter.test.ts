import { describe, expect, it } from 'vitest';
import { foldInto, type AuditCursor, type LedgerPosition } from '@bernstein/rollout';
import { decideRoute } from '@bernstein/canary-router';
import type { AssignmentRecord, LedgerRecord, OutcomeRecord, RoleBundle } from '@bernstein/prompt-versions';
import { openPostgresStore, type PostgresStore } from '../src/store.ts';
import { migratedDatabase, skipWithoutPostgres, useServer } from './fixture.ts';

/**
 * What the adapter adds on top of the store-contract suite: behaviour only a database has
 * (snapshot positions with late commits, per-role locks, constraints, hostile strings).
 */
const at = '2026-01-01T00:00:00.000Z';
const bundle = (role: string, text: string): RoleBundle => ({ role, files: { 'system_prompt.md': text }, model: { default_model: 'm1' } });

async function freshStore(url: string): Promise<PostgresStore> {
  return openPostgresStore(url, { root: '/nonexistent' });
}

async function initRole(store: PostgresStore, role: string): Promise<string> {
  return store.transaction({ roles: [role] }, async (tx) => {
    const { version } = await tx.registerVersion(bundle(role, `v1 of ${role}`));
    await tx.applyTransitions([{ transition: { type: 'init', role, versionId: version.id }, actor: 'auto', reason: 'first sight', at, newCanaryId: 'aaaaaaaaaaaa' }]);
    return version.id;
  });
}

function assignment(role: string, taskId: string, versionId: string): AssignmentRecord {
  return { v: 1, type: 'assign', taskId, role, arm: 'stable', versionId, canaryId: null, epoch: null, at };
}

function outcomeOf(a: AssignmentRecord, passed: boolean): OutcomeRecord {
  return { ...a, type: 'outcome', passed, at };
}

describe.skipIf(skipWithoutPostgres)('PostgreSQL adapter', () => {
  const server = useServer();

  it('stores task ids, roles and reasons of any content exactly as given', async () => {
    const store = await freshStore(await migratedDatabase(server()));
    try {
      const role = "ro'le; DROP TABLE bernstein.ledger; --\u00e9\u{1F600}";
      const versionId = await initRole(store, role);
      const ids = ["t'1", 't"2', 't\\3', 't$1 %_4', 'ünïcødé-\u{1F680}', 'x'.repeat(512)];
      await store.transaction({ roles: [role] }, (tx) => tx.appendAssignments(ids.map((id) => assignment(role, id, versionId))));
      const { tasks } = await store.getTasks(ids);
      expect([...tasks.keys()].sort()).toEqual([...ids].sort());
      const reason = 'because\u0000 of "quotes" and \\backslashes\\ and \u2028 lines';
      await store.transaction({ roles: [role] }, (tx) =>
        tx.applyTransitions([{ transition: { type: 'instant-rollback', role }, actor: 'cli', reason, at, newCanaryId: 'bbbbbbbbbbbb' }]).catch(() => undefined),
      );
      const { version: v2 } = await store.transaction({ roles: [] }, (tx) => tx.registerVersion(bundle(role, 'v2')));
      await store.transaction({ roles: [role] }, (tx) =>
        tx.applyTransitions([{ transition: { type: 'release', role, versionId: v2.id }, actor: 'cli', reason, at, newCanaryId: 'bbbbbbbbbbbb' }]),
      );
      const state = await store.loadState();
      const { events } = await store.readAudit({ role });
      expect(events.map((e) => [e.role, e.action, e.reason])).toEqual([
        [role, 'init', 'first sight'],
        [role, 'release', reason],
      ]);
      expect(state.roles[role]?.stable).toBe(v2.id);
    } finally {
      await store.close();
    }
  });

  it('refuses a second outcome for an assignment, atomically, and by constraint as well as by code', async () => {
    const url = await migratedDatabase(server());
    const store = await freshStore(url);
    try {
      const v = await initRole(store, 'qa');
      const a = assignment('qa', 'T-1', v);
      await store.transaction({ roles: ['qa'] }, (tx) => tx.appendAssignments([a, assignment('qa', 'T-2', v)]));
      await store.transaction({ roles: ['qa'] }, (tx) => tx.appendOutcomes([outcomeOf(a, true)]));
      const second = store.transaction({ roles: ['qa'] }, (tx) => tx.appendOutcomes([outcomeOf(assignment('qa', 'T-2', v), true), outcomeOf(a, false)]));
      await expect(second).rejects.toMatchObject({ code: 'DUPLICATE_OUTCOME' });
      expect((await store.getTasks(["T-2"])).tasks.get("T-2")?.outcome).toBeNull();
      // The constraint: a hand-written second outcome row for the same assignment cannot commit.
      const client = await store.connect('test');
      const raw = client
        .query(
          `INSERT INTO bernstein.ledger (kind, task_id, role, assignment_seq, record)
             SELECT 'outcome', task_id, role, assignment_seq, outcome FROM bernstein.tasks WHERE task_id = 'T-1'`,
        )
        .finally(() => client.release());
      await expect(raw).rejects.toThrow(/ledger_one_outcome|duplicate key/);
    } finally {
      await store.close();
    }
  });

  it('two roles never wait on each other; one role serialises', async () => {
    const url = await migratedDatabase(server());
    const a = await freshStore(url);
    const b = await freshStore(url);
    try {
      await initRole(a, 'backend');
      await initRole(a, 'qa');
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const holder = a.transaction({ roles: ['backend'] }, async () => {
        entered();
        await held;
      });
      await inside;
      // qa proceeds while backend's lock is held...
      const other = await b.transaction({ roles: ['qa'] }, async (tx) => (await tx.loadState()).roles.qa?.stable);
      expect(other).toBeTruthy();
      // ...and backend waits.
      let backendDone = false;
      const waiting = b.transaction({ roles: ['backend'] }, async () => {
        backendDone = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(backendDone).toBe(false);
      release();
      await holder;
      await waiting;
      expect(backendDone).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('ledger positions and audit cursors never skip a record that committed after a later one', async () => {
    const url = await migratedDatabase(server());
    const store = await freshStore(url);
    const other = await freshStore(url);
    try {
      const vb = await initRole(store, 'backend');
      const vq = await initRole(store, 'qa');
      const seen: LedgerRecord[] = [];
      let position: LedgerPosition = (await store.readLedger(null, (r) => seen.push(r))).position;
      const cursor: AuditCursor = (await store.readAudit({})).cursor;

      // backend takes its ledger seq and revision first, qa commits first, backend commits last.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let wrote!: () => void;
      const written = new Promise<void>((resolve) => (wrote = resolve));
      const slow = store.transaction({ roles: ['backend'] }, async (tx) => {
        await tx.appendAssignments([assignment('backend', 'B-1', vb)]);
        const { version } = await tx.registerVersion(bundle('backend', 'v2'));
        await tx.applyTransitions([{ transition: { type: 'release', role: 'backend', versionId: version.id }, actor: 'cli', reason: 'slow', at, newCanaryId: 'cccccccccccc' }]);
        wrote();
        await held;
      });
      await written;
      await other.transaction({ roles: ['qa'] }, async (tx) => {
        await tx.appendAssignments([assignment('qa', 'Q-1', vq)]);
        const { version } = await tx.registerVersion(bundle('qa', 'v2'));
        await tx.applyTransitions([{ transition: { type: 'release', role: 'qa', versionId: version.id }, actor: 'cli', reason: 'fast', at, newCanaryId: 'cccccccccccc' }]);
      });
      // The audit read between the two commits sees qa's release (the higher revision) only.
      const between = await store.readAudit({ after: cursor });
      expect(between.events.map((e) => e.reason)).toEqual(['fast']);
      const lateAudit = between.cursor;
      const mid: LedgerRecord[] = [];
      position = (await store.readLedger(position, (r) => mid.push(r))).position;
      expect(mid.map((r) => r.taskId)).toEqual(['Q-1']);
      release();
      await slow;
      const late: LedgerRecord[] = [];
      position = (await store.readLedger(position, (r) => late.push(r))).position;
      expect(late.map((r) => r.taskId)).toEqual(['B-1']);
      const none: LedgerRecord[] = [];
      await store.readLedger(position, (r) => none.push(r));
      expect(none).toEqual([]);

      const afterCommit = await store.readAudit({ after: lateAudit });
      expect(afterCommit.events.map((e) => e.reason)).toEqual(['slow']);
      expect((await store.readAudit({ after: afterCommit.cursor })).events).toEqual([]);
      const all = (await store.readAudit({})).events;
      // Revision order: backend's release took its revision before qa's.
      expect(all.map((e) => e.reason)).toEqual(['first sight', 'first sight', 'slow', 'fast']);

      // Paging with limit 1 from the start returns every event once, in order.
      const paged = [];
      let page = await store.readAudit({ limit: 1 });
      while (page.events.length > 0) {
        paged.push(...page.events);
        page = await store.readAudit({ after: page.cursor, limit: 1 });
      }
      expect(paged).toEqual(all);
      expect((await store.readAudit({ role: 'qa', limit: 5 })).events.map((e) => e.reason)).toEqual(['first sight', 'fast']);
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('aggregates equal the fold of the ledger, and a copy of another fold version is refolded', async () => {
    const url = await migratedDatabase(server());
    const store = await freshStore(url);
    try {
      const v = await initRole(store, 'qa');
      const { version: next } = await store.transaction({ roles: [] }, (tx) => tx.registerVersion(bundle('qa', 'v2')));
      const { state } = await store.transaction({ roles: ['qa'] }, (tx) =>
        tx.applyTransitions([{ transition: { type: 'start', role: 'qa', versionId: next.id, percentage: 50 }, actor: 'cli', reason: 'try', at, newCanaryId: 'dddddddddddd' }]),
      );
      const role = state.roles.qa!;
      const assignments = Array.from({ length: 40 }, (_, i) => {
        const d = decideRoute(role, `T-${i}`);
        return { v: 1, type: 'assign', taskId: `T-${i}`, role: 'qa', arm: d.arm, versionId: d.versionId, canaryId: d.canaryId, epoch: d.epoch, at } as AssignmentRecord;
      });
      await store.transaction({ roles: ['qa'] }, (tx) => tx.appendAssignments([...assignments, assignment('qa', 'S-1', v)]));
      await store.transaction({ roles: ['qa'] }, (tx) => tx.appendOutcomes(assignments.slice(0, 25).map((a, i) => ({ ...outcomeOf(a, i % 3 !== 0), costUsd: i / 10, gates: { lint: i % 2 === 0 } }))));
      const records: LedgerRecord[] = [];
      await store.readLedger(null, (r) => records.push(r));
      const expected = foldInto(new Map(), records);
      const { aggregates } = await store.aggregates();
      expect(aggregates).toEqual(expected);
      const client = await store.connect('test');
      try {
        await client.query("UPDATE bernstein.aggregates SET fold_version = 0, state = '{\"broken\":true}'");
      } finally {
        client.release();
      }
      expect((await store.aggregates(['canary:dddddddddddd'])).aggregates).toEqual(new Map([['canary:dddddddddddd', expected.get('canary:dddddddddddd')]]));
      // The next append refolds and persists.
      await store.transaction({ roles: ['qa'] }, (tx) => tx.appendOutcomes([outcomeOf(assignments[30]!, true)]));
      const after: LedgerRecord[] = [];
      await store.readLedger(null, (r) => after.push(r));
      expect((await store.aggregates()).aggregates.get('canary:dddddddddddd')).toEqual(foldInto(new Map(), after).get('canary:dddddddddddd'));
    } finally {
      await store.close();
    }
  });

  it('at most one decision per canary, by constraint', async () => {
    const url = await migratedDatabase(server());
    const store = await freshStore(url);
    try {
      await initRole(store, 'qa');
      const { version } = await store.transaction({ roles: [] }, (tx) => tx.registerVersion(bundle('qa', 'v2')));
      await store.transaction({ roles: ['qa'] }, (tx) =>
        tx.applyTransitions([{ transition: { type: 'start', role: 'qa', versionId: version.id, percentage: 50 }, actor: 'cli', reason: 'try', at, newCanaryId: 'eeeeeeeeeeee' }]),
      );
      await store.transaction({ roles: ['qa'] }, (tx) =>
        tx.applyTransitions([{ transition: { type: 'promote', role: 'qa', canaryId: 'eeeeeeeeeeee' }, actor: 'cli', reason: 'good', at, newCanaryId: 'x' }]),
      );
      const client = await store.connect('test');
      try {
        await expect(
          client.query(`INSERT INTO bernstein.audit (revision, role, action, canary_id, is_note, event) VALUES (999, 'qa', 'rollback', 'eeeeeeeeeeee', false, '{}')`),
        ).rejects.toThrow(/audit_one_decision/);
      } finally {
        client.release();
      }
    } finally {
      await store.close();
    }
  });
});
