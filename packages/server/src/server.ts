import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { BernsteinError } from '@bernstein/store';
import { createApp } from './app.js';
import { hasTokens, isLoopback, tokensFromEnv, type TokenSet } from './auth.js';
import { createEventHub } from './events.js';
import type { ServiceFacade } from './facade.js';
import { buildOpenApiDocument } from './openapi.js';
import { ROUTES } from './routes.js';
import { SERVER_VERSION } from './version.js';

export interface ServeOptions {
  facade: ServiceFacade;
  host?: string;
  port?: number;
  /** Default: from BERNSTEIN_TOKEN_READ / _ROUTE / _ADMIN. */
  tokens?: TokenSet;
  /** One line per start, stop and transition (default: stderr). Never receives a token. */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  /** Stop accepting, finish requests in flight and queued writes, deliver alerts in flight, close. */
  close(): Promise<void>;
}

/** Start `bernstein serve`'s HTTP server. Refuses a non-loopback address without tokens. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const tokens = options.tokens ?? tokensFromEnv();
  if (!hasTokens(tokens) && !isLoopback(host)) {
    throw new BernsteinError(
      'INVALID_ARGUMENT',
      `refusing to listen on ${host} without tokens: set BERNSTEIN_TOKEN_READ, BERNSTEIN_TOKEN_ROUTE and/or BERNSTEIN_TOKEN_ADMIN, or listen on 127.0.0.1`,
    );
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BernsteinError('INVALID_ARGUMENT', `--port must be 0-65535, got ${port}`);
  const { facade } = options;

  let openapi: unknown;
  const events = createEventHub(facade, log);
  const unsubscribe = facade.subscribe((event) => {
    if (event.type === 'transition') {
      const e = event.event;
      log(`transition: ${e.role} ${e.action} ${e.from ?? '-'} -> ${e.to ?? '-'} by ${e.actor}: ${e.reason}`);
    }
  });

  let active = 0;
  let drained: (() => void) | null = null;
  let draining = false;
  const inFlight = {
    draining: () => draining,
    enter: () => {
      active += 1;
    },
    leave: () => {
      active -= 1;
      if (active === 0 && drained) drained();
    },
  };
  const app = createApp({
    routes: ROUTES,
    tokens,
    inFlight,
    deps: {
      facade,
      events,
      log,
      openapi: () => (openapi ??= buildOpenApiDocument(ROUTES, SERVER_VERSION)),
    },
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s as Server)) as Server;
    s.once('error', (error: NodeJS.ErrnoException) =>
      reject(new BernsteinError('IO_ERROR', `cannot listen on ${host}:${port}: ${error.code === 'EADDRINUSE' ? 'the address is in use' : error.message}`)),
    );
  });
  // Keep-alive connections from load generators and SDKs are the common case.
  server.keepAliveTimeout = 65_000;
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  const scopes = hasTokens(tokens) ? `tokens: ${tokens.counts.read} read, ${tokens.counts.route} route, ${tokens.counts.admin} admin` : 'no tokens (loopback only)';
  log(`bernstein serve ${SERVER_VERSION}: listening on ${url} (store ${facade.storeLabel}; ${scopes}); dashboard ${url}/`);

  let closing: Promise<void> | null = null;
  return {
    url,
    port: address.port,
    close() {
      closing ??= (async () => {
        draining = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await events.close();
        if (active > 0) await new Promise<void>((resolve) => (drained = resolve));
        await facade.close();
        server.closeIdleConnections();
        // Anything still open after the drain has nothing in flight.
        const force = setTimeout(() => server.closeAllConnections(), 2_000);
        await stopped;
        clearTimeout(force);
        unsubscribe();
        log(`bernstein serve: stopped (${url})`);
      })();
      return closing;
    },
  };
}
