import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time of the process, for reports (never asserted). */
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  /** Written to stdin, which is then closed (stdin is always closed, so nothing waits on it). */
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  /** Node flags before the script (e.g. --import for the start barrier). */
  execArgv?: string[];
  /** Kill the process after this long (a hang is a failure, reported with its output). */
  timeoutMs?: number;
}

/** Environment for child processes: no colour, no debug stack traces from the parent's shell. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, BERNSTEIN_DEBUG: undefined, NODE_OPTIONS: undefined };
  for (const [key, value] of Object.entries(extra)) env[key] = value;
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

/** Run `node <script> ...args` as a real child process. */
export function runNode(script: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: childEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`node ${script} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`));
        return;
      }
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

