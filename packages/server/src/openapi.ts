/**
 * /openapi.json, generated from the route table and its zod schemas by zod-openapi (OpenAPI 3.1:
 * JSON Schema 2020-12). Nothing here is written by hand but titles and the security schemes.
 */
import { createDocument } from 'zod-openapi';
import type { RouteDef } from './routes.js';

export function buildOpenApiDocument(routes: readonly RouteDef[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const security = route.scope === null ? [] : [{ bearer: [] }];
    const description = [route.operation.description, route.scope === null ? 'No token needed.' : `Needs a token with scope \`${route.scope}\` (or higher).`].filter(Boolean).join('\n\n');
    (paths[route.path] ??= {})[route.method] = { ...route.operation, description, security, 'x-bernstein-scope': route.scope ?? 'none' };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'bernstein serve',
      version,
      description:
        'Canary rollouts of prompt and model configuration over HTTP. Routing is the OpenFeature Remote Evaluation Protocol (OFREP): the flag key is the role, the targeting key the task id. Tokens: BERNSTEIN_TOKEN_READ, BERNSTEIN_TOKEN_ROUTE (route and record; implies read), BERNSTEIN_TOKEN_ADMIN (transitions; implies both).',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from BERNSTEIN_TOKEN_READ, _ROUTE or _ADMIN' } } },
    paths: paths as never,
  });
}
