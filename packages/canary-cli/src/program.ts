import { Command, CommanderError, Option } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { colours, cutLongInput, EXIT, processIo, reportError, type GlobalOptions, type Io } from './output.js';

/** A command handler: receives parsed options and returns an exit code. */
type Handler<O> = (global: GlobalOptions, options: O, io: Io) => Promise<number>;

/** The version of @bernstein/canary-cli, as `bernstein --version` prints it. */
export const VERSION: string = packageJson.version;

/** The `--from` line schema (OutcomeInputSchema of @bernstein/quality-compare), for `record --help`. */
const NDJSON_HELP = `
NDJSON for --from: one JSON object a line, blank lines ignored:
  taskId      string, required   a routed task's id (as given to canary route --task)
  passed      boolean, required  true when the task passed its quality gates
  gates       object, optional   gate name -> true / false, or "pass" / "fail"
  costUsd     number >= 0, opt.  what the task cost
  durationMs  number >= 0, opt.  how long it took
  e.g. {"taskId":"T-7","passed":false,"gates":{"lint":"pass","tests":"fail"},"costUsd":0.42}
A malformed line or an unknown task is reported with its line number and skipped; the other lines
are kept, and the exit code is 1 when any line was skipped.
`;

const examples = (lines: string[]) => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;

/**
 * Options a command needs. Checked just before its action runs, not by commander's
 * requiredOption: commander checks those before unknown options, so `--rol x` got "required
 * option --role" instead of "unknown option --rol (did you mean --role?)".
 */
const mandatory = new WeakMap<Command, Array<{ attribute: string; flags: string }>>();
function requireOptions(command: Command, ...flags: string[]): Command {
  mandatory.set(
    command,
    flags.map((flag) => ({ attribute: command.options.find((o) => o.flags === flag)!.attributeName(), flags: flag })),
  );
  return command;
}

/** commander's messages, as one line: "(Did you mean --role?)" joins the error line, and echoed input is cut. */
export function formatUsageError(text: string, io: Io): string {
  const joined = text
    .replace(/\n+$/, '')
    .replace(/\n\(Did you mean (.+?)\?\)/, ' (did you mean $1?)')
    .replace(/\s*\n\s*/g, ' ');
  const line = cutLongInput(joined);
  const c = colours(io, 'stderr');
  return `${line.startsWith('error:') ? `${c.red('error:')}${line.slice('error:'.length)}` : line}\n`;
}

/**
 * Build the `bernstein` program. Handlers are imported on first use so that a command only pays
 * for the modules it needs (start-up time is a product target).
 */
export function buildProgram(io: Io = processIo, onExit: (code: number) => void = () => {}): Command {
  const program = new Command('bernstein')
    .description('Canary rollouts for prompt and model configuration changes of agent roles')
    .version(VERSION, '-V, --version', 'print the version of bernstein and exit')
    .addOption(new Option('--dir <path>', 'project root (the folder that holds .sdd/)').default(process.cwd(), 'the current directory'))
    .option('--json', 'machine-readable output')
    .option('--store <url>', 'where the state lives: postgres://... (a shared database) or file: (the .sdd/ files); overrides BERNSTEIN_STORE_URL and store.url')
    .helpOption('-h, --help', 'show help for a command, with examples')
    .showSuggestionAfterError(true)
    // Leaf help lists --dir / --json / --store too: a user reading `canary route --help` needs them.
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(formatUsageError(text, io)),
    })
    .exitOverride()
    .addHelpText(
      'after',
      examples([
        'bernstein versions scan                                   # register the role bundles on disk',
        'bernstein config canary --role backend --percentage 20    # 20 % of backend tasks get the edited bundle',
        'bernstein canary route --role backend --task T-1 --json   # the version task T-1 runs with',
        'bernstein canary record --task T-1 --passed --gate tests=pass',
        'bernstein canary status                                   # pass rates per arm, the decision and why',
        'bernstein --dir ../my-repo canary history --json',
        'bernstein <command> --help                                # every command has examples',
      ]),
    );

  // Every command checks its mandatory options after commander has ruled out unknown ones.
  program.hook('preAction', (_root, actionCommand) => {
    const options = actionCommand.opts();
    for (const { attribute, flags } of mandatory.get(actionCommand) ?? []) {
      if (options[attribute] === undefined) actionCommand.error(`error: required option '${flags}' not specified`, { code: 'commander.missingMandatoryOptionValue', exitCode: EXIT.usage });
    }
  });

  const action =
    <O>(load: () => Promise<Handler<O>>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const global = command.optsWithGlobals<GlobalOptions & O>();
      const options = { ...(command.opts() as O), args: command.args } as O;
      let code: number;
      try {
        code = await (await load())({ dir: global.dir, json: Boolean(global.json), store: global.store }, options, io);
      } catch (error) {
        code = reportError(io, error);
      }
      onExit(code);
    };

  const versions = program
    .command('versions')
    .description('content-addressed versions of role bundles (prompts + model config)')
    .addHelpText('after', examples(['bernstein versions scan', 'bernstein versions list --role backend', 'bernstein versions show 3fa9', 'bernstein versions diff 3fa9 7bc0']));
  versions
    .command('scan')
    .description('register every role bundle on disk as a version; a role seen for the first time gets it as stable; never starts a canary')
    .addHelpText(
      'after',
      `${examples(['bernstein versions scan', 'bernstein versions scan --json'])}
Every valid role is registered. A role whose files are broken is reported on its own line and
makes the exit code 1; the others are registered all the same. Which files make a bundle is set
by the bundle: section of .sdd/config.yaml (see the README).
`,
    )
    .action(action(async () => (await import('./commands/versions.js')).scan));
  versions
    .command('list')
    .description('list registered versions')
    .option('--role <role>', 'only this role')
    .addHelpText('after', examples(['bernstein versions list --role backend']))
    .action(action(async () => (await import('./commands/versions.js')).list));
  versions
    .command('show')
    .description('show one version: its files and model config')
    .argument('<id-or-prefix>', 'a version id, or a unique prefix of 4+ hex chars')
    .addHelpText('after', examples(['bernstein versions show 3fa9', 'bernstein versions show 3fa9c2e1b7d0 --json']))
    .action(action(async () => (await import('./commands/versions.js')).show));
  versions
    .command('diff')
    .description('unified diff of two versions: files and model config')
    .argument('<a>', 'version id or prefix')
    .argument('<b>', 'version id or prefix')
    .addHelpText('after', examples(['bernstein versions diff 3fa9 7bc0']))
    .action(action(async () => (await import('./commands/versions.js')).diff));

  const config = program
    .command('config')
    .description('change routing: start, widen, promote or roll back canaries')
    .addHelpText('after', examples(['bernstein config canary --role backend --percentage 20', 'bernstein config canary --promote --role backend', 'bernstein config canary --rollback --role backend --reason "lint failures"']));
  config
    .command('canary')
    .description('start a canary, change its percentage, promote it or roll it back')
    .option('--prompt-version <id>', 'canary this registered version (its role is the version\'s)')
    .option('--role <role>', 'the role: canary its bundle on disk, or change its running canary')
    .option('--model <name>', 'with --role: canary the stable bundle with default_model set to <name>')
    .option('--percentage <n>', 'share of the role\'s tasks sent to the canary, 0-100 (0: a canary that gets no tasks until you raise it)')
    .option('--steps <list>', 'ramp, e.g. 5,25,50,100: each promote decision moves to the next step')
    .option('--policy <policy>', 'sequential (default) or threshold')
    .option('--promote', 'make the canary stable now')
    .option('--rollback', 'roll the canary back (or, with no canary, revert stable to the previous stable)')
    .option('--reason <text>', 'why, for the audit log (with --promote / --rollback)')
    .addHelpText(
      'after',
      examples([
        'bernstein config canary --prompt-version 3fa9c2e1b7d0 --percentage 20',
        'bernstein config canary --role backend --percentage 20',
        'bernstein config canary --role backend --percentage 50          # widen the running canary',
        'bernstein config canary --role qa --model opus-4 --steps 5,25,50,100',
        'bernstein config canary --promote --role backend',
        'bernstein config canary --rollback --reason "bad reviews"',
      ]),
    )
    .action(action(async () => (await import('./commands/config-canary.js')).configCanary));

  config
    .command('sync-model')
    .description("write the serving stable's model config into the role's config.yaml on disk (printing the diff first)")
    .requiredOption('--role <role>', 'the role')
    .option('--dry-run', 'print the diff only; write nothing')
    .addHelpText(
      'after',
      `${examples(['bernstein config sync-model --role qa --dry-run', 'bernstein config sync-model --role qa'])}
After a --model canary is promoted, the role's config.yaml on disk still names the old model. Later
edits of the role's files are versioned with the promoted model until that file changes; status
says that disk and the serving model differ. This command brings the file in line: only the keys
that differ are changed, comments are kept, and the new bundle on disk is the stable version.
`,
    )
    .action(action(async () => (await import('./commands/sync-model.js')).syncModel));

  const canary = program
    .command('canary')
    .description('route tasks, record outcomes and watch the decisions')
    .addHelpText(
      'after',
      examples([
        'bernstein canary route --role backend --task T-1',
        'bernstein canary record --task T-1 --passed',
        'bernstein canary status',
        'bernstein canary history --role backend',
        'bernstein canary report --out canary-report.html',
      ]),
    );
  canary
    .command('status')
    .description('per role: stable, canary, percentage, step, pass rates per arm, the decision and why')
    .option('--role <role>', 'only this role')
    .addHelpText('after', examples(['bernstein canary status', 'bernstein canary status --role backend --json']))
    .action(action(async () => (await import('./commands/status.js')).status));
  const route = canary
    .command('route')
    .description('route tasks of a role: the version each task runs with (recorded in the ledger)')
    .option('--role <role>', 'the role whose agent runs the task (required)')
    .option('--task <id>', 'task id (required, repeatable); a retried task keeps its arm', collect)
    .option('--stratum <label>', 'what the tasks are, known before they run (task type, complexity, scope): the decision compares like with like')
    .option('--no-files', 'with --json: give "filesHash" (SHA-256 of the files) instead of the files themselves')
    .addHelpText(
      'after',
      `${examples([
        'bernstein canary route --role backend --task T-101',
        'bernstein canary route --role backend --task T-101 --task T-102 --json',
        'bernstein canary route --role backend --task T-103 --stratum migration',
        'bernstein canary route --role backend --task T-101 --json --no-files   # cache files by versionId',
      ])}
If the role's files on disk are broken (invalid YAML, a byte that is not UTF-8, a refused symlink),
routing keeps serving stable and any canary from the registry and prints one warning naming the file.
`,
    )
    .action(action(async () => (await import('./commands/route.js')).route));
  requireOptions(route, '--role <role>', '--task <id>');
  canary
    .command('record')
    .description('record quality-gate outcomes of routed tasks; decisions are applied automatically')
    .option('--task <id>', 'the task whose outcome this is')
    .option('--passed', 'the task passed its quality gates')
    .option('--failed', 'the task failed its quality gates')
    .option('--gate <name=pass|fail>', 'one gate\'s result (repeatable)', collect, [])
    .option('--cost-usd <x>', 'what the task cost')
    .option('--duration-ms <n>', 'how long the task took')
    .option('--from <file|->', 'NDJSON lines {"taskId","passed","gates"?,"costUsd"?,"durationMs"?}; - reads stdin')
    .addHelpText(
      'after',
      examples([
        'bernstein canary record --task T-101 --passed --gate lint=pass --gate tests=pass',
        'bernstein canary record --task T-102 --failed --cost-usd 0.42 --duration-ms 81000',
        'bernstein canary record --from outcomes.ndjson',
        `echo '{"taskId":"T-103","passed":true}' | bernstein canary record --from -`,
      ]) + NDJSON_HELP,
    )
    .action(action(async () => (await import('./commands/canary.js')).record));
  canary
    .command('evaluate')
    .description('evaluate canaries now without recording; applies nothing unless --apply')
    .option('--role <role>', 'only this role')
    .option('--apply', 'apply promote / step / rollback decisions')
    .addHelpText('after', examples(['bernstein canary evaluate', 'bernstein canary evaluate --role backend --apply']))
    .action(action(async () => (await import('./commands/canary.js')).evaluate));
  canary
    .command('history')
    .description('the audit log: every transition with time, actor, reason and evidence')
    .option('--role <role>', 'only this role')
    .addHelpText('after', examples(['bernstein canary history --role backend', 'bernstein canary history --json']))
    .action(action(async () => (await import('./commands/canary.js')).history));
  const report = canary
    .command('report')
    .description('write a self-contained HTML report: per canary, pass rates over time, steps, the decision and its evidence')
    .option('--role <role>', 'only this role')
    .option('--out <file.html>', 'where to write the page (required)')
    .addHelpText('after', examples(['bernstein canary report --out canary-report.html', 'bernstein canary report --role backend --out backend.html']))
    .action(action(async () => (await import('./commands/report.js')).report));
  requireOptions(report, '--out <file.html>');

  program
    .command('serve')
    .description('run the HTTP service: routing over OFREP, outcomes, control, a live dashboard')
    .option('--host <address>', 'address to listen on (not loopback only with BERNSTEIN_TOKEN_* set)', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', '8080')
    .option('--store <url>', 'the store: postgres://... (a shared database) or file: (the .sdd/ files); overrides BERNSTEIN_STORE_URL and store.url')
    .addHelpText('after', examples(['bernstein serve', 'bernstein serve --store postgres://bernstein@db.internal/fleet', 'BERNSTEIN_TOKEN_ADMIN=... BERNSTEIN_TOKEN_ROUTE=... bernstein serve --host 0.0.0.0 --port 8080']))
    .action(action(async () => (await import('./commands/serve.js')).serve));

  const store = program.command('store').description('a shared store (PostgreSQL): create its schema, copy a .sdd/ project in, write it back out');
  store
    .command('migrate')
    .description('create or upgrade the shared store\'s schema (idempotent; safe from several hosts at once)')
    .addHelpText('after', examples(['bernstein store migrate --store postgres://bernstein@db.internal/fleet', 'BERNSTEIN_STORE_URL=postgres://... bernstein store migrate --json']))
    .action(action(async () => (await import('./commands/store.js')).migrate));
  store
    .command('import')
    .description('copy the .sdd/ project of --dir into the shared store (running it again changes nothing)')
    .addHelpText('after', examples(['bernstein store import --store postgres://bernstein@db.internal/fleet', 'bernstein --dir ../old-project store import --json']))
    .action(action(async () => (await import('./commands/store.js')).importCommand));
  store
    .command('export')
    .description('write the shared store out in the .sdd/ file layout (a snapshot the file-backed CLI can open)')
    .requiredOption('--to <dir>', 'an empty folder: the snapshot goes to <dir>/.sdd/')
    .addHelpText('after', examples(['bernstein store export --to snapshot/', 'bernstein --dir snapshot canary history   # read it with the file store']))
    .action(action(async () => (await import('./commands/store.js')).exportCommand));

  return program;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parse argv and run; resolves to the exit code. */
export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(io, error);
  }
  return exitCode;
}

