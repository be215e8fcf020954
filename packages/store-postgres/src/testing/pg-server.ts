import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real, throw-away PostgreSQL server for tests: `initdb` into a temporary directory, `pg_ctl
 * start` on a free port on 127.0.0.1, stopped and removed by `stop()`. PostgreSQL refuses to run
 * as root, so when the tests run as root the server runs as an unprivileged OS user created on
 * first use (`runuser -u <user> --`).
 */

export const TEST_OS_USER = 'bernstein-pgtest';
export const TEST_DB_USER = 'bernstein';
/** The password of TEST_DB_USER: connections over TCP use scram-sha-256, so URLs carry it for real. */
export const TEST_DB_PASSWORD = 's3cr3t-Pa$$word';

export interface PgServer {
  host: string;
  port: number;
  /** A postgres:// URL of `database` (default `postgres`) with the test user's password. */
  url(database?: string): string;
  /** Create a fresh database and return its URL. */
  createDatabase(name?: string): Promise<string>;
  /** `pg_ctl restart -m immediate`: the server crashes and recovers from its WAL. */
  restartImmediate(): void;
  /** `pg_ctl restart -m fast`: a clean restart (shared buffers empty afterwards). */
  restartFast(): void;
  /** `pg_ctl stop -m immediate` (the server is down until `start()`). */
  stopImmediate(): void;
  start(): void;
  /** Stop the server and remove its directory. */
  stop(): Promise<void>;
  /** The server's log, for failure messages. */
  logFile: string;
}

/** Where `initdb` is: on PATH, or Debian's versioned directory. */
export function findPgBin(tool: 'initdb' | 'pg_ctl'): string {
  const onPath = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim()) return onPath.stdout.trim();
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const candidate = join(base, version, 'bin', tool);
      if (existsSync(candidate)) return candidate;
    }
  }
  throw new Error(`${tool} not found on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL (Debian: apt-get install postgresql)`);
}

/** Whether a PostgreSQL server can be started here (tests skip without one, except under CI=true). */
export function havePostgres(): boolean {
  try {
    findPgBin('initdb');
    findPgBin('pg_ctl');
    return true;
  } catch {
    return false;
  }
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function ensureOsUser(): { uid: number; gid: number } | null {
  if (!isRoot) return null;
  const lookup = () => spawnSync('id', ['-u', TEST_OS_USER], { encoding: 'utf8' });
  let found = lookup();
  if (found.status !== 0) {
    const created = spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', TEST_OS_USER], {
      encoding: 'utf8',
    });
    // Another test process may have created it at the same moment.
    found = lookup();
    if (found.status !== 0) throw new Error(`cannot create the OS user ${TEST_OS_USER} for the test server: ${created.stderr.trim()}`);
  }
  const uid = Number(found.stdout.trim());
  const gid = Number(execFileSync('id', ['-g', TEST_OS_USER], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

function asServerUser(command: string, args: readonly string[]): { file: string; args: string[] } {
  return isRoot ? { file: 'runuser', args: ['-u', TEST_OS_USER, '--', command, ...args] } : { file: command, args: [...args] };
}

function run(command: string, args: readonly string[], what: string, logFile?: string): void {
  const { file, args: argv } = asServerUser(command, args);
  const result = spawnSync(file, argv, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
  if (result.status !== 0) {
    let log = '';
    if (logFile && existsSync(logFile)) log = execFileSync('tail', ['-n', '30', logFile], { encoding: 'utf8' });
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}): ${result.stderr || result.stdout}${log ? `\nserver log:\n${log}` : ''}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const running = new Set<{ pgCtl: string; data: string }>();
// A test process that dies without its afterAll still leaves no server behind.
process.once('exit', () => {
  for (const server of running) {
    const { file, args } = asServerUser(server.pgCtl, ['-D', server.data, '-m', 'immediate', 'stop']);
    spawnSync(file, args, { stdio: 'ignore', timeout: 20_000 });
  }
});

export interface StartOptions {
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
}

export async function startPgServer(options: StartOptions = {}): Promise<PgServer> {
  const initdb = findPgBin('initdb');
  const pgCtl = findPgBin('pg_ctl');
  const owner = ensureOsUser();
  const dir = await mkdtemp(join(tmpdir(), 'bernstein-pg-'));
  if (owner) await chown(dir, owner.uid, owner.gid);
  await chmod(dir, 0o700);
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const pwFile = join(dir, 'pw');
  await writeFile(pwFile, `${TEST_DB_PASSWORD}\n`, { mode: 0o600 });
  if (owner) await chown(pwFile, owner.uid, owner.gid);

  run(
    initdb,
    ['-D', data, '-U', TEST_DB_USER, `--pwfile=${pwFile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync'],
    'initdb',
  );
  await rm(pwFile, { force: true });

  const host = '127.0.0.1';
  const settings: Record<string, string | number> = {
    listen_addresses: host,
    unix_socket_directories: dir,
    max_connections: 300,
    shared_buffers: '64MB',
    ...options.settings,
  };
  let port = 0;
  const start = () => {
    const flags = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
    run(pgCtl, ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', flags, 'start'], 'pg_ctl start', logFile);
  };
  // The free port may be taken between the probe and the start: try a few.
  for (let attempt = 0; ; attempt += 1) {
    port = await freePort();
    try {
      start();
      break;
    } catch (error) {
      if (attempt >= 4) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const handle = { pgCtl, data };
  running.add(handle);
  let databases = 0;

  const server: PgServer = {
    host,
    port,
    logFile,
    url: (database = 'postgres') => `postgres://${TEST_DB_USER}:${encodeURIComponent(TEST_DB_PASSWORD)}@${host}:${port}/${database}`,
    async createDatabase(name) {
      databases += 1;
      const db = name ?? `t${process.pid}_${databases}`;
      if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`test database names are lowercase identifiers: ${db}`);
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: server.url('postgres') });
      await client.connect();
      try {
        // CREATE DATABASE takes no parameters; the name was checked above.
        await client.query(`CREATE DATABASE ${db}`);
      } finally {
        await client.end();
      }
      return server.url(db);
    },
    restartImmediate() {
      const flags = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
      run(pgCtl, ['-D', data, '-l', logFile, '-w', '-t', '60', '-m', 'immediate', '-o', flags, 'restart'], 'pg_ctl restart -m immediate', logFile);
    },
    restartFast() {
      const flags = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
      run(pgCtl, ['-D', data, '-l', logFile, '-w', '-t', '60', '-m', 'fast', '-o', flags, 'restart'], 'pg_ctl restart -m fast', logFile);
    },
    stopImmediate() {
      run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], 'pg_ctl stop -m immediate', logFile);
    },
    start,
    async stop() {
      running.delete(handle);
      const { file, args } = asServerUser(pgCtl, ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      spawnSync(file, args, { stdio: 'ignore', timeout: 90_000 });
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
