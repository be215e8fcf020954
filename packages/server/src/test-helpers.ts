import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileRollout } from '@bernstein/store-file';
import { createRolloutFacade } from './rollout-facade.js';
import { startServer, type RunningServer } from './server.js';
import type { TokenSet } from './auth.js';

/** A throw-away project with role bundles on disk. */
export function tempProject(roles: Record<string, string> = { backend: 'You are the backend agent.\n' }, config = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'bernstein-server-'));
  for (const [role, prompt] of Object.entries(roles)) writeRole(dir, role, prompt);
  if (config) {
    mkdirSync(join(dir, '.sdd'), { recursive: true });
    writeFileSync(join(dir, '.sdd', 'config.yaml'), config);
  }
  return dir;
}

export function writeRole(dir: string, role: string, prompt: string, model = 'sonnet'): void {
  const roleDir = join(dir, 'templates', 'roles', role);
  mkdirSync(roleDir, { recursive: true });
  writeFileSync(join(roleDir, 'system_prompt.md'), prompt);
  writeFileSync(join(roleDir, 'config.yaml'), `default_model: ${model}\n`);
}

export function removeProject(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface TestServer {
  server: RunningServer;
  url: string;
  logs: string[];
  close(): Promise<void>;
}

/** The server in this process on an ephemeral loopback port. */
export async function serveProject(dir: string, options: { tokens?: TokenSet } = {}): Promise<TestServer> {
  const logs: string[] = [];
  const facade = createRolloutFacade(openFileRollout(dir));
  const server = await startServer({ facade, port: 0, log: (line) => logs.push(line), ...(options.tokens ? { tokens: options.tokens } : { tokens: { entries: [], counts: { read: 0, route: 0, admin: 0 } } }) });
  return { server, url: server.url, logs, close: () => server.close() };
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (HTML, 304)
  }
  return { status: response.status, body, headers: response.headers };
}
