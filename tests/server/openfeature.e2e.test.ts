import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { TempProject } from '../helpers/project.ts';
import { parseNdjson, runBin } from '../helpers/process.ts';
import { serveBin, startCanaryOfEdit, type ServedProject } from '../helpers/serve.ts';

/**
 * The official OpenFeature server SDK with the OFREP provider from npm, against the built
 * `bernstein serve`: an object flag per task (the role is the flag key, the task id the
 * targeting key) gives the arm `canary route` gives for the same task.
 */
describe('OpenFeature server SDK + OFREP provider against bernstein serve', () => {
  const token = 'route-token-for-openfeature-e2e';
  let project: TempProject;
  let served: ServedProject;
  let canaryVersion: string;

  beforeAll(async () => {
    project = new TempProject({ roles: { backend: { files: { 'system_prompt.md': 'You are the backend agent.\n' }, model: { default_model: 'sonnet' } } } });
    canaryVersion = await startCanaryOfEdit(project, 'backend', 50, 'You are the backend agent. Keep functions small.\n');
    served = await serveBin(project.dir, { BERNSTEIN_TOKEN_ROUTE: token });
    await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: served.url, headers: { Authorization: `Bearer ${token}` } }));
  }, 180_000);

  afterAll(async () => {
    await OpenFeature.close();
    if (served) {
      const code = await served.stop();
      expect(code, served.log()).toBe(0);
    }
  }, 60_000);

  it('evaluates an object flag per task with the arms `canary route` gives', { timeout: 120_000 }, async () => {
    const client = OpenFeature.getClient();
    const taskIds = Array.from({ length: 40 }, (_, i) => `OF-${i}`);
    const viaSdk = new Map<string, { arm: string; versionId: string; canaryId: string }>();
    for (const taskId of taskIds) {
      const details = await client.getObjectDetails('backend', { versionId: 'fallback' }, { targetingKey: taskId });
      expect(details.errorCode, details.errorMessage).toBeUndefined();
      expect(details.reason).toBe('SPLIT');
      const value = details.value as { arm: string; versionId: string; canaryId: string; model: Record<string, unknown>; filesHash: string };
      expect(details.variant).toBe(value.arm);
      expect(value.filesHash).toMatch(/^[0-9a-f]{64}$/);
      expect(details.flagMetadata).toMatchObject({ arm: value.arm, versionId: value.versionId, percentage: 50 });
      viaSdk.set(taskId, value);
    }
    const arms = new Set([...viaSdk.values()].map((v) => v.arm));
    expect(arms).toEqual(new Set(['stable', 'canary']));
    expect([...viaSdk.values()].filter((v) => v.arm === 'canary').every((v) => v.versionId === canaryVersion)).toBe(true);

    // The CLI, on the same project, routes the same tasks (retries: sticky) to the same arms.
    const routed = await runBin(['--json', 'canary', 'route', '--role', 'backend', ...taskIds.flatMap((id) => ['--task', id])], { dir: project.dir });
    expect(routed.code, routed.stderr).toBe(0);
    for (const line of parseNdjson<{ taskId: string; arm: string; versionId: string; canaryId: string }>(routed)) {
      const sdk = viaSdk.get(line.taskId)!;
      expect({ arm: line.arm, versionId: line.versionId, canaryId: line.canaryId }).toEqual({ arm: sdk.arm, versionId: sdk.versionId, canaryId: sdk.canaryId });
    }
    // Each task was recorded once, by the SDK's evaluation.
    const assigned = project.ledger().filter((r) => r.type === 'assign' && taskIds.includes(r.taskId));
    expect(assigned).toHaveLength(taskIds.length);
  });

  it('an unknown role is FLAG_NOT_FOUND to the SDK, which falls back to the default', async () => {
    const details = await OpenFeature.getClient().getObjectDetails('no-such-role', { versionId: 'fallback' }, { targetingKey: 'OF-x' });
    expect(details.errorCode).toBe('FLAG_NOT_FOUND');
    expect(details.value).toEqual({ versionId: 'fallback' });
  });
});
