import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isBernsteinError } from '@bernstein/store';
import { applyAutomaticDecision, canaryRole, promoteCanary, rollbackCanary, routeTasks, scanVersions, startCanaryOfVersion, type AutomaticDecision, type Rollout } from '@bernstein/rollout';
import { openFileRollout } from './open.js';

async function project(files: Record<string, string>, config?: string) {
  const root = await mkdtemp(join(tmpdir(), 'bernstein-router-'));
  const write = async (name: string, text: string) => {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), text);
  };
  for (const [name, text] of Object.entries(files)) await write(name, text);
  if (config !== undefined) await write('.sdd/config.yaml', config);
  return { root, write, open: () => openFileRollout(root) };
}

const backend = { 'templates/roles/backend/system_prompt.md': 'v1\n', 'templates/roles/backend/config.yaml': 'default_model: sonnet\n' };
const ids = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('routeTasks', () => {
  it('makes the bundle stable on first sight and returns what is needed to spawn the agent', async () => {
    const p = await project(backend);
    const [r] = await routeTasks(p.open(), 'backend', ['t1']);
    expect(r).toMatchObject({ taskId: 't1', role: 'backend', arm: 'stable', canaryId: null, model: { default_model: 'sonnet' }, files: { 'system_prompt.md': 'v1\n' } });
    const { events } = await p.open().store.readAudit();
    expect(events.map((e) => e.action)).toEqual(['init']);
  });

  it('releases a changed bundle directly with canary_percentage 0, keeping the previous stable', async () => {
    const p = await project(backend);
    const [first] = await routeTasks(p.open(), 'backend', ['t1']);
    await p.write('templates/roles/backend/system_prompt.md', 'v2\n');
    const [second] = await routeTasks(p.open(), 'backend', ['t2']);
    expect(second!.versionId).not.toBe(first!.versionId);
    const state = await p.open().store.loadState();
    expect(state.roles.backend?.previousStables).toEqual([first!.versionId]);
    // instant rollback: no canary, back to the previous stable, which stays put on the next route
    await rollbackCanary(p.open(), { role: 'backend' });
    const [third] = await routeTasks(p.open(), 'backend', ['t3']);
    expect(third!.versionId).toBe(first!.versionId);
    expect((await p.open().store.readAudit()).events.map((e) => e.action)).toEqual(['init', 'release', 'instant-rollback']);
  });

  it('starts a canary automatically when canary_percentage > 0, and never restarts a rejected one', async () => {
    const p = await project(backend, 'canary:\n  canary_percentage: 30\n');
    await routeTasks(p.open(), 'backend', ['t0']);
    await p.write('templates/roles/backend/system_prompt.md', 'v2\n');
    const routed = await routeTasks(p.open(), 'backend', ids(2000));
    const share = routed.filter((r) => r.arm === 'canary').length / routed.length;
    expect(Math.abs(share - 0.3)).toBeLessThan(0.04);
    const canaryVersion = routed.find((r) => r.arm === 'canary')!.versionId;
    await rollbackCanary(p.open(), { role: 'backend', reason: 'bad' });
    const again = await routeTasks(p.open(), 'backend', ids(200, 'u'));
    expect(again.every((r) => r.arm === 'stable')).toBe(true);
    const state = await p.open().store.loadState();
    expect(state.roles.backend?.rejected).toEqual([canaryVersion]);
    expect(state.roles.backend?.canary).toBeNull();
    await scanVersions(p.open());
    expect((await p.open().store.loadState()).roles.backend?.canary).toBeNull();
  });

  it('keeps retried tasks on their arm, and keeps canary tasks there when the share rises', async () => {
    const p = await project(backend);
    await routeTasks(p.open(), 'backend', ['t0']);
    await p.write('templates/roles/backend/system_prompt.md', 'v2\n');
    await canaryRole(p.open(), 'backend', { percentage: 10 });
    const before = await routeTasks(p.open(), 'backend', ids(1000));
    await canaryRole(p.open(), 'backend', { percentage: 60 });
    const retried = await routeTasks(p.open(), 'backend', ids(1000));
    expect(retried.map((r) => r.arm)).toEqual(before.map((r) => r.arm));
    expect(retried.every((r) => r.sticky)).toBe(true);
    const fresh = await routeTasks(p.open(), 'backend', ids(1000, 'n'));
    expect(fresh.filter((r) => r.arm === 'canary').length).toBeGreaterThan(500);
    // the ledger holds each task once: retries write nothing new
    const ledger = (await readFile(join(p.root, '.sdd/ledger.jsonl'), 'utf8')).trim().split('\n');
    expect(ledger).toHaveLength(2001);
  });

  it('refuses a second canary for a role that has one, and promotes to stable', async () => {
    const p = await project(backend);
    await routeTasks(p.open(), 'backend', ['t0']);
    await p.write('templates/roles/backend/system_prompt.md', 'v2\n');
    const { events } = await canaryRole(p.open(), 'backend', { percentage: 20 });
    const versionId = events[0]!.to!;
    const model = await canaryRole(p.open(), 'backend', { percentage: 20, model: 'opus' }).catch((e: unknown) => e);
    expect(isBernsteinError(model, 'CANARY_EXISTS')).toBe(true);
    await promoteCanary(p.open());
    const state = await p.open().store.loadState();
    expect(state.roles.backend?.stable).toBe(versionId);
    expect(state.roles.backend?.canary).toBeNull();
    // the promoted disk bundle is not treated as a change afterwards
    await routeTasks(p.open(), 'backend', ['t9']);
    expect((await p.open().store.readAudit()).events.map((e) => e.action)).toEqual(['init', 'start', 'promote']);
  });

  it('canaries a model change on the stable bundle; a promoted model is not undone by the unchanged disk', async () => {
    const p = await project(backend, 'canary:\n  canary_percentage: 20\n');
    await routeTasks(p.open(), 'backend', ['t0']);
    await canaryRole(p.open(), 'backend', { percentage: 99.99, model: 'opus' });
    const [r] = await routeTasks(p.open(), 'backend', ['t1']);
    expect(r!.arm).toBe('canary');
    expect(r!.model).toEqual({ default_model: 'opus' });
    expect(r!.files).toEqual({ 'system_prompt.md': 'v1\n' });
    await promoteCanary(p.open(), { role: 'backend' });
    const [after] = await routeTasks(p.open(), 'backend', ['t2']);
    expect(after!.model).toEqual({ default_model: 'opus' });
    expect((await p.open().store.loadState()).roles.backend?.canary).toBeNull();
  });

  it('applies an automatic decision once; a stale decision is a no-op', async () => {
    const p = await project(backend);
    await routeTasks(p.open(), 'backend', ['t0']);
    await p.write('templates/roles/backend/system_prompt.md', 'v2\n');
    const { events } = await canaryRole(p.open(), 'backend', { steps: [5, 50, 100] });
    const canaryId = events[0]!.canaryId!;
    const decision = { role: 'backend', canaryId, epoch: 0, action: 'promote' as const, reason: 'good', evidence: { stable: { tasks: 1, passed: 1 } } };
    const stepped = await applyDecision(p.open(), decision);
    expect(stepped.events.map((e) => e.action)).toEqual(['step']);
    expect(stepped.state.roles.backend?.canary?.percentage).toBe(50);
    // the same decision again refers to epoch 0, which is gone
    expect((await applyDecision(p.open(), decision)).events).toEqual([]);
    // the next step would be 100 %: reaching it is the promotion
    const last = await applyDecision(p.open(), { ...decision, epoch: 1 });
    expect(last.events.map((e) => e.action)).toEqual(['promote']);
    expect(last.events[0]!.evidence).toEqual({ stable: { tasks: 1, passed: 1 } });
  });

  it('starts a canary of a registered version by prefix, and explains an unknown one', async () => {
    const p = await project(backend);
    await routeTasks(p.open(), 'backend', ['t0']);
    await p.write('templates/roles/backend/system_prompt.md', 'v2\n');
    const { versions } = await scanVersions(p.open());
    const { events } = await startCanaryOfVersion(p.open(), versions[0]!.id.slice(0, 6), { percentage: 20 });
    expect(events[0]!.to).toBe(versions[0]!.id);
    await expect(startCanaryOfVersion(p.open(), 'ffff0000', { percentage: 20 })).rejects.toThrow(/unknown version/);
  });

  it('refuses hostile role names and task ids', async () => {
    const p = await project(backend);
    await expect(routeTasks(p.open(), '../backend', ['t'])).rejects.toThrow(/invalid role name/);
    await expect(routeTasks(p.open(), 'backend', [''])).rejects.toThrow(/invalid task id/);
  });
});

function applyDecision(rollout: Rollout, decision: AutomaticDecision) {
  return rollout.store.transaction({ roles: [decision.role] }, (tx) => applyAutomaticDecision(rollout, tx, decision));
}

describe('the bundle on disk (rules 2 and 7)', () => {
  it('a broken bundle keeps serving stable with one warning and changes nothing; fixed, it is acted on', async () => {
    const p = await project(backend);
    const [first] = await routeTasks(p.open(), 'backend', ['t1']);
    await p.write('templates/roles/backend/config.yaml', 'default_model: [sonnet\n');
    const warnings: string[] = [];
    const routed = await routeTasks(p.open(), 'backend', ['t2', 't3'], { onWarning: (w) => warnings.push(w) });
    expect(routed.map((r) => r.versionId)).toEqual([first!.versionId, first!.versionId]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^role "backend": templates\/roles\/backend\/config\.yaml:\d+: invalid YAML.*serving stable/);
    expect((await p.open().store.readAudit()).events.map((e) => e.action)).toEqual(['init']);
    await p.write('templates/roles/backend/config.yaml', 'default_model: opus\n');
    const [fixed] = await routeTasks(p.open(), 'backend', ['t4']);
    expect(fixed!.model).toEqual({ default_model: 'opus' });
  });

  it('scan registers the valid roles, reports the invalid one, and makes first-seen bundles stable', async () => {
    const p = await project({ ...backend, 'templates/roles/qa/p.md': 'qa\n', 'templates/roles/bad/p.md': 'x' });
    await writeFile(join(p.root, 'templates/roles/bad/p.md'), Buffer.from([0xfe, 0x0a]));
    const result = await scanVersions(p.open());
    expect(result.versions.map((v) => [v.role, v.new, v.stable])).toEqual([
      ['backend', true, true],
      ['qa', true, true],
    ]);
    expect(result.invalid).toEqual([{ role: 'bad', code: 'BUNDLE_INVALID', message: 'templates/roles/bad/p.md:1: not valid UTF-8 text; bundle files must be UTF-8' }]);
    await p.write('templates/roles/qa/p.md', 'qa v2\n');
    const again = await scanVersions(p.open());
    expect(again.versions.find((v) => v.role === 'qa')).toMatchObject({ new: true, stable: false });
    expect((await p.open().store.loadState()).roles.qa?.canary).toBeNull();
  });
});
