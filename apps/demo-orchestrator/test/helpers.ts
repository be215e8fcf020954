import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const demoCli = join(repoRoot, 'apps', 'demo-orchestrator', 'dist', 'cli.js');
export const bernsteinBin = join(repoRoot, 'packages', 'canary-cli', 'dist', 'bin', 'bin.js');

export function assertBuilt(): void {
  for (const file of [demoCli, bernsteinBin]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm build\` first (the end-to-end tests run the built CLIs)`);
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startNode(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawn(process.execPath, [...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runNode(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return startNode(args, options).done;
}

export interface LedgerLine {
  v: number;
  type: 'assign' | 'outcome';
  taskId: string;
  role: string;
  arm: 'stable' | 'canary';
  versionId: string;
  canaryId: string | null;
  epoch: number | null;
  passed?: boolean;
  gates?: Record<string, boolean>;
}

/** The ledger's records (complete lines only: a torn tail is not ours to judge here). */
export function readLedger(projectDir: string): LedgerLine[] {
  const file = join(projectDir, '.sdd', 'ledger.jsonl');
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LedgerLine | Record<string, unknown>)
    .filter((record): record is LedgerLine => 'type' in record);
}

/** Every routed task has exactly one outcome, and the outcome names the version it was routed to. */
export function checkLedgerConsistency(records: readonly LedgerLine[]): { assigned: Map<string, LedgerLine>; outcomes: Map<string, LedgerLine> } {
  const assigned = new Map<string, LedgerLine>();
  const outcomes = new Map<string, LedgerLine>();
  for (const record of records) {
    if (record.type === 'assign') {
      if (assigned.has(record.taskId)) throw new Error(`task ${record.taskId} was assigned twice`);
      assigned.set(record.taskId, record);
    } else {
      if (outcomes.has(record.taskId)) throw new Error(`task ${record.taskId} has two outcomes`);
      const assignment = assigned.get(record.taskId);
      if (!assignment) throw new Error(`task ${record.taskId} has an outcome but no assignment`);
      if (assignment.versionId !== record.versionId || assignment.arm !== record.arm || assignment.canaryId !== record.canaryId) {
        throw new Error(`task ${record.taskId}: outcome says ${record.arm}/${record.versionId}, assignment ${assignment.arm}/${assignment.versionId}`);
      }
      outcomes.set(record.taskId, record);
    }
  }
  for (const taskId of assigned.keys()) if (!outcomes.has(taskId)) throw new Error(`task ${taskId} was routed but has no outcome`);
  return { assigned, outcomes };
}
