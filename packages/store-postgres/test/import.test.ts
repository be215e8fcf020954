import { describe, expect, it } from 'vitest';
import type { AssignmentRecord, LedgerRecord } from '@bernstein/prompt-versions';
import type { StoreTransaction } from '@bernstein/rollout';
import { importProject } from '../src/import.ts';
import { openPostgresStore, type PostgresStore } from '../src/store.ts';
import { migratedDatabase, skipWithoutPostgres, useServer } from './fixture.ts';

const at = '2026-01-01T00:00:00.000Z';

async function populate(store: PostgresStore, role: string, tasks: number, text = 'v1'): Promise<void> {
  await store.transaction({ roles: [role] }, async (tx) => {
    const { version } = await tx.registerVersion({ role, files: { 'p.md': `${text} ${role}` }, model: {} });
    await tx.applyTransitions([{ transition: { type: 'init', role, versionId: version.id }, actor: 'auto', reason: 'first', at, newCanaryId: 'aaaaaaaaaaaa' }]);
    const assignments: AssignmentRecord[] = Array.from({ length: tasks }, (_, i) => ({
      v: 1,
      type: 'assign',
      taskId: `${role}-${i}`,
      role,
      arm: 'stable',
      versionId: version.id,
      canaryId: null,
      epoch: null,
      at,
    }));
    await tx.appendAssignments(assignments);
    await tx.appendOutcomes(assignments.slice(0, Math.floor(tasks / 2)).map((a, i) => ({ ...a, type: 'outcome', passed: i % 2 === 0, at })));
  });
}

/** Register a version of `role`, make it stable, then run `fill` in the same unit of work. */
async function store(target: PostgresStore, role: string, fill: (tx: StoreTransaction, versionId: string) => Promise<void>): Promise<void> {
  await target.transaction({ roles: [role] }, async (tx) => {
    const { version } = await tx.registerVersion({ role, files: { 'p.md': `v1 ${role}` }, model: {} });
    await tx.applyTransitions([{ transition: { type: 'init', role, versionId: version.id }, actor: 'auto', reason: 'first', at, newCanaryId: 'aaaaaaaaaaaa' }]);
    await fill(tx, version.id);
  });
}

async function everything(store: PostgresStore) {
  const ledger: LedgerRecord[] = [];
  await store.readLedger(null, (r) => ledger.push(r));
  const state = await store.loadState();
  return {
    versions: await store.listVersions(),
    state: { ...state, revision: 0 },
    ledger,
    audit: (await store.readAudit({})).events.map(({ revision: _r, ...e }) => e),
    aggregates: (await store.aggregates()).aggregates,
  };
}

describe.skipIf(skipWithoutPostgres)('store import', () => {
  const server = useServer();

  it('copies a project, changes nothing the second time, and refuses a different history for the same role', async () => {
    const source = await openPostgresStore(await migratedDatabase(server()), { root: '/x' });
    const target = await openPostgresStore(await migratedDatabase(server()), { root: '/x' });
    try {
      await populate(source, 'backend', 30);
      await populate(source, 'qa', 10);
      const first = await importProject(target, source, 'the source');
      expect(first).toMatchObject({ alreadyImported: false, roles: ['backend', 'qa'], versions: 2, assignments: 40, outcomes: 20, auditEvents: 2, revisionOffset: 0 });
      expect(await everything(target)).toEqual(await everything(source));
      const ids = ['backend-0', 'backend-29', 'qa-3'];
      expect((await target.getTasks(ids))).toEqual(await source.getTasks(ids));

      const revisionBefore = await target.revision();
      const second = await importProject(target, source, 'the source');
      expect(second).toMatchObject({ alreadyImported: true, roles: [] });
      expect(await target.revision()).toBe(revisionBefore);

      const other = await openPostgresStore(await migratedDatabase(server()), { root: '/x' });
      try {
        await populate(other, 'qa', 12, 'another');
        await expect(importProject(target, other, 'another project')).rejects.toThrow(/already holds a different history for role "qa" than another project: refusing to merge \(nothing was imported\)/);
        expect(await everything(target)).toEqual(await everything(source));
      } finally {
        await other.close();
      }
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('streams a ledger of many pages: outcomes pages after their assignments, re-routed tasks, multibyte text across read boundaries', async () => {
    const source = await openPostgresStore(await migratedDatabase(server()), { root: '/x' });
    const target = await openPostgresStore(await migratedDatabase(server()), { root: '/x' });
    try {
      const role = 'backend ✓';
      // 12,000 assignments, then 8,000 outcomes, then 500 tasks routed again (their latest
      // assignment is the new one, with no outcome): about 6 MB, so more than one INSERT page and
      // more than one read of the spool, with 3-byte and 4-byte characters in every record.
      await store(source, role, async (tx, version) => {
        const assignment = (i: number, at: string): AssignmentRecord => ({
          v: 1,
          type: 'assign',
          taskId: `t-✓-🚀-${i}-${'é'.repeat(i % 97)}`,
          role,
          arm: i % 5 === 0 ? 'canary' : 'stable',
          versionId: version,
          canaryId: null,
          epoch: null,
          at,
        });
        const first = Array.from({ length: 12_000 }, (_, i) => assignment(i, at));
        for (let i = 0; i < first.length; i += 4000) await tx.appendAssignments(first.slice(i, i + 4000));
        const outcomes = first.slice(0, 8000).map((a, i) => ({ ...a, type: 'outcome' as const, passed: i % 3 !== 0, at }));
        for (let i = 0; i < outcomes.length; i += 4000) await tx.appendOutcomes(outcomes.slice(i, i + 4000));
        await tx.appendAssignments(Array.from({ length: 500 }, (_, i) => assignment(i * 7, '2026-01-02T00:00:00.000Z')));
      });
      const summary = await importProject(target, source, 'the source');
      expect(summary).toMatchObject({ alreadyImported: false, roles: [role], assignments: 12_500, outcomes: 8000 });
      expect(await everything(target)).toEqual(await everything(source));
      const ids = [0, 7, 1, 3493, 7999, 8000, 11_999].map((i) => `t-✓-🚀-${i}-${'é'.repeat(i % 97)}`);
      const [mine, theirs] = [await target.getTasks(ids), await source.getTasks(ids)];
      expect(mine.tasks).toEqual(theirs.tasks);
      expect(mine.tasks.get(ids[1]!)).toMatchObject({ assignment: { at: '2026-01-02T00:00:00.000Z' }, outcome: null });
      expect(mine.tasks.get(ids[2]!)?.outcome).toMatchObject({ passed: true });
      expect((await importProject(target, source, 'the source')).alreadyImported).toBe(true);
    } finally {
      await source.close();
      await target.close();
    }
  }, 180_000);

  it('adds roles the database does not hold, renumbering their revisions after its own', async () => {
    const source = await openPostgresStore(await migratedDatabase(server()), { root: '/x' });
    const target = await openPostgresStore(await migratedDatabase(server()), { root: '/x' });
    try {
      await populate(source, 'docs', 4);
      await populate(target, 'backend', 4);
      const summary = await importProject(target, source, 'the docs project');
      expect(summary).toMatchObject({ roles: ['docs'], revisionOffset: 1, assignments: 4, outcomes: 2 });
      const { events } = await target.readAudit({});
      expect(events.map((e) => [e.role, e.revision])).toEqual([
        ['backend', 1],
        ['docs', 2],
      ]);
      // New transitions continue after the imported revisions.
      await populate(target, 'ops', 1);
      expect((await target.readAudit({ role: 'ops' })).events[0]?.revision).toBe(3);
    } finally {
      await source.close();
      await target.close();
    }
  });
});
