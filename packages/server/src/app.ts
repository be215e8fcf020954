/** The Hono application: the route table behind bearer-token scopes and JSON errors. */
import { Hono, type Context } from 'hono';
import { allows, scopeOf, type TokenSet } from './auth.js';
import { describeError, errorBody } from './http.js';
import type { RouteDeps, RouteDef } from './routes.js';

/** OpenAPI {param} to Hono :param. */
export function honoPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

export interface AppOptions {
  routes: readonly RouteDef[];
  deps: RouteDeps;
  tokens: TokenSet;
  /** Counts requests in flight, for draining on SIGTERM. */
  inFlight?: { enter(): void; leave(): void; draining(): boolean };
}

export function createApp({ routes, deps, tokens, inFlight }: AppOptions): Hono {
  const app = new Hono();
  const isOfrep = (c: Context) => c.req.path.startsWith('/ofrep/');

  app.onError((error, c) => {
    const { status, code, message, internal } = describeError(error);
    // Unexpected errors are logged with their stack on the server; the client gets a code only.
    if (internal) deps.log(`error: ${c.req.method} ${c.req.path}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    if (isOfrep(c)) {
      const key = c.req.param('key') ?? '';
      return c.json({ ...(key ? { key } : {}), errorCode: 'GENERAL', errorDetails: message, ...errorBody(code, message) }, status as 500);
    }
    return c.json(errorBody(code, message), status as 500);
  });
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path} (see /openapi.json)`), 404));

  for (const route of routes) {
    app.on(route.method.toUpperCase(), honoPath(route.path), async (c) => {
      inFlight?.enter();
      try {
        if (route.scope !== null) {
          const granted = scopeOf(tokens, c.req.header('authorization'));
          if (granted === null) {
            c.header('WWW-Authenticate', 'Bearer realm="bernstein"');
            return c.json(errorBody('UNAUTHORIZED', 'give a token: Authorization: Bearer <token> (BERNSTEIN_TOKEN_READ, _ROUTE or _ADMIN on the server)'), 401);
          }
          if (!allows(granted, route.scope)) return c.json(errorBody('FORBIDDEN', `this route needs scope "${route.scope}"; the token has "${granted}"`), 403);
        }
        const response = await route.handle(c, deps);
        // While draining, a keep-alive client is told to go: its next request finds the port closed.
        if (inFlight?.draining()) response.headers.set('Connection', 'close');
        return response;
      } finally {
        inFlight?.leave();
      }
    });
  }
  return app;
}
