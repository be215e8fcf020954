#!/usr/bin/env node
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { isBernsteinError } from '@bernstein/store';
import { createRolloutFacade, startServer, type RunningServer } from '@bernstein/server';
import { Terminal } from './output.js';
import { builtInScenario, loadScenario } from './scenario.js';
import { DEFAULT_SCENARIO_YAML } from './scenarios/default.js';
import { Story, type AgentOptions } from './story.js';
import { defaultWorkspaceDir } from './workspace.js';

interface CliOptions {
  dir: string;
  keep?: boolean;
  seed?: number;
  concurrency: number;
  scenario?: string;
  printScenario?: boolean;
  agentCmd?: string;
  gate: string[];
  taskTimeoutMs: number;
  json?: boolean;
  report: boolean;
  serve?: boolean | string;
  store?: string;
}

function positiveInt(name: string, max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`${name} must be a whole number, got "${text}"`);
    const value = Number(text);
    if (value < 1 || value > max) throw new InvalidArgumentError(`${name} must be from 1 to ${max}, got ${value}`);
    return value;
  };
}

function seedArg(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) > 2 ** 32 - 1) throw new InvalidArgumentError(`--seed must be a whole number from 0 to ${2 ** 32 - 1}, got "${text}"`);
  return Number(text);
}

export function buildCli(): Command {
  return new Command('demo')
    .description(
      'The Bernstein canary demo: an orchestrator with a worker pool that routes each task to a prompt/model version, runs the agent and its quality gates, records the outcome, and lets the toolkit promote or roll back.',
    )
    .option('--dir <path>', 'workspace folder (recreated per run unless --keep)', defaultWorkspaceDir())
    .option('--keep', 'keep the workspace and its history; continue from it')
    .option('--seed <n>', 'seed of the simulation (default: the scenario\'s, else 42)', seedArg)
    .option('--concurrency <n>', 'worker pool size', positiveInt('--concurrency', 256), 4)
    .option('--scenario <file>', 'a scenario YAML file (default: the built-in story)')
    .option('--print-scenario', 'print the built-in scenario YAML and exit')
    .option('--agent-cmd <command>', 'run this shell command as the agent of every task (real process executor) instead of simulated agents')
    .option('--gate <command>', 'a quality-gate shell command run in the task folder after the agent (repeatable); all must exit 0', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--task-timeout-ms <n>', 'time limit per task for the agent and its gates; running out is a failure', positiveInt('--task-timeout-ms', 86_400_000), 120_000)
    .option('--store <url>', 'where the project state lives, as for `bernstein --store`: postgres://... a shared database (run `bernstein store migrate` on it first; it must hold no project yet unless --keep), file: or nothing the workspace\'s .sdd/ files (default: BERNSTEIN_STORE_URL, else .sdd/config.yaml)')
    .option('--json', 'print a JSON summary on stdout (progress goes to stderr)')
    .option('--no-report', 'do not write the HTML report')
    .option('--serve [port]', 'also run `bernstein serve` on the workspace (127.0.0.1, default port 8080) and print the live dashboard URL; keeps serving after the story until Ctrl-C')
    .addHelpText(
      'after',
      `
Examples:
  $ pnpm demo
  $ pnpm demo --seed 7 --concurrency 8
  $ pnpm demo --serve              # watch it on the live dashboard
  $ pnpm demo --store postgres://app@db/bernstein   # fleet mode: the state in PostgreSQL
  $ pnpm demo --print-scenario > my-story.yaml && pnpm demo --scenario my-story.yaml
  $ pnpm demo --agent-cmd './my-agent.sh' --gate 'npm test' --gate 'npx tsc --noEmit'
`,
    );
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildCli().exitOverride();
  let options: CliOptions;
  try {
    program.parse(argv as string[]);
    options = program.opts<CliOptions>();
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  if (options.printScenario) {
    process.stdout.write(DEFAULT_SCENARIO_YAML);
    return 0;
  }
  const terminal = Terminal.forStream(options.json ? process.stderr : process.stdout);
  const errorOut = (message: string) => process.stderr.write(`error: ${message}\n`);
  try {
    if (options.gate.length > 0 && options.agentCmd === undefined) {
      errorOut('--gate needs --agent-cmd (simulated agents simulate their gates)');
      return 2;
    }
    const loaded = options.scenario !== undefined ? await loadScenario(resolve(options.scenario)) : builtInScenario();
    const seed = options.seed ?? loaded.scenario.seed ?? 42;
    const agent: AgentOptions =
      options.agentCmd !== undefined ? { kind: 'process', agentCmd: options.agentCmd, gates: options.gate, timeoutMs: options.taskTimeoutMs } : { kind: 'simulated' };
    const servePort = options.serve === undefined || options.serve === false ? null : options.serve === true ? 8080 : positiveInt('--serve', 65535)(options.serve);
    let server: RunningServer | null = null;
    const story = new Story({
      scenario: loaded.scenario,
      scenarioText: loaded.text,
      scenarioFile: loaded.file,
      dir: resolve(options.dir),
      keep: Boolean(options.keep),
      seed,
      concurrency: options.concurrency,
      agent,
      terminal,
      report: options.report,
      ...(options.store !== undefined ? { store: options.store } : {}),
      ...(servePort !== null
        ? {
            onProject: async (project) => {
              server = await startServer({ facade: createRolloutFacade(project, { closeRollout: false }), port: servePort, log: (line) => process.stderr.write(`${line}\n`) });
              terminal.line(terminal.colors.bold(`live dashboard: ${server.url}/   (API: ${server.url}/openapi.json)`));
            },
          }
        : {}),
    });
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals >= 3) {
        process.stderr.write(`\n${signal} again: exiting now. Files under .sdd/ stay consistent (atomic writes; a torn ledger line is skipped with a warning).\n`);
        process.exit(130);
      }
      const mode = story.interrupt();
      terminal.line(
        terminal.colors.yellow(
          mode === 'stopping'
            ? `${signal}: stopping. No new tasks; waiting for ${story.tasksInFlight} task(s) in flight to finish and be recorded (press Ctrl-C again to cut them short; they are then recorded as failed).`
            : `${signal} again: cutting ${story.tasksInFlight} task(s) in flight short; they are recorded as failed.`,
        ),
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const result = await story.run();
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      if (server !== null) await serveUntilSignal(server, terminal, onSignal);
      return result.exitCode;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await (server as RunningServer | null)?.close();
      await story.close();
    }
  } catch (error) {
    terminal.clearStatus();
    if (isBernsteinError(error)) {
      errorOut(`${error.message.replace(/\s*\n\s*/g, ' ')} [${error.code}]`);
      return 1;
    }
    errorOut(`internal error: ${(error as Error).message ?? String(error)} (set BERNSTEIN_DEBUG=1 for details)`);
    if (process.env.BERNSTEIN_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return 70;
  }
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 70;
  },
);

/** After the story: the dashboard stays up until SIGINT / SIGTERM, then the server drains. */
async function serveUntilSignal(server: RunningServer, terminal: Terminal, storyHandler: (signal: NodeJS.Signals) => void): Promise<void> {
  process.off('SIGINT', storyHandler);
  process.off('SIGTERM', storyHandler);
  terminal.line(`the story is over; the dashboard stays up at ${server.url}/ (Ctrl-C to stop)`);
  // Listeners stay installed while the server drains: a signal nobody handles would be re-raised
  // by the lock library's exit hook and kill the process mid-drain.
  await new Promise<void>((resolve) => {
    process.on('SIGINT', () => resolve());
    process.on('SIGTERM', () => resolve());
  });
}
