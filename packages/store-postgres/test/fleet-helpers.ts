import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { foldInto } from '@bernstein/rollout';
import type { AuditEvent } from '@bernstein/canary-router';
import type { LedgerRecord, OutcomeRecord } from '@bernstein/prompt-versions';
import type { PostgresStore } from '../src/store.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const HOST_SCRIPT = join(here, 'fixtures', 'host.mjs');

/** Full sizes with SOAK=1; CI sizes otherwise (2 cores shared). */
export const SOAK = process.env.SOAK === '1';

export interface Ack {
  ack: string;
  role: string;
  passed: boolean;
  arm: string;
  canaryId: string | null;
  retried?: boolean;
}

export interface HostOutput {
  acks: Ack[];
  errors: Array<{ error: string; code: string | null; what: string }>;
  skipped: Array<{ skipped: string; reason: string }>;
  transitions: Array<{ transition: string; role: string; canaryId: string | null }>;
  done: boolean;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningHost {
  child: ChildProcess;
  output: HostOutput;
  /** Resolves when the process has exited (killed or not). */
  exited: Promise<HostOutput>;
}

/** Start one host process (node test/fixtures/host.mjs) on the built packages. */
export function startHost(options: Record<string, unknown>): RunningHost {
  const child = spawn(process.execPath, [HOST_SCRIPT, JSON.stringify(options)], {
    env: { ...process.env, NODE_OPTIONS: '', BERNSTEIN_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: HostOutput = { acks: [], errors: [], skipped: [], transitions: [], done: false, stderr: '', code: null, signal: null };
  let carry = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    carry += chunk;
    let newline;
    while ((newline = carry.indexOf('\n')) !== -1) {
      const line = carry.slice(0, newline);
      carry = carry.slice(newline + 1);
      // A line cut by SIGKILL is not an acknowledgement.
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if ('ack' in parsed) output.acks.push(parsed as unknown as Ack);
      else if ('error' in parsed) output.errors.push(parsed as HostOutput['errors'][number]);
      else if ('skipped' in parsed) output.skipped.push(parsed as HostOutput['skipped'][number]);
      else if ('transition' in parsed) output.transitions.push(parsed as HostOutput['transitions'][number]);
      else if ('done' in parsed) output.done = true;
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<HostOutput>((resolve) => {
    child.on('exit', (code, signal) => {
      output.code = code;
      output.signal = signal;
      resolve(output);
    });
  });
  return { child, output, exited };
}

/** A project root with two roles' bundles and a canary configuration; copies of it are the hosts' working copies. */
export async function makeTemplateTree(canary: string): Promise<{ dir: string; copy: (name: string) => Promise<string>; cleanup: () => Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), 'bernstein-fleet-'));
  const template = join(base, 'template');
  for (const role of ['backend', 'qa']) {
    await mkdir(join(template, 'templates', 'roles', role), { recursive: true });
    await writeFile(join(template, 'templates', 'roles', role, 'system_prompt.md'), `You are the ${role} agent. Version 1.\n`);
    await writeFile(join(template, 'templates', 'roles', role, 'config.yaml'), 'default_model: model-a\n');
  }
  await mkdir(join(template, '.sdd'), { recursive: true });
  await writeFile(join(template, '.sdd', 'config.yaml'), canary);
  return {
    dir: template,
    copy: async (name) => {
      const target = join(base, name);
      await cp(template, target, { recursive: true });
      return target;
    },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

export async function editPrompt(root: string, role: string, text: string): Promise<void> {
  await writeFile(join(root, 'templates', 'roles', role, 'system_prompt.md'), text);
}

export async function ledgerOf(store: PostgresStore): Promise<LedgerRecord[]> {
  const records: LedgerRecord[] = [];
  await store.readLedger(null, (r) => records.push(r));
  return records;
}

/**
 * The fleet's invariants against what the hosts acknowledged: every acknowledged outcome in the
 * ledger exactly once with the value sent, no outcome nobody sent, at most one decision per
 * canary, every transition a host applied in the audit log once, revisions unique and
 * increasing, aggregates equal to the fold of the ledger, one outbox entry per alerting event.
 */
export async function checkFleet(store: PostgresStore, acks: readonly Ack[], hostTransitions: HostOutput['transitions'], sentButUnacknowledged: ReadonlySet<string> = new Set()) {
  const ledger = await ledgerOf(store);
  const outcomes = new Map<string, OutcomeRecord[]>();
  for (const r of ledger) if (r.type === 'outcome') outcomes.set(r.taskId, [...(outcomes.get(r.taskId) ?? []), r]);
  const doubled = [...outcomes.entries()].filter(([, list]) => list.length > 1).map(([id]) => id);
  expect(doubled, 'tasks with two outcomes').toEqual([]);
  const acked = new Map(acks.map((a) => [a.ack, a]));
  const lost = acks.filter((a) => outcomes.get(a.ack)?.[0]?.passed !== a.passed).map((a) => a.ack);
  expect(lost, 'acknowledged outcomes missing from the ledger or with another value').toEqual([]);
  const phantom = [...outcomes.keys()].filter((id) => !acked.has(id) && !sentButUnacknowledged.has(id));
  expect(phantom, 'outcomes nobody sent').toEqual([]);

  const { events } = await store.readAudit({});
  const transitions = events.filter((e) => e.action !== 'alert-delivered' && e.action !== 'alert-failed');
  const revisions = transitions.map((e) => e.revision);
  expect(new Set(revisions).size).toBe(revisions.length);
  expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
  const decisions = new Map<string, AuditEvent[]>();
  for (const e of transitions) if ((e.action === 'promote' || e.action === 'rollback') && e.canaryId) decisions.set(e.canaryId, [...(decisions.get(e.canaryId) ?? []), e]);
  for (const [canaryId, list] of decisions) expect(list.length, `decisions of canary ${canaryId}`).toBe(1);
  for (const t of hostTransitions) {
    expect(transitions.filter((e) => e.action === t.transition && e.role === t.role && e.canaryId === t.canaryId).length, `audit events for ${t.transition} ${t.role} ${t.canaryId}`).toBe(1);
  }
  const { aggregates } = await store.aggregates();
  expect(aggregates).toEqual(foldInto(new Map(), ledger));
  const alerts = await store.listAlerts();
  const alerting = transitions.filter((e) => e.action === 'promote' || e.action === 'rollback' || e.action === 'instant-rollback');
  expect(alerts.map((a) => a.revision).sort((a, b) => a - b)).toEqual(alerting.map((e) => e.revision));
  return { ledger, transitions, decisions, outcomes: outcomes.size };
}
