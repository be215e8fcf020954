/**
 * The store-contract suite: one set of vitest tests that every adapter of the storage port must
 * pass. An adapter's test file calls it with a factory of fresh, empty stores:
 *
 *   import { describeStoreContract } from '@bernstein/rollout/contract';
 *   describeStoreContract('file', async () => ({ store, root, reopen, cleanup }));
 *
 * It covers every port method, and the service-level rules that rest on them (sticky routing,
 * alert delivery after commit and after a crash, a slow webhook never holding `record`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashBundle, type AssignmentRecord, type LateOutcomeRecord, type LedgerRecord, type OutcomeRecord, type RoleBundle } from '@bernstein/prompt-versions';
import type { Transition } from '@bernstein/canary-router';
import { isBernsteinError } from '@bernstein/store';
import { canaryEvidenceSummary } from '@bernstein/quality-compare';
import { foldInto, type AggregateState } from './core/aggregate.js';
import { eventId } from './core/outbox.js';
import type { RolloutStore, StoreReader, TransitionRequest } from './port.js';
import { openRollout } from './rollout.js';
import { timeoutRecord } from './core/resolution.js';
import { evaluateCanaries } from './services/evaluate.js';
import { recordOutcomes } from './services/record.js';
import { rollbackCanary } from './services/lifecycle.js';
import { routeTasks } from './services/route.js';

export interface StoreFixture {
  /** A fresh, empty store. */
  store: RolloutStore;
  /** A fresh project root folder (the suite writes templates and `.sdd/config.yaml` there). */
  root: string;
  /** Another handle on the SAME store (another connection or instance): for races and "after a crash". */
  reopen: () => Promise<RolloutStore>;
  /** Close what the fixture opened and remove its data. */
  cleanup: () => Promise<void>;
}

const ROLE = 'backend';
const OTHER = 'qa';
const bundle = (role: string, text: string): RoleBundle => ({ role, files: { 'system_prompt.md': text }, model: { default_model: 'sonnet' } });
const V1 = hashBundle(bundle(ROLE, 'v1\n')).id;
const V2 = hashBundle(bundle(ROLE, 'v2\n')).id;
const Q1 = hashBundle(bundle(OTHER, 'q1\n')).id;

let canaries = 0;
const request = (transition: Transition, actor: TransitionRequest['actor'] = 'cli', reason = 'contract'): TransitionRequest => ({
  transition,
  actor,
  reason,
  at: new Date().toISOString(),
  newCanaryId: (0xc0ffee000000 + canaries++).toString(16).slice(-12),
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(isBernsteinError(caught), `expected a BernsteinError ${code}, got ${String(caught)}`).toBe(true);
  expect((caught as { code: string }).code).toBe(code);
}

/** Register v1 (and v2) of ROLE and q1 of OTHER, make v1 and q1 stable; returns the canary id when `canary`. */
async function seed(store: RolloutStore, options: { canary?: number } = {}): Promise<string | null> {
  await store.transaction({ roles: [] }, async (tx) => {
    for (const b of [bundle(ROLE, 'v1\n'), bundle(ROLE, 'v2\n'), bundle(OTHER, 'q1\n')]) await tx.registerVersion(b);
  });
  await store.transaction({ roles: [ROLE, OTHER] }, (tx) =>
    tx.applyTransitions([request({ type: 'init', role: ROLE, versionId: V1 }, 'auto'), request({ type: 'init', role: OTHER, versionId: Q1 }, 'auto')]),
  );
  if (options.canary === undefined) return null;
  const { state } = await store.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([request({ type: 'start', role: ROLE, versionId: V2, percentage: options.canary })]));
  return state.roles[ROLE]!.canary!.id;
}

const assignment = (taskId: string, over: Partial<AssignmentRecord> = {}): AssignmentRecord => ({
  v: 1,
  type: 'assign',
  taskId,
  role: ROLE,
  arm: 'stable',
  versionId: V1,
  canaryId: null,
  epoch: null,
  at: '2026-01-01T00:00:00.000Z',
  ...over,
});
const outcomeOf = (a: AssignmentRecord, passed: boolean): OutcomeRecord => ({ ...a, type: 'outcome', at: '2026-01-01T00:01:00.000Z', passed });
const lateOf = (a: AssignmentRecord, passed: boolean): LateOutcomeRecord => ({ ...a, type: 'late', at: '2026-01-01T03:00:00.000Z', passed, durationMs: 9_000_000 });

async function allLedger(store: Pick<StoreReader, 'readLedger'>): Promise<LedgerRecord[]> {
  const records: LedgerRecord[] = [];
  await store.readLedger(null, (r) => records.push(r));
  return records;
}

/** A local webhook: records every request; `hold` keeps each one open until `release()`. */
async function webhook(options: { hold?: boolean } = {}) {
  const requests: Array<{ headers: IncomingMessage['headers']; body: unknown }> = [];
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: JSON.parse(text) });
      if (options.hold) held.push(res);
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    release: () => {
      for (const res of held.splice(0)) res.writeHead(200).end('ok');
    },
    close: async () => {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function writeProject(root: string, config: string): Promise<void> {
  await mkdir(join(root, 'templates', 'roles', ROLE), { recursive: true });
  await writeFile(join(root, 'templates', 'roles', ROLE, 'system_prompt.md'), 'v1\n');
  await mkdir(join(root, '.sdd'), { recursive: true });
  await writeFile(join(root, '.sdd', 'config.yaml'), config);
}

export function describeStoreContract(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`store contract: ${name}`, () => {
    const open: StoreFixture[] = [];
    const fresh = async () => {
      const fixture = await makeFixture();
      open.push(fixture);
      return fixture;
    };
    afterEach(async () => {
      for (const fixture of open.splice(0)) await fixture.cleanup();
    });

    it('registers idempotently, resolves ids and prefixes, lists, and keeps content', async () => {
      const { store, reopen } = await fresh();
      const first = await store.transaction({ roles: [] }, (tx) => tx.registerVersion(bundle(ROLE, 'v1\n')));
      expect(first.isNew).toBe(true);
      expect(first.version.id).toBe(V1);
      const again = await store.transaction({ roles: [] }, (tx) => tx.registerVersion(bundle(ROLE, 'v1\n')));
      expect(again).toEqual({ version: first.version, isNew: false });
      // Racing registrations of the same content from two handles: one is new, both agree.
      const other = await reopen();
      const raced = await Promise.all([store, other].map((s) => s.transaction({ roles: [] }, (tx) => tx.registerVersion(bundle(ROLE, 'v2\n')))));
      expect(raced.filter((r) => r.isNew)).toHaveLength(1);
      expect(raced[0]!.version.id).toBe(V2);
      expect((await store.listVersions()).map((v) => v.id).sort()).toEqual([V1, V2].sort());
      expect(await store.listVersions({ role: OTHER })).toEqual([]);
      expect((await store.getVersion(V2)).files).toEqual({ 'system_prompt.md': 'v2\n' });
      expect((await store.resolveVersion(V1.slice(0, 6))).id).toBe(V1);
      await expectCode(store.getVersion('aaaaaaaaaaaa'), 'VERSION_NOT_FOUND');
      await expectCode(store.resolveVersion('ffffff'), 'VERSION_NOT_FOUND');
      await other.close();
    });

    it('applies transitions as compare-and-swap: revisions grow, a stale one changes nothing', async () => {
      const { store } = await fresh();
      expect((await store.loadState()).roles).toEqual({});
      const canaryId = (await seed(store, { canary: 20 }))!;
      const state = await store.loadState();
      expect(state.roles[ROLE]).toMatchObject({ stable: V1, canary: { id: canaryId, versionId: V2, percentage: 20 } });
      const audit = (await store.readAudit()).events;
      expect(audit.map((e) => e.action)).toEqual(['init', 'init', 'start']);
      expect(audit.map((e) => e.revision)).toEqual([...audit.map((e) => e.revision)].sort((a, b) => a - b));
      expect(new Set(audit.map((e) => e.revision)).size).toBe(3);
      expect(state.revision).toBe(audit.at(-1)!.revision);
      const revisionBefore = await store.revision();
      // A second request that fails makes the whole call fail: the first is not applied either.
      await expectCode(
        store.transaction({ roles: [ROLE] }, (tx) =>
          tx.applyTransitions([request({ type: 'set-percentage', role: ROLE, canaryId, percentage: 30 }), request({ type: 'promote', role: ROLE, canaryId: 'deadbeef0000' })]),
        ),
        'CONFLICT',
      );
      expect(await store.loadState()).toEqual(state);
      expect((await store.readAudit()).events).toHaveLength(3);
      expect(await store.revision()).toBe(revisionBefore);
      // Nothing to apply writes nothing.
      const none = await store.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([]));
      expect(none.events).toEqual([]);
      expect(await store.revision()).toBe(revisionBefore);
      // observedDisk is recorded once.
      await store.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([], { observedDisk: { role: ROLE, versionId: V2 } }));
      expect((await store.loadState()).disk?.[ROLE]).toBe(V2);
    });

    it('applies a transition exactly once when handles race', async () => {
      const { store, reopen } = await fresh();
      const canaryId = (await seed(store, { canary: 20 }))!;
      const handles = [store, ...(await Promise.all([reopen(), reopen(), reopen()]))];
      const results = await Promise.allSettled(
        handles.map((s) => s.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([request({ type: 'promote', role: ROLE, canaryId, expectedEpoch: 0 })]))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('CONFLICT');
      expect((await store.readAudit()).events.filter((e) => e.action === 'promote')).toHaveLength(1);
      expect((await store.loadState()).roles[ROLE]).toMatchObject({ stable: V2, canary: null });
      for (const h of handles.slice(1)) await h.close();
    });

    it('writes one outbox entry per alerting transition, in the same unit of work', async () => {
      const { store } = await fresh();
      const canaryId = (await seed(store, { canary: 20 }))!;
      expect(await store.listAlerts()).toEqual([]);
      const applied = await store.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([request({ type: 'rollback', role: ROLE, canaryId })]));
      expect(applied.alerts).toHaveLength(1);
      const [entry] = await store.listAlerts();
      expect(entry).toMatchObject({ id: eventId(applied.events[0]!), status: 'pending', attempts: [], claim: null, role: ROLE });
      expect(entry!.payload).toMatchObject({ eventId: entry!.id, event: 'rollback', role: ROLE, from: V2, to: V1, canaryId });
      expect(await store.listAlerts({ status: 'delivered' })).toEqual([]);
      // Non-alerting transitions write none.
      await store.transaction({ roles: [OTHER] }, (tx) => tx.applyTransitions([request({ type: 'start', role: OTHER, versionId: hashBundle(bundle(OTHER, 'q2\n')).id, percentage: 5 })]));
      expect(await store.listAlerts()).toHaveLength(1);
    });

    it('looks tasks up by their latest assignment; re-routing replaces it', async () => {
      const { store } = await fresh();
      const canaryId = (await seed(store, { canary: 50 }))!;
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments([assignment('t1'), assignment('t2')]));
      expect((await store.getTasks(['t1', 't2', 'nope'])).tasks.size).toBe(2);
      const rerouted = assignment('t1', { arm: 'canary', versionId: V2, canaryId, epoch: 0 });
      await store.transaction({ roles: [ROLE] }, async (tx) => {
        await tx.appendAssignments([rerouted]);
        // Inside the unit of work, reads see its writes.
        expect((await tx.getTasks(['t1'])).tasks.get('t1')?.assignment).toEqual(rerouted);
      });
      const { tasks } = await store.getTasks(['t1']);
      expect(tasks.get('t1')).toMatchObject({ assignment: rerouted, outcome: null });
      expect((await allLedger(store)).filter((r) => r.taskId === 't1')).toHaveLength(2);
    });

    it('refuses unknown and duplicate outcomes, and writes nothing of such a call', async () => {
      const { store } = await fresh();
      await seed(store);
      const a = assignment('t1');
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments([a, assignment('t2')]));
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(assignment('t2'), true), outcomeOf(assignment('ghost'), true)])), 'TASK_UNKNOWN');
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(a, true), outcomeOf(a, false)])), 'DUPLICATE_OUTCOME');
      expect((await allLedger(store)).filter((r) => r.type === 'outcome')).toEqual([]);
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(a, true)]));
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(a, false)])), 'DUPLICATE_OUTCOME');
      expect((await store.getTasks(['t1'])).tasks.get('t1')?.outcome?.passed).toBe(true);
      expect((await allLedger(store)).filter((r) => r.type === 'outcome')).toHaveLength(1);
    });

    it('accepts a timeout, then one late outcome; refuses a second late one, a late one without a timeout, and a second outcome', async () => {
      const { store } = await fresh();
      const canaryId = (await seed(store, { canary: 50 }))!;
      const a = assignment('t1', { arm: 'canary', versionId: V2, canaryId, epoch: 0 });
      const b = assignment('t2', { canaryId, epoch: 0 });
      const c = assignment('t3', { canaryId, epoch: 0 });
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments([a, b, c]));
      const timeout = timeoutRecord(a, '2026-01-01T02:00:00.000Z');
      expect(timeout).toMatchObject({ type: 'outcome', passed: false, timedOut: true, taskId: 't1', arm: 'canary', canaryId, epoch: 0 });
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([timeout]));
      // A real outcome after the timeout is not a second outcome: it can only come as a late one.
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(a, true)])), 'DUPLICATE_OUTCOME');
      const late = lateOf(a, true);
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([late]));
      expect((await store.getTasks(['t1'])).tasks.get('t1')).toMatchObject({ assignment: a, outcome: timeout, late });
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([lateOf(a, false)])), 'DUPLICATE_OUTCOME');
      // A late outcome answers a timeout: none for a task without one, nor after a real outcome.
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([lateOf(b, true)])), 'INVALID_ARGUMENT');
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(b, false)]));
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([lateOf(b, true)])), 'DUPLICATE_OUTCOME');
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(b, true)])), 'DUPLICATE_OUTCOME');
      // Within one call too: a timeout and its late outcome together are fine, two late ones are not (and nothing is written).
      await expectCode(store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([timeoutRecord(c, '2026-01-01T02:00:00.000Z'), lateOf(c, true), lateOf(c, true)])), 'DUPLICATE_OUTCOME');
      expect((await store.getTasks(['t3'])).tasks.get('t3')?.outcome).toBeNull();
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([timeoutRecord(c, '2026-01-01T02:00:00.000Z'), lateOf(c, false)]));
      expect((await store.getTasks(['t3'])).tasks.get('t3')?.late?.passed).toBe(false);
      const ledger = await allLedger(store);
      expect(ledger.map((r) => `${r.type}:${r.taskId}`)).toEqual(['assign:t1', 'assign:t2', 'assign:t3', 'outcome:t1', 'late:t1', 'outcome:t2', 'outcome:t3', 'late:t3']);
      // The aggregates count the timeouts as failures and the late outcomes as late, nothing more.
      const { aggregates } = await store.aggregates();
      expect(aggregates).toEqual(foldInto(new Map<string, AggregateState>(), ledger));
      const summary = canaryEvidenceSummary(aggregates.get(`canary:${canaryId}`)!.evidence!);
      expect(summary.combined).toEqual({ stable: { tasks: 2, passed: 0 }, canary: { tasks: 1, passed: 0 } });
      expect(summary.awaiting).toEqual({ stable: 0, canary: 0 });
      const epoch = summary.epochs['0']!;
      expect([epoch.stable.timedOut, epoch.canary.timedOut, epoch.stable.late, epoch.canary.late]).toEqual([1, 1, 1, 1]);
    });

    it('reads the ledger in order from a position, and lists overdue assignments', async () => {
      const { store } = await fresh();
      await seed(store);
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments([assignment('t1'), assignment('t2', { at: '2026-01-01T05:00:00.000Z' })]));
      const first: string[] = [];
      const { position } = await store.readLedger(null, (r) => first.push(`${r.type}:${r.taskId}`));
      expect(first).toEqual(['assign:t1', 'assign:t2']);
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(assignment('t2', { at: '2026-01-01T05:00:00.000Z' }), false)]));
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments([assignment('t3', { at: '2026-01-01T01:00:00.000Z' })]));
      const next: string[] = [];
      const again = await store.readLedger(position, (r) => next.push(`${r.type}:${r.taskId}`));
      expect(next).toEqual(['outcome:t2', 'assign:t3']);
      const none: string[] = [];
      await store.readLedger(again.position, (r) => none.push(r.taskId));
      expect(none).toEqual([]);
      expect((await store.overdueAssignments({ routedBefore: '2026-01-01T02:00:00.000Z' })).map((a) => a.taskId)).toEqual(['t1', 't3']);
      expect((await store.overdueAssignments({ routedBefore: '2026-01-02T00:00:00.000Z', limit: 1 })).map((a) => a.taskId)).toEqual(['t1']);
      expect(await store.overdueAssignments({ role: OTHER, routedBefore: '2026-01-02T00:00:00.000Z' })).toEqual([]);
      // Of one canary: a task re-routed into it counts there, and no longer where it was before.
      const canaryId = (await store.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([request({ type: 'start', role: ROLE, versionId: V2, percentage: 50 })]))).state.roles[ROLE]!.canary!.id;
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments([assignment('t3', { canaryId, epoch: 0, at: '2026-01-01T01:30:00.000Z' }), assignment('t4', { arm: 'canary', versionId: V2, canaryId, epoch: 0, at: '2026-01-01T01:40:00.000Z' })]));
      expect((await store.overdueAssignments({ canaryId, routedBefore: '2026-01-02T00:00:00.000Z' })).map((a) => a.taskId)).toEqual(['t3', 't4']);
      expect((await store.overdueAssignments({ role: ROLE, canaryId, routedBefore: '2026-01-01T01:35:00.000Z' })).map((a) => a.taskId)).toEqual(['t3']);
      expect((await store.overdueAssignments({ routedBefore: '2026-01-02T00:00:00.000Z' })).map((a) => a.taskId)).toEqual(['t1', 't3', 't4']);
    });

    it('counts tasks past outcome_timeout as failed (and may roll back on them); a real outcome after that is late', async () => {
      const { store, root } = await fresh();
      await writeProject(root, 'canary:\n  canary_percentage: 50\n  min_canary_tasks: 5\n  policy: threshold\n  outcome_timeout: 1h\n');
      let clock = Date.parse('2026-03-01T00:00:00.000Z');
      const rollout = openRollout({ root, store, now: () => new Date(clock) });
      await routeTasks(rollout, ROLE, ['warmup']);
      await writeFile(join(root, 'templates', 'roles', ROLE, 'system_prompt.md'), 'v2\n');
      const routed = await routeTasks(rollout, ROLE, Array.from({ length: 60 }, (_, i) => `t${i}`));
      const canaryId = routed[0]!.canaryId!;
      // Stable reports at once (all passed); the canary never reports.
      const stable = routed.filter((r) => r.arm === 'stable');
      const canary = routed.filter((r) => r.arm === 'canary');
      expect(canary.length).toBeGreaterThanOrEqual(10);
      await recordOutcomes(rollout, stable.map((r, i) => ({ line: i + 1, value: { taskId: r.taskId, passed: true } })));
      // Not due yet: evaluating writes nothing.
      clock += 59 * 60_000;
      expect((await evaluateCanaries(rollout)).timedOut).toBe(0);
      expect((await store.loadState()).roles[ROLE]!.canary?.id).toBe(canaryId);
      // Past the timeout, evaluate --apply writes the canary's timeouts and applies the rollback they bring.
      clock += 2 * 60_000;
      const swept = await evaluateCanaries(rollout, { apply: true });
      expect(swept.timedOut).toBeGreaterThanOrEqual(5);
      expect(swept.sweepTransitions.map((e) => e.action)).toEqual(['rollback']);
      expect((await store.loadState()).roles[ROLE]!.canary).toBeNull();
      const timeouts = (await allLedger(store)).filter((r): r is OutcomeRecord => r.type === 'outcome' && r.timedOut === true);
      expect(timeouts.length).toBe(swept.timedOut);
      for (const t of timeouts) expect(t).toMatchObject({ arm: 'canary', passed: false, canaryId });
      // The rollback's evidence counts them as failures.
      const rollback = (await store.readAudit()).events.find((e) => e.action === 'rollback')!;
      expect(rollback.evidence).toMatchObject({ canary: { tasks: swept.timedOut, passed: 0 } });
      // A real outcome of a timed-out task: recorded as late, once.
      const lateTask = timeouts[0]!.taskId;
      const late: Array<{ taskId: string; reason: string }> = [];
      const result = await recordOutcomes(rollout, [{ line: 1, value: { taskId: lateTask, passed: true } }], { onLate: (l) => late.push(l) });
      expect(result).toMatchObject({ recorded: 1, late: 1, skippedCount: 0, transitions: [] });
      expect(late).toEqual([{ line: 1, taskId: lateTask, reason: expect.stringMatching(/^late: task ".*" had no outcome within canary\.outcome_timeout \(1h\)/) }]);
      expect((await store.getTasks([lateTask])).tasks.get(lateTask)?.late).toMatchObject({ type: 'late', passed: true });
      const again = await recordOutcomes(rollout, [{ line: 1, value: { taskId: lateTask, passed: true } }]);
      expect(again.skipped.map((x) => x.code)).toEqual(['DUPLICATE_OUTCOME']);
      // A timed-out task of a canary that has ended is left alone: the sweep is for running canaries.
      clock += 24 * 3_600_000;
      expect((await evaluateCanaries(rollout)).timedOut).toBe(0);
      await rollout.alerts.drain();
    });

    it('reads the audit log from a cursor, by role, with a limit', async () => {
      const { store } = await fresh();
      const canaryId = (await seed(store, { canary: 10 }))!;
      const page1 = await store.readAudit({ limit: 2 });
      expect(page1.events.map((e) => e.action)).toEqual(['init', 'init']);
      const page2 = await store.readAudit({ after: page1.cursor });
      expect(page2.events.map((e) => e.action)).toEqual(['start']);
      expect((await store.readAudit({ after: page2.cursor })).events).toEqual([]);
      await store.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([request({ type: 'set-percentage', role: ROLE, canaryId, percentage: 40 })]));
      expect((await store.readAudit({ after: page2.cursor })).events.map((e) => e.action)).toEqual(['percentage']);
      expect((await store.readAudit({ role: OTHER })).events.map((e) => e.action)).toEqual(['init']);
      // Notes keep their transition's revision and come after it.
      const last = (await store.readAudit()).events.at(-1)!;
      await store.transaction({ roles: [] }, (tx) => tx.appendAuditNotes([{ ...last, action: 'alert-failed', reason: 'note', evidence: { channel: 'webhook' } }]));
      const tail = (await store.readAudit()).events.slice(-2);
      expect(tail.map((e) => [e.action, e.revision])).toEqual([
        ['percentage', last.revision],
        ['alert-failed', last.revision],
      ]);
      expect((await store.loadState()).revision).toBe(last.revision);
    });

    it('keeps aggregates equal to the fold of the ledger', async () => {
      const { store } = await fresh();
      const canaryId = (await seed(store, { canary: 50 }))!;
      const tasks = Array.from({ length: 40 }, (_, i) =>
        assignment(`t${i}`, i % 2 === 0 ? { arm: 'canary', versionId: V2, canaryId, epoch: 0 } : { canaryId, epoch: 0 }),
      );
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments(tasks.slice(0, 25)));
      await store.transaction({ roles: [ROLE] }, async (tx) => {
        await tx.appendAssignments(tasks.slice(25));
        await tx.appendOutcomes(tasks.slice(0, 30).map((t, i) => ({ ...outcomeOf(t, i % 3 !== 0), ...(i % 4 === 0 ? { costUsd: i / 10, durationMs: 100 + i } : {}) })));
        // Inside the unit of work, compare with its own view of the ledger (other connections see it only after commit).
        expect((await tx.aggregates()).aggregates).toEqual(foldInto(new Map<string, AggregateState>(), await allLedger(tx)));
      });
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments([assignment('plain')]));
      await store.transaction({ roles: [ROLE] }, (tx) => tx.appendOutcomes([outcomeOf(assignment('plain'), true)]));
      const expected = foldInto(new Map<string, AggregateState>(), await allLedger(store));
      const { aggregates } = await store.aggregates();
      expect(aggregates).toEqual(expected);
      const epoch = canaryEvidenceSummary(aggregates.get(`canary:${canaryId}`)!.evidence!).epochs['0']!;
      expect([epoch.stable.assigned, epoch.canary.assigned]).toEqual([20, 20]);
      expect((await store.aggregates([`role:${ROLE}`])).aggregates).toEqual(new Map([[`role:${ROLE}`, expected.get(`role:${ROLE}`)!]]));
      // What a caller gets is its own copy.
      aggregates.get(`canary:${canaryId}`)!.evidence!.epochs['0']!.canary.assigned = 999;
      expect((await store.aggregates()).aggregates).toEqual(expected);
    });

    it('claims outbox entries for one holder at a time, with a lease, and completes them', async () => {
      const { store } = await fresh();
      const canaryId = (await seed(store, { canary: 20 }))!;
      await store.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([request({ type: 'rollback', role: ROLE, canaryId })]));
      const [a] = await store.transaction({ roles: [] }, (tx) => tx.claimAlerts({ holder: 'a', leaseMs: 60_000 }));
      expect(a?.claim?.holder).toBe('a');
      expect(await store.transaction({ roles: [] }, (tx) => tx.claimAlerts({ holder: 'b', leaseMs: 60_000 }))).toEqual([]);
      await expectCode(store.transaction({ roles: [] }, (tx) => tx.completeAlert(a!.id, 'b', { attempts: [], status: 'delivered' })), 'CONFLICT');
      const attempt = { at: new Date().toISOString(), channel: 'webhook' as const, ok: false, ms: 3, error: 'HTTP 500' };
      const retried = await store.transaction({ roles: [] }, (tx) => tx.completeAlert(a!.id, 'a', { attempts: [attempt], status: 'pending' }));
      expect(retried).toMatchObject({ status: 'pending', claim: null, attempts: [attempt] });
      // An expired lease can be taken over; the old holder then cannot complete.
      await store.transaction({ roles: [] }, (tx) => tx.claimAlerts({ holder: 'a', leaseMs: 1 }));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const [b] = await store.transaction({ roles: [] }, (tx) => tx.claimAlerts({ holder: 'b', leaseMs: 60_000 }));
      expect(b?.id).toBe(a!.id);
      await expectCode(store.transaction({ roles: [] }, (tx) => tx.completeAlert(a!.id, 'a', { attempts: [], status: 'delivered' })), 'CONFLICT');
      await store.transaction({ roles: [] }, (tx) => tx.completeAlert(b!.id, 'b', { attempts: [{ ...attempt, ok: true, error: undefined as never }], status: 'delivered' }));
      expect(await store.listAlerts({ status: 'pending' })).toEqual([]);
      expect((await store.listAlerts({ status: 'delivered' }))[0]?.attempts).toHaveLength(2);
    });

    it('changes its revision token with every committed write, and only then', async () => {
      const { store } = await fresh();
      const seen = new Set([await store.revision()]);
      const step = async (fn: () => Promise<unknown>) => {
        await fn();
        const token = await store.revision();
        expect(seen.has(token)).toBe(false);
        seen.add(token);
      };
      await step(() => store.transaction({ roles: [] }, (tx) => tx.registerVersion(bundle(ROLE, 'v1\n'))));
      await step(() => store.transaction({ roles: [ROLE] }, (tx) => tx.applyTransitions([request({ type: 'init', role: ROLE, versionId: V1 })])));
      await step(() => store.transaction({ roles: [ROLE] }, (tx) => tx.appendAssignments([assignment('t1')])));
      const before = await store.revision();
      await store.loadState();
      await store.getTasks(['t1']);
      await store.readAudit();
      expect(await store.revision()).toBe(before);
    });

    it('routes sticky: a retried task keeps its arm for the life of the canary', async () => {
      const { store, root } = await fresh();
      await writeProject(root, 'canary:\n  canary_percentage: 50\n');
      const rollout = openRollout({ root, store });
      await routeTasks(rollout, ROLE, ['warmup']);
      await writeFile(join(root, 'templates', 'roles', ROLE, 'system_prompt.md'), 'v2\n');
      const ids = Array.from({ length: 60 }, (_, i) => `task-${i}`);
      const first = await routeTasks(rollout, ROLE, ids);
      expect(new Set(first.map((r) => r.arm))).toEqual(new Set(['stable', 'canary']));
      const again = await routeTasks(openRollout({ root, store }), ROLE, [...ids].reverse());
      expect(again.every((r) => r.sticky)).toBe(true);
      expect(new Map(again.map((r) => [r.taskId, r.arm]))).toEqual(new Map(first.map((r) => [r.taskId, r.arm])));
      expect((await allLedger(store)).filter((r) => r.type === 'assign')).toHaveLength(61);
    });

    it('delivers an alert after commit, once, with its event id as idempotency key; and after a crash, on the next round', async () => {
      const hook = await webhook();
      try {
        const { store, root, reopen } = await fresh();
        await writeProject(root, `canary:\n  alerts:\n    webhook: "${hook.url}"\n    timeout_ms: 2000\n`);
        await seed(store, { canary: 20 });
        const rollout = openRollout({ root, store });
        const result = await rollbackCanary(rollout, { role: ROLE, reason: 'contract' });
        await rollout.alerts.drain();
        expect(hook.requests).toHaveLength(1);
        const id = eventId(result.events[0]!);
        expect(hook.requests[0]!.headers['idempotency-key']).toBe(id);
        expect(hook.requests[0]!.body).toMatchObject({ eventId: id, event: 'rollback', role: ROLE });
        expect((await store.listAlerts())[0]).toMatchObject({ id, status: 'delivered' });
        expect((await store.readAudit()).events.filter((e) => e.action === 'alert-delivered')).toHaveLength(1);
        await rollout.alerts.flush();
        expect(hook.requests).toHaveLength(1);

        // A process that dies right after the commit: the transition and its alert are durable,
        // nothing was sent; the next process's first round sends it, once.
        const { state } = await store.transaction({ roles: [ROLE] }, async (tx) => {
          const started = await tx.applyTransitions([request({ type: 'start', role: ROLE, versionId: V2, percentage: 10 })]);
          return tx.applyTransitions([request({ type: 'promote', role: ROLE, canaryId: started.state.roles[ROLE]!.canary!.id })]);
        });
        expect(state.roles[ROLE]?.stable).toBe(V2);
        expect(hook.requests).toHaveLength(1);
        const next = openRollout({ root, store: await reopen() });
        await next.alerts.flush();
        await next.alerts.flush();
        expect(hook.requests).toHaveLength(2);
        expect((hook.requests[1]!.body as { event: string }).event).toBe('promotion');
        expect(await store.listAlerts({ status: 'pending' })).toEqual([]);
        await next.store.close();
      } finally {
        await hook.close();
      }
    });

    it('a webhook that holds every request open never holds record: the outcome is durable first', async () => {
      const hook = await webhook({ hold: true });
      try {
        const { store, root } = await fresh();
        await writeProject(root, `canary:\n  canary_percentage: 50\n  min_canary_tasks: 5\n  policy: threshold\n  alerts:\n    webhook: "${hook.url}"\n    timeout_ms: 30000\n`);
        const rollout = openRollout({ root, store });
        await routeTasks(rollout, ROLE, ['warmup']);
        await writeFile(join(root, 'templates', 'roles', ROLE, 'system_prompt.md'), 'v2\n');
        const routed = await routeTasks(rollout, ROLE, Array.from({ length: 80 }, (_, i) => `t${i}`));
        const items = routed.map((r, i) => ({ line: i + 1, value: { taskId: r.taskId, passed: r.arm === 'stable' } }));
        const result = await recordOutcomes(rollout, items);
        expect(result.transitions.map((e) => e.action)).toEqual(['rollback']);
        // record returned; the outcomes are durable while the webhook still holds its request.
        const { tasks } = await store.getTasks(routed.map((r) => r.taskId));
        expect([...tasks.values()].filter((t) => t.outcome !== null)).toHaveLength(80);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect((await store.listAlerts())[0]?.status).toBe('pending');
        hook.release();
        await rollout.alerts.drain();
        expect(hook.requests.length).toBeGreaterThanOrEqual(1);
        expect((await store.listAlerts())[0]?.status).toBe('delivered');
      } finally {
        await hook.close();
      }
    });
  });
}
