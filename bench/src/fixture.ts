import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canaryRole, recordOutcomes, routeTasks, scanVersions, type RecordItem, type RecordResult, type Rollout } from '@bernstein/rollout';
import { openBenchProject } from './project.js';

/**
 * Benchmark projects, made only through the public API (no hand-written ledger or state files):
 * a templates folder and `.sdd/config.yaml` (user-owned inputs), then scan, route, canary, record.
 */

export const BENCH_ROLE = 'backend';

/**
 * min_canary_tasks far above any bench size keeps the canary undecided, so that every recorded
 * outcome is evaluated (as in production) but no transition changes the state under the
 * measurement, and the canary's comparison window holds every outcome (the worst case for status).
 */
export const UNDECIDED_CANARY_CONFIG: readonly string[] = ['min_canary_tasks: 100000000', 'rollback_margin: 0.10', 'policy: sequential'];

/** The same with guardrails on cost and duration (recordOutcomes then runs the full decision per outcome). */
export const UNDECIDED_CANARY_CONFIG_WITH_GUARDRAILS: readonly string[] = [
  ...UNDECIDED_CANARY_CONFIG,
  'guardrails:',
  '  cost_usd: { max_increase: 1.0 }',
  '  duration_ms: { max_increase: 1.0 }',
];

export interface SkeletonOptions {
  /** Lines inside the `canary:` section of `.sdd/config.yaml`. */
  canaryConfig?: readonly string[];
  /** Extra roles without a canary (stable only). */
  extraRoles?: readonly string[];
}

/** The user-owned inputs: role bundles on disk and `.sdd/config.yaml`. */
export async function writeSkeleton(root: string, options: SkeletonOptions = {}): Promise<void> {
  for (const role of [BENCH_ROLE, ...(options.extraRoles ?? [])]) {
    const dir = join(root, 'templates', 'roles', role);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'system_prompt.md'), `You are the ${role} agent of a small software team.\nKeep changes small and tested.\n`);
    await writeFile(join(dir, 'task_prompt.md'), 'Task: {{task}}\nRun the quality gates before you finish.\n');
    await writeFile(join(dir, 'config.yaml'), 'default_model: sonnet\ndefault_effort: medium\n');
  }
  await mkdir(join(root, '.sdd'), { recursive: true });
  const canary = options.canaryConfig ?? [];
  await writeFile(
    join(root, '.sdd', 'config.yaml'),
    ['templates: templates/roles', 'orchestrator_setting: kept-as-is', ...(canary.length > 0 ? ['canary:', ...canary.map((line) => `  ${line}`)] : []), ''].join('\n'),
  );
}

/** Change the role's prompt on disk and start a canary of it (SPEC: `config canary --role R --percentage n`). */
export async function startCanaryOfEditedBundle(project: Rollout, role: string, percentage: number): Promise<string> {
  await appendFile(join(project.root, 'templates', 'roles', role, 'system_prompt.md'), 'Prefer pure functions; write the test first.\n');
  const { state } = await canaryRole(project, role, { percentage, reason: 'bench: canary of an edited prompt' });
  const canary = state.roles[role]?.canary;
  if (!canary) throw new Error(`bench fixture: no canary started on role ${role}`);
  return canary.id;
}

/** Deterministic, well-mixed pseudo-random in [0, 1) from an integer (so fixtures are reproducible). */
export function unitHash(i: number, salt = 0): number {
  let h = (Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(salt + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

/** One outcome as an orchestrator reports it: pass rate 0.80 on both arms, two gates, cost and duration. */
export function outcomeFor(taskId: string, i: number): { taskId: string; passed: boolean; gates: Record<string, boolean>; costUsd: number; durationMs: number } {
  const passed = unitHash(i, 1) < 0.8;
  return {
    taskId,
    passed,
    gates: { lint: passed || unitHash(i, 2) < 0.5, tests: passed },
    costUsd: Math.round((0.2 + unitHash(i, 3) * 0.4) * 1e4) / 1e4,
    durationMs: Math.round(30_000 + unitHash(i, 4) * 60_000),
  };
}

export function outcomeItems(taskIds: readonly string[], firstIndex: number): RecordItem[] {
  return taskIds.map((taskId, k) => ({ line: k + 1, value: outcomeFor(taskId, firstIndex + k) }));
}

/** Fail loudly when recording skipped anything: the harness would be measuring the wrong thing. */
export function assertRecorded(result: RecordResult, expected: number, what: string): void {
  if (result.recorded !== expected || result.skipped.length > 0) {
    const first = result.skipped[0];
    throw new Error(`${what}: recorded ${result.recorded} of ${expected}${first ? ` (first skip: ${first.code} ${first.message})` : ''}`);
  }
}

/**
 * The small project of the CLI start-up bench: two roles, a canary at 20 % on one of them with a
 * few outcomes per arm (still undecided: fewer canary outcomes than min_canary_tasks).
 */
export async function createSmallProject(root: string): Promise<{ canaryId: string; routed: number; recorded: number }> {
  await writeSkeleton(root, { extraRoles: ['qa'], canaryConfig: ['min_canary_tasks: 10', 'policy: sequential'] });
  const project = openBenchProject(root);
  await scanVersions(project);
  const warm = Array.from({ length: 10 }, (_, i) => `warm-${i}`);
  await routeTasks(project, BENCH_ROLE, warm);
  await routeTasks(project, 'qa', ['qa-1', 'qa-2', 'qa-3']);
  let recorded = 0;
  const r1 = await recordOutcomes(project, outcomeItems(warm, 0));
  assertRecorded(r1, warm.length, 'small project');
  recorded += r1.recorded;
  const canaryId = await startCanaryOfEditedBundle(project, BENCH_ROLE, 20);
  const tasks = Array.from({ length: 20 }, (_, i) => `task-${i}`);
  await routeTasks(project, BENCH_ROLE, tasks);
  const r2 = await recordOutcomes(project, outcomeItems(tasks.slice(0, 12), 100));
  assertRecorded(r2, 12, 'small project');
  recorded += r2.recorded;
  const still = (await project.store.loadState()).roles[BENCH_ROLE]?.canary;
  if (!still || still.id !== canaryId) throw new Error('small project: the canary was decided while the fixture was being built');
  return { canaryId, routed: warm.length + 3 + tasks.length, recorded };
}
