import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canaryRole, collectReport, escapeHtml, recordOutcomes, renderReport, routeTasks, type ReportData, type Rollout } from '@bernstein/rollout';
import { routesToCanary } from '@bernstein/canary-router';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileRollout } from './open.js';

const roots: string[] = [];
const rollouts: Rollout[] = [];
afterEach(async () => {
  // Close first: a transition kicks alert delivery, which writes the outbox in .sdd/ after the test returns.
  for (const rollout of rollouts.splice(0)) await rollout.close();
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function project(config: string): Promise<Rollout> {
  next = 0;
  const root = await mkdtemp(join(tmpdir(), 'bernstein-report-'));
  roots.push(root);
  await mkdir(join(root, 'templates', 'roles', 'r'), { recursive: true });
  await mkdir(join(root, '.sdd'), { recursive: true });
  await writeFile(join(root, 'templates', 'roles', 'r', 'system_prompt.md'), 'v1\n');
  await writeFile(join(root, 'templates', 'roles', 'r', 'config.yaml'), 'default_model: small\n');
  await writeFile(join(root, '.sdd', 'config.yaml'), config);
  // Canary ids decide which tasks land on the canary: fixed ids make every run route alike.
  let canaries = 0;
  const rollout = await openFileRollout(root, { newCanaryId: () => `c0ffee${String(canaries++).padStart(6, '0')}` });
  rollouts.push(rollout);
  return rollout;
}

let next = 0;

/**
 * Route and record one task at a time (every outcome is evaluated on its own) until a transition
 * with the given action is applied, or `max` tasks.
 */
async function runTasks(p: Rollout, max: number, passed: (arm: 'stable' | 'canary') => boolean, until?: string): Promise<void> {
  for (let i = 0; i < max; i++) {
    const id = `t${next++}`;
    const [route] = await routeTasks(p, 'r', [id]);
    const { transitions } = await recordOutcomes(p, [{ line: 1, value: { taskId: id, passed: passed(route!.arm) } }]);
    if (until !== undefined && transitions.some((t) => t.action === until)) return;
  }
  if (until !== undefined) throw new Error(`no ${until} within ${max} tasks`);
}

describe('collectReport', () => {
  it('draws one evidence window per canary: a ramp whose next step is 100 % is promoted there', async () => {
    const p = await project('canary:\n  canary_percentage: 0\n  min_canary_tasks: 3\n  policy: threshold\n');
    await routeTasks(p, 'r', ['init']);
    await canaryRole(p, 'r', { model: 'big', steps: [50, 100] });
    await runTasks(p, 200, () => true, 'promote');
    expect((await p.store.loadState()).roles.r!.canary).toBeNull();
    const [c] = (await collectReport(p)).canaries;
    expect(c!.status).toBe('promoted');
    expect(c!.windows.map((w) => w.percentages)).toEqual([[50]]);
    expect(c!.markers.map((m) => m.kind)).toEqual(['start', 'promote']);
    expect(c!.decision).toMatchObject({ kind: 'promote', placement: 'evidence', rule: 'threshold.promote' });
  });

  it('keeps the evidence across a step: one window, the step and the decision placed where their evidence says', async () => {
    const p = await project('canary:\n  canary_percentage: 0\n  min_canary_tasks: 3\n  policy: threshold\n');
    await routeTasks(p, 'r', ['init']);
    await canaryRole(p, 'r', { model: 'big', steps: [30, 60] });
    const skipped: string[] = [];
    // The canary passes everything -> promote decision -> step to 60 %.
    await runTasks(p, 200, () => true, 'step');
    let data = await collectReport(p);
    expect(data.canaries[0]!.markers.map((m) => m.kind)).toEqual(['start', 'step']);
    // Then it fails everything (stable passes) -> rollback, judged on the evidence of both steps.
    // Evidence is counted in routing order, and with both arms at 100 % after the step a stable
    // outcome first would keep the threshold rule's "canary >= stable" promotion true: the first
    // task routed at 60 % is one that lands on the canary (ids that would not are not used).
    const canaryId = (await p.store.loadState()).roles.r!.canary!.id;
    while (!routesToCanary(`t${next}`, canaryId, 60)) skipped.push(`t${next++}`);
    let rolledBack = false;
    for (let i = 0; i < 200 && !rolledBack; i++) {
      const id = `t${next++}`;
      const [routed] = await routeTasks(p, 'r', [id]);
      const { transitions } = await recordOutcomes(p, [{ line: 1, value: { taskId: id, passed: routed!.arm === 'stable' } }]);
      rolledBack = transitions.some((t) => t.action === 'rollback');
    }
    expect(rolledBack).toBe(true);
    data = await collectReport(p);
    expect(data.canaries).toHaveLength(1);
    const c = data.canaries[0]!;
    expect(c.status).toBe('rolled back');
    expect(c.model).toBe('big');
    expect(c.baseModel).toBe('small');
    expect(c.windows.map((w) => w.percentages)).toEqual([[30, 60]]);
    const step = c.markers.find((m) => m.kind === 'step')!;
    expect(step.placement).toBe('evidence');
    expect(step.rule).toBe('threshold.promote');
    const stepTasks = step.evidence!.canary!.tasks;
    expect(stepTasks).toBeGreaterThanOrEqual(3);
    expect(step.evidence!.stable!.tasks).toBeGreaterThan(0);
    const decision = c.decision!;
    expect(decision.kind).toBe('rollback');
    expect(decision.placement).toBe('evidence');
    expect(decision.rule).toBe('threshold.rollback');
    // The rollback's evidence holds the canary's outcomes of both epochs.
    expect(decision.evidence!.canary!.tasks).toBeGreaterThan(stepTasks);
    expect(decision.evidence!.canary!.passed).toBe(stepTasks);
    expect(Math.floor(decision.x - c.windows[0]!.startX)).toBe(decision.evidence!.canary!.tasks);
    expect(c.totals.canary.tasks + c.totals.stable.tasks).toBe(next - skipped.length);
    expect(c.epochs.map((e) => e.percentage)).toEqual([30, 60]);
    expect(c.epochs[1]!.canary.passed).toBe(0);
    expect(data.roles[0]!.versions).toHaveLength(2);
    expect(renderReport(data)).toContain('data-testid="epoch-table"');
    // The rollback's alert is delivered in the background: let it finish before the folder is removed.
    await p.alerts.drain(5000);
  });

  it('shows a running canary with its current decision', async () => {
    const p = await project('canary:\n  canary_percentage: 50\n  min_canary_tasks: 50\n');
    await routeTasks(p, 'r', ['init']);
    await writeFile(join(p.root, 'templates', 'roles', 'r', 'system_prompt.md'), 'v2\n');
    await runTasks(p, 10, () => true);
    const data = await collectReport(p);
    expect(data.canaries[0]!.status).toBe('running');
    expect(data.canaries[0]!.decision).toBeNull();
    expect(data.canaries[0]!.current).toMatchObject({ action: 'continue', rule: 'min-tasks' });
    const html = renderReport(data);
    expect(html).toContain('data-status="running"');
    expect(html).not.toContain('data-testid="decision-marker"');
  });
});

describe('renderReport', () => {
  it('escapes every string from the data and loads nothing from outside', () => {
    const evil = '<script>alert("x")</script>';
    const data: ReportData = {
      schemaVersion: 1,
      generatedAt: '2026-01-01T00:00:00.000Z',
      projectRoot: `/tmp/${evil}`,
      role: null,
      warnings: [evil],
      roles: [{ role: 'r', versions: [{ versionId: evil, model: evil, stable: { tasks: 1, passed: 1 }, canary: { tasks: 0, passed: 0 } }], totals: { tasks: 1, passed: 1 } }],
      events: [{ at: evil, role: 'r', action: 'rollback', from: evil, to: evil, canaryId: evil, actor: 'cli', reason: evil, revision: 1, percentage: null }],
      canaries: [
        {
          canaryId: evil,
          role: 'r',
          versionId: evil,
          baseVersionId: evil,
          model: evil,
          baseModel: 'm',
          origin: evil,
          startedAt: evil,
          startedBy: 'cli',
          startPercentage: 10,
          status: 'rolled back',
          totalX: 2,
          windows: [
            {
              index: 0,
              percentages: [10],
              startX: 0,
              endX: 2,
              stable: [{ x: 0.5, tasks: 1, passed: 1, rate: 1, lower: 0.2, upper: 1 }],
              canary: [{ x: 1, tasks: 1, passed: 0, rate: 0, lower: 0, upper: 0.8 }],
              totals: { stable: { tasks: 1, passed: 1 }, canary: { tasks: 1, passed: 0 } },
              evidenceEndX: 1,
              late: { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } },
            },
          ],
          markers: [
            {
              kind: 'rollback',
              x: 1,
              windowEdge: false,
              placement: 'time',
              at: evil,
              actor: 'cli',
              reason: evil,
              fromPercentage: 10,
              toPercentage: 0,
              rule: evil,
              evidence: null,
              revision: 2,
            },
          ],
          decision: null,
          current: null,
          epochs: [
            {
              epoch: 0,
              percentage: 10,
              stable: { assigned: 1, awaiting: 0, timedOut: 0, late: 0, tasks: 1, passed: 1 },
              canary: { assigned: 2, awaiting: 0, timedOut: 1, late: 1, tasks: 1, passed: 0 },
              difference: -1,
            },
          ],
          totals: { stable: { tasks: 1, passed: 1 }, canary: { tasks: 1, passed: 0 } },
          alertFailures: [{ at: evil, reason: evil }],
        },
      ],
    };
    data.canaries[0]!.decision = data.canaries[0]!.markers[0]!;
    const html = renderReport(data);
    expect(html).not.toContain('<script');
    expect(html).toContain(escapeHtml(evil));
    expect(html).not.toMatch(/\s(src|href)=/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain('data-testid="decision-marker"');
    expect(html).toContain('data-testid="pass-rate-chart"');
  });
});
