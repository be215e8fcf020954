/**
 * @bernstein/demo-orchestrator: a small orchestrator that runs agents through canaries end to end.
 * The CLI (`pnpm demo`) is in cli.ts; these are its parts, for reuse and tests.
 */
export { Toolkit, type RecordedOutcome, type ToolkitHooks } from './toolkit.js';
export { WorkerPool, type CompletedTask, type PoolOptions, type PoolRun, type TaskSource, type TaskSpec } from './pool.js';
export { renderPrompt, modelName, type PromptVariables } from './prompt.js';
export type { AgentResult, AgentTask, Executor } from './executors/types.js';
export { SimulatedExecutor, type SimulatedExecutorOptions, type SimulatedVersion } from './executors/simulated.js';
export { ProcessExecutor, gateNames, runCommand, taskFolderName, type CommandResult, type ProcessExecutorOptions } from './executors/process.js';
export {
  builtInScenario,
  loadScenario,
  parseScenario,
  ChangeSchema,
  PhaseSchema,
  RoleSpecSchema,
  ScenarioSchema,
  type Change,
  type Phase,
  type RoleSpec,
  type Scenario,
} from './scenario.js';
export { DEFAULT_SCENARIO_YAML } from './scenarios/default.js';
export { writeSampleProject, shellQuote, taskTitles } from './sample-project.js';
export { prepareWorkspace, defaultWorkspaceDir, WORKSPACE_MARKER, type Workspace } from './workspace.js';
export { Story, type AgentOptions, type PhaseResult, type StoryOptions, type StoryResult } from './story.js';
export { formatSummary } from './summary.js';
export { Terminal, percent, table } from './output.js';
export { Rng, hashSeed } from './prng.js';
