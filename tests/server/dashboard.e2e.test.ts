/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { TempProject } from '../helpers/project.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { postJson, serveBin, startCanaryOfEdit, type ServedProject } from '../helpers/serve.ts';

const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const SCREENSHOT = join(REPO_ROOT, 'reports', 'dashboard.png');

/**
 * Real Chromium (Debian's, through playwright-core) on the live dashboard of the built
 * `bernstein serve`: outcomes posted through the API change the counts, the chart and the
 * decision on the open page, without a reload.
 */
describe('the live dashboard in Chromium', () => {
  const readToken = 'read-token-for-the-dashboard-e2e';
  const routeToken = 'route-token-for-the-dashboard-e2e';
  let project: TempProject;
  let served: ServedProject;
  let browser: Browser;

  beforeAll(async () => {
    project = new TempProject({
      roles: { backend: { files: { 'system_prompt.md': 'You are the backend agent.\n' }, model: { default_model: 'sonnet' } } },
      config: { canary: { policy: 'threshold', min_canary_tasks: 10, rollback_margin: 0.1 } },
    });
    await startCanaryOfEdit(project, 'backend', 50, 'You are the backend agent. Commit without running tests.\n');
    served = await serveBin(project.dir, { BERNSTEIN_TOKEN_READ: readToken, BERNSTEIN_TOKEN_ROUTE: routeToken });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (served) expect(await served.stop(), served.log()).toBe(0);
  }, 60_000);

  it('shows counts, chart and decision change as outcomes arrive, without a reload', { timeout: 180_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.setDefaultTimeout(90_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${served.url}/#token=${readToken}`);
    const card = page.locator('[data-role="backend"]');
    await card.waitFor();
    await page.locator('#connection.live').waitFor();
    expect(await card.locator('[data-field="canary-tasks"]').textContent()).toBe('0');
    expect(await card.locator('[data-field="decision"]').getAttribute('data-action')).toBe('continue');
    expect(await card.locator('[data-field="percentage"]').textContent()).toBe('50 %');
    const loadedAt = await page.evaluate(() => (window as unknown as { __bernsteinDashboardLoadedAt: number }).__bernsteinDashboardLoadedAt);

    // Route tasks over OFREP, in order, and note their arms.
    const arms = { stable: [] as string[], canary: [] as string[] };
    const order: Array<{ taskId: string; arm: 'stable' | 'canary' }> = [];
    for (let i = 0; arms.canary.length < 12 || arms.stable.length < 12; i++) {
      const routed = await postJson(`${served.url}/ofrep/v1/evaluate/flags/backend`, { context: { targetingKey: `D-${i}` } }, routeToken);
      expect(routed.status).toBe(200);
      arms[routed.body.value.arm as 'stable' | 'canary'].push(`D-${i}`);
      order.push({ taskId: `D-${i}`, arm: routed.body.value.arm });
    }
    const outcome = (t: { taskId: string; arm: string }) => ({ taskId: t.taskId, passed: t.arm === 'stable' });

    // A few outcomes, in routing order (the evidence counts tasks in routing order): the counts and
    // the chart follow, the decision waits for min_canary_tasks.
    let k = 0;
    while (order.slice(0, k).filter((t) => t.arm === 'canary').length < 3 || !order.slice(0, k).some((t) => t.arm === 'stable')) k++;
    const first = order.slice(0, k);
    const firstCanary = first.filter((t) => t.arm === 'canary').length;
    const firstStable = first.length - firstCanary;
    expect((await postJson(`${served.url}/v1/outcomes`, first.map(outcome), routeToken)).status).toBe(200);
    await page.waitForFunction((n) => document.querySelector('[data-role="backend"] [data-field="canary-tasks"]')?.textContent === String(n), firstCanary);
    expect(await card.locator('[data-field="stable-tasks"]').textContent()).toBe(String(firstStable));
    expect(await card.locator('[data-field="canary-rate"]').textContent()).toBe('0 %');
    await page.waitForFunction(() => Number(document.querySelector('[data-role="backend"] svg[data-chart]')?.getAttribute('data-canary-points') ?? 0) > 0);
    expect(await card.locator('[data-field="decision"]').getAttribute('data-action')).toBe('continue');

    // Enough failing canary outcomes: the threshold rule rolls the canary back, live.
    const recorded = await postJson(`${served.url}/v1/outcomes`, order.slice(k).map(outcome), routeToken);
    expect(recorded.status).toBe(200);
    expect(recorded.body.transitions.map((e: { action: string }) => e.action)).toContain('rollback');
    await page.waitForFunction(() => document.querySelector('[data-role="backend"] [data-field="decision"]')?.getAttribute('data-action') === 'rollback');
    await page.locator('#trail tr[data-action="rollback"]').waitFor();
    expect(await card.locator('[data-field="decision"]').textContent()).toContain('rolled back');
    expect(await card.locator('[data-field="last-totals"]').textContent()).toMatch(/stable (\d+)\/\1 passed, canary 0\/(\d+) passed/);
    expect(Number(await card.locator('svg[data-chart]').getAttribute('data-canary-points'))).toBeGreaterThanOrEqual(3);
    expect(await card.locator('svg[data-chart] line[data-marker="rollback"]').count()).toBe(1);

    // Same page all along: no reload happened.
    expect(await page.evaluate(() => (window as unknown as { __bernsteinDashboardLoadedAt: number }).__bernsteinDashboardLoadedAt)).toBe(loadedAt);
    expect(pageErrors).toEqual([]);
    mkdirSync(join(REPO_ROOT, 'reports'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
});
