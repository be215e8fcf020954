import { spawn, type ChildProcess } from 'node:child_process';
import { binPath } from './paths.ts';
import { childEnv, runBin, parseJson } from './process.ts';
import type { TempProject } from './project.ts';

export interface ServedProject {
  url: string;
  child: ChildProcess;
  /** Everything the server wrote on stderr so far (its log). */
  log(): string;
  /** SIGTERM and wait: resolves with the exit code (the server drains first). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/**
 * `bernstein serve --port 0 --json` on a project, as a real child process of the built bin;
 * resolves once it listens (its first stdout line names the URL).
 */
export function serveBin(dir: string, env: Record<string, string | undefined> = {}, extraArgs: string[] = []): Promise<ServedProject> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath(), '--dir', dir, '--json', 'serve', '--port', '0', ...extraArgs], {
      cwd: dir,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`bernstein serve did not start within 60 s\nstderr: ${stderr}`));
    }, 60_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (newline < 0 || settled) return;
      settled = true;
      clearTimeout(timer);
      const { url } = JSON.parse(stdout.slice(0, newline)) as { url: string };
      resolve({
        url,
        child,
        log: () => stderr,
        async stop() {
          child.kill('SIGTERM');
          return exited;
        },
        async kill() {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
    child.on('exit', (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`bernstein serve exited with ${code} before listening\nstderr: ${stderr}`));
    });
  });
}

/** Route a warm-up task (the bundle on disk becomes stable), edit the role, start a canary of the edit. */
export async function startCanaryOfEdit(project: TempProject, role: string, percentage: number, edit: string): Promise<string> {
  const warm = await runBin(['canary', 'route', '--role', role, '--task', `${role}-warmup`, '--json'], { dir: project.dir });
  if (warm.code !== 0) throw new Error(`route failed: ${warm.stderr}`);
  project.writeRoleFile(role, 'system_prompt.md', edit);
  const started = await runBin(['--json', 'config', 'canary', '--role', role, '--percentage', String(percentage)], { dir: project.dir });
  if (started.code !== 0) throw new Error(`config canary failed: ${started.stderr}`);
  return parseJson<{ events: Array<{ to: string }> }>(started).events[0]!.to;
}

export async function postJson(url: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
