export { startServer, type RunningServer, type ServeOptions } from './server.js';
export { createRolloutFacade, type RolloutFacadeOptions } from './rollout-facade.js';
export type {
  AlertOutcome,
  OutcomeVerdict,
  RecordOutput,
  RoutedTask,
  RouteRequest,
  ServiceEvent,
  ServiceFacade,
  StartCanaryInput,
  VersionDiffOutput,
  VersionListEntry,
} from './facade.js';
export { tokensFromEnv, scopeOf, isLoopback, TOKEN_ENV, type Scope, type TokenSet } from './auth.js';
export { buildOpenApiDocument } from './openapi.js';
export { ROUTES, type RouteDef } from './routes.js';
export { GroupCommitQueue } from './group-commit.js';
export {
  EvaluationSuccessSchema,
  EvaluationRequestSchema,
  OutcomesResponseSchema,
  OutcomeResultSchema,
  StatusResponseSchema,
  HistoryResponseSchema,
  VersionResponseSchema,
  ErrorBodySchema,
  LIMITS,
} from './schemas.js';
