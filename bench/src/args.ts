export const SECTIONS = ['routing', 'decisions', 'startup', 'scale', 'write', 'serve', 'postgres'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchArgs {
  quick: boolean;
  json: boolean;
  only: Section[];
  /** Override the scale bench's ledger size. */
  scaleOutcomes?: number;
  /** Keep temporary projects. */
  keep: boolean;
  help: boolean;
}

export const USAGE = `usage: pnpm bench [--quick] [--json] [--only ${SECTIONS.join(',')}] [--scale-outcomes N] [--keep]

  --quick             smaller samples (CI: checks the harness works; figures are indicative only)
  --json              print one JSON document with every figure on stdout (progress goes to stderr)
  --only a,b          run only these sections (default: all)
  --scale-outcomes N  ledger size of the scale section (default 1,000,000; --quick 20,000)
  --keep              keep the temporary projects (their paths are printed)
`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, json: false, only: [...SECTIONS], keep: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--':
        break;
      case '--quick':
        args.quick = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--keep':
        args.keep = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--only': {
        const names = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
        if (unknown.length > 0 || names.length === 0) throw new Error(`--only: unknown section(s) ${unknown.join(', ') || '(none given)'}; choose from ${SECTIONS.join(', ')}`);
        args.only = SECTIONS.filter((s) => names.includes(s));
        break;
      }
      case '--scale-outcomes': {
        const n = Number(value().replace(/[_,]/g, ''));
        if (!Number.isInteger(n) || n < 1) throw new Error('--scale-outcomes must be a whole number >= 1');
        args.scaleOutcomes = n;
        break;
      }
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  return args;
}
