/**
 * `pnpm bench [--quick] [--json] [--only routing,decisions,startup,scale,write]`: measures the
 * toolkit against its peers and the SPEC's Targets. Tables on stdout (or one JSON document with
 * --json); progress on stderr. Exits non-zero only when the harness itself breaks (a section
 * throws), never because a target is missed.
 */
import { parseArgs, USAGE } from './args.js';
import { formatReport, planFor, runBench } from './report.js';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const plan = planFor(args);
  const report = await runBench(plan, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
