/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Issue 16, the HTML report in a real Chromium: a 5 → 25 → 50 → 100 ramp that ends in a
 * promotion, a rollback with outcomes that arrive after it, and a canary with no outcomes.
 * The project is built through the libraries (fast), the page is written by the built bin, and
 * the geometry is measured in the browser: one evidence window per canary with its step lines
 * inside it, a row per epoch, lines that change style at the decision, and labels that do not overlap.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { canaryRole, recordOutcomes, rollbackCanary, routeTasks, type Rollout } from '@bernstein/rollout';
import { openFileRollout } from '@bernstein/store-file';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectOk } from './helpers/assert.ts';
import { runBin } from './helpers/process.ts';
import { makeProject, removeProjects } from './helpers/project.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const CHROMIUM = '/usr/bin/chromium';

let browser: Browser;
let page: Page;
let html: string;

/** Route `count` tasks at once, then record their outcomes one by one (each one is evaluated). */
async function batch(p: Rollout, role: string, prefix: string, count: number, passed: (arm: 'stable' | 'canary') => boolean): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const routes = await routeTasks(p, role, ids);
  const actions: string[] = [];
  for (const r of routes) {
    const { transitions } = await recordOutcomes(p, [{ line: 1, value: { taskId: r.taskId, passed: passed(r.arm) } }]);
    actions.push(...transitions.map((t) => t.action));
  }
  return actions;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') throw new Error(`the report browser test needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
    return;
  }
  const project = makeProject({
    roles: {
      backend: { files: { 'system_prompt.md': 'v1\n' }, model: { default_model: 'small' } },
      qa: { files: { 'system_prompt.md': 'qa v1\n' }, model: { default_model: 'small' } },
      docs: { files: { 'system_prompt.md': 'docs v1\n' }, model: { default_model: 'small' } },
    },
    config: 'canary:\n  canary_percentage: 0\n  min_canary_tasks: 3\n  policy: threshold\n',
  });
  let canaries = 0;
  const p = openFileRollout(project.dir, { newCanaryId: () => `c0ffee${String(canaries++).padStart(6, '0')}` });
  await routeTasks(p, 'backend', ['init-b']);
  await routeTasks(p, 'qa', ['init-q']);
  await routeTasks(p, 'docs', ['init-d']);

  // 1. backend: a model change ramped 5 → 25 → 50 → 100 %, every task passes. Tasks are routed 40
  // at a time and recorded one by one, so each step comes mid-batch and the rest of the batch
  // (routed in the old window) reports after it.
  await canaryRole(p, 'backend', { model: 'big', steps: [5, 25, 50, 100] });
  const actions: string[] = [];
  for (let round = 0; round < 40 && !actions.includes('promote'); round++) actions.push(...(await batch(p, 'backend', `b${round}`, 40, () => true)));
  // 5 → 25 → 50, then the promotion: reaching 100 % is the promotion.
  expect(actions.filter((a) => a === 'step')).toHaveLength(2);
  expect(actions).toContain('promote');

  // 2. qa: a canary that fails everything, rolled back mid-batch: outcomes arrive after the rollback.
  project.writeRoleFile('qa', 'system_prompt.md', 'qa v2 (bad)\n');
  await canaryRole(p, 'qa', { percentage: 50 });
  const qaActions = await batch(p, 'qa', 'q', 40, (arm) => arm === 'stable');
  expect(qaActions).toEqual(['rollback']);

  // 3. docs: a canary started and rolled back by hand before any outcome.
  project.writeRoleFile('docs', 'system_prompt.md', 'docs v2\n');
  await canaryRole(p, 'docs', { percentage: 10 });
  await rollbackCanary(p, { role: 'docs', reason: 'wrong branch' });

  const out = join(project.dir, 'report.html');
  expectOk(await runBin(['canary', 'report', '--out', out], { dir: project.dir }));
  html = readFileSync(out, 'utf8');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(pathToFileURL(out).href);
});

afterAll(async () => {
  await browser?.close();
  removeProjects();
});

interface Rect {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Screen geometry of one canary's chart, measured by the browser. */
async function measure(role: string) {
  return page.evaluate((r) => {
    const section = document.querySelector(`[data-testid="canary"][data-role="${r}"]`)!;
    const box = (el: Element) => {
      const b = el.getBoundingClientRect();
      return { left: b.left, right: b.right, top: b.top, bottom: b.bottom };
    };
    return {
      compact: section.querySelector('[data-testid="canary-oneline"]') !== null,
      hasChart: section.querySelector('[data-testid="pass-rate-chart"]') !== null,
      sectionHeight: section.getBoundingClientRect().height,
      windows: [...section.querySelectorAll('[data-testid="window"]')].map((w) => ({ ...box(w.querySelector('rect')!), label: w.querySelector('text')?.textContent ?? null })),
      late: [...section.querySelectorAll('[data-testid="late-region"]')].map(box),
      steps: [...section.querySelectorAll('[data-testid="step-marker"]')].map((m) => ({
        x: (() => {
          const b = m.querySelector('line')!.getBoundingClientRect();
          return b.left + b.width / 2;
        })(),
        edge: m.getAttribute('data-window-edge') === 'true',
        label: m.querySelector('text')!.textContent,
      })),
      decision: [...section.querySelectorAll('[data-testid="decision-marker"]')].map((m) => {
        const b = m.querySelector('line')!.getBoundingClientRect();
        return { x: b.left + b.width / 2, action: m.getAttribute('data-action') };
      }),
      series: [...section.querySelectorAll('[data-testid^="series-"]')].map((e) => ({ arm: e.getAttribute('data-testid'), ...box(e) })),
      lateSeries: [...section.querySelectorAll('[data-testid^="late-"]:not([data-testid="late-region"])')].map((e) => ({ arm: e.getAttribute('data-testid'), ...box(e) })),
      labels: [...section.querySelectorAll('[data-testid="chart-label"]')].map((e) => ({ text: e.textContent, ...box(e) })),
    };
  }, role);
}

const overlap = (a: Rect, b: Rect) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

function expectNoOverlap(labels: Array<Rect & { text: string | null }>) {
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      expect(overlap(labels[i]!, labels[j]!), `labels "${labels[i]!.text}" and "${labels[j]!.text}" overlap`).toBe(false);
    }
  }
}

describe.skipIf(!existsSync(CHROMIUM) && process.env.CI !== 'true')('the HTML report in Chromium', () => {
  it('draws a ramp as one evidence window (evidence never restarts) with its steps inside it and a row per epoch', async () => {
    const g = await measure('backend');
    expect(g.hasChart).toBe(true);
    expect(g.windows).toHaveLength(1);
    const [w] = g.windows;
    expect(g.steps.map((s) => s.label)).toEqual(['5→25 %', '25→50 %']);
    const [to25, to50] = g.steps;
    // Steps start new epochs of the same window: inside it, not on an edge.
    for (const step of [to25!, to50!]) {
      expect(step.edge).toBe(false);
      expect(step.x).toBeGreaterThan(w!.left + 1);
      expect(step.x).toBeLessThan(w!.right - 1);
    }
    expect(to25!.x).toBeLessThan(to50!.x);
    // The promotion comes after the last step, in the one window.
    expect(g.decision).toHaveLength(1);
    expect(g.decision[0]!.action).toBe('promote');
    expect(g.decision[0]!.x).toBeGreaterThan(to50!.x);
    expect(g.decision[0]!.x).toBeLessThanOrEqual(w!.right + 0.5);
    // A row per epoch that routed tasks (here the batches were routed at 5 % and the ramp moved on
    // within them, so that is the first) and the combined row, from the promotion's evidence.
    const rows = await page.locator('[data-role="backend"] [data-testid="epoch-row"]').allInnerTexts();
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows[0]!.split(/\s+/).slice(0, 3).join(' ')).toBe('epoch 0 5');
    expect(await page.locator('[data-role="backend"] [data-testid="epoch-combined"]').count()).toBe(1);
    expectNoOverlap(g.labels);
  });

  it('stops the lines at a rollback and draws the outcomes after it as late', async () => {
    const g = await measure('qa');
    expect(g.decision).toHaveLength(1);
    const decisionX = g.decision[0]!.x;
    expect(g.decision[0]!.action).toBe('rollback');
    // Evidence lines end at the decision; late lines start there and go right.
    expect(g.series.length).toBeGreaterThan(0);
    for (const s of g.series) expect(s.right, `${s.arm} ends at the decision`).toBeLessThanOrEqual(decisionX + 2);
    expect(g.lateSeries.length).toBeGreaterThan(0);
    for (const s of g.lateSeries) {
      expect(s.left, `${s.arm} starts at the decision`).toBeGreaterThanOrEqual(decisionX - 3);
      expect(s.right).toBeGreaterThan(decisionX + 3);
    }
    expect(g.late).toHaveLength(1);
    expect(Math.abs(g.late[0]!.left - decisionX)).toBeLessThan(1.5);
    expect(Math.abs(g.late[0]!.right - g.windows.at(-1)!.right)).toBeLessThan(1);
    expectNoOverlap(g.labels);
  });

  it('gives a canary with no outcomes a one-line entry, not an empty chart', async () => {
    const g = await measure('docs');
    expect(g.compact).toBe(true);
    expect(g.hasChart).toBe(false);
    expect(g.sectionHeight).toBeLessThan(80);
    const text = await page.locator('[data-role="docs"] [data-testid="canary-oneline"]').innerText();
    expect(text).toMatch(/no outcomes recorded/);
    expect(text).toMatch(/rolled back/);
    expect(text).toContain('wrong branch');
    expect(html).toContain('data-status="rolled back"');
  });
});
