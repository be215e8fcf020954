import { BernsteinError } from '@bernstein/store';
import { createRolloutFacade, startServer } from '@bernstein/server';
import type { GlobalOptions, Io } from '../output.js';
import { openCheckedProject } from '../project.js';

export interface ServeCliOptions {
  host?: string;
  port?: string;
  store?: string;
}

/**
 * `bernstein serve`: the HTTP service over the same project (and store) the other commands use.
 * `--store` picks the store as for every command (a PostgreSQL URL runs the service on the shared
 * database). Runs until SIGTERM or SIGINT, then stops accepting, drains requests in flight, and exits 0.
 */
export async function serve(global: GlobalOptions, options: ServeCliOptions, io: Io): Promise<number> {
  const port = parsePort(options.port ?? '8080');
  const host = options.host ?? '127.0.0.1';
  // The same store selection as every other command (openProjectStore): `serve --store`, the
  // global `--store`, BERNSTEIN_STORE_URL, then store.url; PostgreSQL or the .sdd/ files.
  const project = await openCheckedProject({ dir: global.dir, store: options.store ?? global.store }, io);
  const log = (line: string) => io.stderr(`${line}\n`);
  const facade = createRolloutFacade(project, {
    onAlert: (alert) => {
      for (const d of alert.deliveries) if (!d.ok) log(`warning: ${d.channel} alert for the ${alert.event} of ${alert.role} failed: ${d.error ?? 'unknown error'} (recorded in the audit log)`);
    },
    // Every 30 s: tasks past canary.outcome_timeout count as failed even when no request comes.
    onSweepError: (error) => log(`warning: the outcome timeout sweep failed: ${(error as Error).message} (tried again in 30 s)`),
  });
  const server = await startServer({ facade, host, port, log });
  if (global.json) io.stdout(`${JSON.stringify({ url: server.url, dashboard: `${server.url}/`, openapi: `${server.url}/openapi.json` })}\n`);
  await new Promise<void>((resolve) => {
    let draining = false;
    // The handlers stay installed while draining: without a listener of ours, a second signal (or
    // the exit hook of the lock library, which re-raises a signal nobody else handles) would kill
    // the process before the drain ends.
    const stop = (signal: NodeJS.Signals) => {
      if (draining) {
        log(`bernstein serve: ${signal} again: still draining (in-flight writes finish first)`);
        return;
      }
      draining = true;
      log(`bernstein serve: ${signal}: draining`);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  await server.close();
  return 0;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text.trim()) || Number(text) > 65535) throw new BernsteinError('INVALID_ARGUMENT', `--port must be a number from 0 to 65535, got "${text}"`);
  return Number(text);
}

