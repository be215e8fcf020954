import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { BernsteinError, parseYamlWithSchema, type ProjectPaths } from '@bernstein/store';
import { DEFAULT_BUNDLE_SOURCES, DEFAULT_MODEL_CONFIG, PLACEHOLDERS, type BundleLayout } from '@bernstein/prompt-versions';
import { POLICIES, type Guardrail, type Policy } from '@bernstein/quality-compare';
import { z } from 'zod';

/**
 * `.sdd/config.yaml` (SPEC, Configuration). We own the top-level `templates` key and the `canary:`
 * `bundle:` and `store:` sections; every other top-level key belongs to the orchestrator and is ignored (never rejected,
 * never rewritten). Inside `canary:` (and its `alerts:` / `guardrails:` maps) unknown keys and
 * wrong types are errors naming the file, line and key (so are they inside `bundle:`), e.g.
 * `.sdd/config.yaml:4: canary.steps[1]: steps must be strictly increasing`.
 * A missing file, an empty file, or a missing / empty (`canary:` with no value) section means
 * all defaults.
 */

export const DEFAULT_TEMPLATES_DIR = 'templates/roles';
export const DEFAULT_ALERT_TIMEOUT_MS = 5000;
/** Upper bound for `alerts.timeout_ms`: an alert must never hold up a transition for long. */
export const MAX_ALERT_TIMEOUT_MS = 60_000;

/** The judge's policies (one definition, in @bernstein/quality-compare). */
export type CanaryPolicy = Policy;
export const CANARY_POLICIES = POLICIES;

/** Treat `key:` (YAML null) like a missing key, so an emptied section means "defaults". */
const orEmpty = (value: unknown): unknown => (value === null || value === undefined ? {} : value);

// zod 4's z.number() already refuses NaN and ±Infinity.
const finiteNumber = () => z.number();

/**
 * z.strictObject, but unknown keys are reported before any other problem of the same map (the
 * YAML loader reports the first issue only, and "unknown key" is the more useful one: a typo'd key
 * otherwise surfaces as "required" on the key it was meant to be).
 */
function strictMap<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  const known = new Set(Object.keys(shape));
  return z
    .unknown()
    .superRefine((value, ctx) => {
      if (!value || typeof value !== 'object' || Array.isArray(value)) return;
      const unknownKeys = Object.keys(value).filter((key) => !known.has(key));
      if (unknownKeys.length > 0) ctx.addIssue({ code: 'unrecognized_keys', keys: unknownKeys, input: value as Record<string, unknown>, message: `unknown keys ${unknownKeys.join(', ')}` });
    })
    .pipe(z.strictObject(shape));
}

/** A ramp: numbers in (0, 100], strictly increasing. Shared with the `start` transition. */
export const StepsSchema = z.array(finiteNumber().gt(0, 'a step must be > 0').lte(100, 'a step must be <= 100')).superRefine((steps, ctx) => {
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]! <= steps[i - 1]!) {
      ctx.addIssue({ code: 'custom', path: [i], message: `steps must be strictly increasing (${steps[i - 1]} then ${steps[i]})` });
      return;
    }
  }
});

export const WEBHOOK_SCHEMES = ['http:', 'https:'] as const;

const WebhookSchema = z.string().superRefine((value, ctx) => {
  if (value === '') return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a URL: "${value}" (expected "" or an http(s) URL)` });
    return;
  }
  if (!(WEBHOOK_SCHEMES as readonly string[]).includes(url.protocol)) {
    ctx.addIssue({ code: 'custom', message: `unsupported URL scheme "${url.protocol}" (only http: and https: are allowed)` });
  }
});

const AlertsSchema = z.preprocess(
  orEmpty,
  strictMap({
    webhook: WebhookSchema.default(''),
    command: z.string().default(''),
    timeout_ms: z.number().int('must be a whole number of milliseconds').positive('must be > 0').max(MAX_ALERT_TIMEOUT_MS).default(DEFAULT_ALERT_TIMEOUT_MS),
  }),
);

const GuardrailSchema = strictMap({
  max_increase: z
    .number({ error: (issue) => (issue.input === undefined ? 'required (a number > 0)' : undefined) })
    .gt(0, 'max_increase must be > 0'),
})
  .nullable()
  .default(null);

const GuardrailsSchema = z.preprocess(
  orEmpty,
  strictMap({
    cost_usd: GuardrailSchema,
    duration_ms: GuardrailSchema,
  }),
);

/** `canary.outcome_timeout` when not set: see the README (long enough for a slow agent and its gates, short enough to count a lost one the same day). */
export const DEFAULT_OUTCOME_TIMEOUT = '2h';
const DURATION_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** The longest `outcome_timeout`: a task still unanswered after a month is lost, not slow. */
export const MAX_OUTCOME_TIMEOUT_MS = 30 * DURATION_UNITS_MS.d;

/**
 * A duration as written in the config: a whole number and a unit, `90s`, `30m`, `2h`, `1d`.
 * Returns milliseconds, or null when `text` is not one.
 */
export function parseDuration(text: string): number | null {
  const match = /^([1-9][0-9]{0,8})(s|m|h|d)$/.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS];
}

const DurationSchema = z
  .string({ error: 'must be a duration such as 90s, 30m, 2h or 1d (a whole number and s, m, h or d)' })
  .transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration: write a whole number and s, m, h or d, such as 90s, 30m, 2h or 1d` });
      return z.NEVER;
    }
    if (ms > MAX_OUTCOME_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is longer than 30d: a task with no outcome for that long is lost, not slow` });
      return z.NEVER;
    }
    return ms;
  });

const CanarySectionSchema = z.preprocess(
  orEmpty,
  strictMap({
    canary_percentage: finiteNumber().min(0, 'must be >= 0').max(100, 'must be <= 100').default(0),
    min_canary_tasks: z.number().int('must be a whole number').min(1, 'must be >= 1').default(10),
    rollback_margin: finiteNumber().min(0, 'must be >= 0').max(1, 'must be <= 1 (a fraction: 0.10 = 10 points)').default(0.1),
    policy: z.enum(CANARY_POLICIES).default('sequential'),
    steps: StepsSchema.default([]),
    outcome_timeout: DurationSchema.prefault(DEFAULT_OUTCOME_TIMEOUT),
    alerts: AlertsSchema,
    guardrails: GuardrailsSchema,
  }).superRefine((canary, ctx) => {
    // A canary at 100 % leaves no stable tasks to compare with: it could never be judged.
    if (canary.steps.length === 0 && canary.canary_percentage === 100) {
      ctx.addIssue({
        code: 'custom',
        path: ['canary_percentage'],
        message: '100 sends every task to the canary, leaving no stable tasks to compare it with; use a share below 100, or a ramp such as steps: [5, 25, 50, 100] (reaching 100 % is the promotion)',
      });
    }
    if (canary.steps[0] === 100) {
      ctx.addIssue({ code: 'custom', path: ['steps', 0], message: 'a ramp that starts at 100 leaves no stable tasks to compare with; start lower, e.g. steps: [5, 25, 50, 100]' });
    }
  }),
);

/**
 * A path pattern of `bundle:` (relative to the project root). Only `{role}` and `{templates}`
 * are placeholders; absolute paths and `..` segments would read outside the project.
 */
const PathPatternSchema = (what: string, { role }: { role: 'forbidden' | 'allowed' }) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? undefined : `${what} must be a string (a path relative to the project root)`) })
    .min(1, 'must not be empty')
    .superRefine((value, ctx) => {
      const unknown = (value.match(/\{[^}]*\}/g) ?? []).filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown placeholder ${unknown[0]} in "${value}" (only {role} and {templates})` });
      if (role === 'forbidden' && value.includes('{role}')) ctx.addIssue({ code: 'custom', message: `"${value}": shared files are the same for every role, so {role} has no meaning here (put role files under sources)` });
      if (value.startsWith('/') || /^[A-Za-z]:[\\/]/.test(value)) ctx.addIssue({ code: 'custom', message: `"${value}" is absolute; bundle paths are relative to the project root` });
      if (value.replaceAll('\\', '/').split('/').includes('..')) ctx.addIssue({ code: 'custom', message: `"${value}" leaves the project root (..)` });
    });

/** The first source with {role} names the role folders: its {role} segment and the folders above it must be literal. */
function checkRoleSource(sources: readonly string[], ctx: z.core.$RefinementCtx): void {
  const index = sources.findIndex((s) => s.includes('{role}'));
  if (index === -1) {
    ctx.addIssue({ code: 'custom', message: 'no source contains {role}: the first source with {role} says which folders are roles (e.g. "{templates}/{role}/")' });
    return;
  }
  const source = sources[index]!;
  const upToRole = source.slice(0, source.indexOf('{role}'));
  const segment = source.slice(source.lastIndexOf('/', source.indexOf('{role}')) + 1).split('/')[0]!;
  if (/[*?[\]{}!]/.test(upToRole.replaceAll('{templates}', '')) || /[*?[\]!]/.test(segment) || segment.split('{role}').length > 2) {
    ctx.addIssue({ code: 'custom', path: [index], message: `"${source}": the folders up to and including the {role} folder must be literal (no globs), since they say which folders are roles` });
  }
}

const BundleSectionSchema = z.preprocess(
  orEmpty,
  strictMap({
    sources: z
      .array(PathPatternSchema('a source', { role: 'allowed' }), { error: (issue) => (issue.input === undefined ? undefined : 'must be a list of folders or globs') })
      .min(1, 'must name at least one source')
      .superRefine(checkRoleSource)
      .default([...DEFAULT_BUNDLE_SOURCES]),
    shared: z.array(PathPatternSchema('a shared file', { role: 'forbidden' }), { error: (issue) => (issue.input === undefined ? undefined : 'must be a list of files or globs') }).default([]),
    model_config: PathPatternSchema('model_config', { role: 'allowed' }).default(DEFAULT_MODEL_CONFIG),
    ignore: z
      .array(z.string({ error: 'an ignore pattern must be a string' }).min(1, 'must not be empty'), { error: (issue) => (issue.input === undefined ? undefined : 'must be a list of patterns') })
      .default([]),
  }),
);

/** `store:`: which store holds the project (empty or `file:` = the .sdd/ files; postgres://... = a shared database). */
const StoreSectionSchema = z.preprocess(
  orEmpty,
  strictMap({
    // Kept as written: `${NAME}` references are resolved from the environment when the store is opened.
    url: z.string().default(''),
  }),
);

/** The raw (snake_case) shape of the part of `.sdd/config.yaml` we own. */
export const ProjectConfigFileSchema = z.preprocess(
  orEmpty,
  z.object({
    templates: z.string().min(1, 'must not be empty').default(DEFAULT_TEMPLATES_DIR),
    canary: CanarySectionSchema,
    bundle: BundleSectionSchema,
    store: StoreSectionSchema,
  }),
);

export type { Guardrail };

export interface CanaryConfig {
  /** 0 = automatic canaries disabled (a changed bundle is released directly). */
  canaryPercentage: number;
  minCanaryTasks: number;
  rollbackMargin: number;
  policy: CanaryPolicy;
  /** [] = no ramp. With a ramp, automatic canaries start at steps[0]. */
  steps: number[];
  /** `outcome_timeout`: a routed task of a running canary with no outcome after this long counts as failed. */
  outcomeTimeoutMs: number;
  alerts: { webhook: string; command: string; timeoutMs: number };
  guardrails: { costUsd: Guardrail | null; durationMs: Guardrail | null };
}

/** `bundle:` (SPEC, "Bundle sources"): which files make a role's bundle. */
export interface BundleConfig {
  sources: string[];
  shared: string[];
  modelConfig: string;
  /** Added to prompt-versions' DEFAULT_IGNORE, never replacing it. */
  ignore: string[];
}

export interface ProjectConfig {
  /** Where role bundles live, relative to the project root. */
  templates: string;
  canary: CanaryConfig;
  bundle: BundleConfig;
  /** `store.url` as written (may hold `${NAME}` references); '' = the .sdd/ files. */
  store: { url: string };
}

type RawProjectConfig = z.output<typeof ProjectConfigFileSchema>;

function normalise(raw: RawProjectConfig): ProjectConfig {
  const c = raw.canary;
  const guardrail = (g: { max_increase: number } | null): Guardrail | null => (g ? { maxIncrease: g.max_increase } : null);
  return {
    templates: raw.templates,
    canary: {
      canaryPercentage: c.canary_percentage,
      minCanaryTasks: c.min_canary_tasks,
      rollbackMargin: c.rollback_margin,
      policy: c.policy,
      steps: [...c.steps],
      outcomeTimeoutMs: c.outcome_timeout,
      alerts: { webhook: c.alerts.webhook, command: c.alerts.command, timeoutMs: c.alerts.timeout_ms },
      guardrails: { costUsd: guardrail(c.guardrails.cost_usd), durationMs: guardrail(c.guardrails.duration_ms) },
    },
    bundle: { sources: [...raw.bundle.sources], shared: [...raw.bundle.shared], modelConfig: raw.bundle.model_config, ignore: [...raw.bundle.ignore] },
    store: { url: raw.store.url },
  };
}

/** The bundle layout of a project: its config's `templates` and `bundle:` with the project root. */
export function bundleLayout(root: string, config: Pick<ProjectConfig, 'templates' | 'bundle'>): BundleLayout {
  return { root, templates: config.templates, ...config.bundle };
}

/**
 * The templates folder for messages: the resolved path and the `templates` key it came from, so a
 * user sees which setting to fix, e.g. `/srv/app/nowhere/roles (templates: "nowhere/roles" in
 * /srv/app/.sdd/config.yaml)`.
 */
export function describeTemplatesFolder(config: Pick<ProjectConfig, 'templates'>, paths: Pick<ProjectPaths, 'root' | 'config'>): string {
  const resolved = resolvePath(paths.root, config.templates);
  return config.templates === DEFAULT_TEMPLATES_DIR
    ? `${resolved} (the default of the "templates" key; set templates: in ${paths.config} to use another folder)`
    : `${resolved} (templates: ${JSON.stringify(config.templates)} in ${paths.config})`;
}

/** All defaults: what a missing file or section stands for. */
export function defaultProjectConfig(): ProjectConfig {
  return normalise(ProjectConfigFileSchema.parse(undefined));
}

/**
 * Parse the text of `.sdd/config.yaml`. Throws MalformedFileError (code MALFORMED_FILE) naming
 * `file`, the line and the key on invalid YAML, unknown keys or wrong values in our sections.
 */
export function parseProjectConfig(file: string, text: string): ProjectConfig {
  const { value } = parseYamlWithSchema(file, text, ProjectConfigFileSchema);
  return normalise(value);
}

/**
 * Our keys that a user may write at the top level by mistake (the names are ours alone; generic
 * names such as `policy` or `steps` may be the orchestrator's and are left alone).
 */
const MISPLACED_KEYS: Record<string, string> = {
  canary_percentage: 'canary',
  min_canary_tasks: 'canary',
  rollback_margin: 'canary',
  outcome_timeout: 'canary',
};
const OUR_SECTIONS = /^(canary|bundle|store)\.(.+)$/;

/**
 * Warnings for our keys in the wrong place at the top level: `canary_percentage: 20`, or
 * `canary.canary_percentage: 20` written as one dotted key (YAML has no dotted paths). Both are
 * valid YAML that we never read, so canaries would silently stay off. Each warning names the
 * line and the right spelling. Call after parseProjectConfig accepted the text.
 */
export function misplacedConfigKeys(file: string, text: string): string[] {
  const parsed = parseYamlWithSchema(file, text, ProjectConfigFileSchema);
  const root = parsed.root;
  if (!root || typeof root !== 'object' || Array.isArray(root)) return [];
  const config = normalise(parsed.value);
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(root as Record<string, unknown>)) {
    const dotted = OUR_SECTIONS.exec(key);
    const section = dotted?.[1] ?? MISPLACED_KEYS[key];
    if (section === undefined) continue;
    const path = dotted ? dotted[2]!.split('.') : [key];
    const line = parsed.lineOfKey([], key);
    const nested = path.reduceRight((inner, part) => `{ ${part}: ${inner} }`, flowYaml(value));
    const sectionValue = (root as Record<string, unknown>)[section];
    const setInSection = Boolean(sectionValue && typeof sectionValue === 'object' && Object.hasOwn(sectionValue, path[0]!));
    const effect = setInSection
      ? `the value under ${section}: applies`
      : section === 'canary' && path[0] === 'canary_percentage' && config.canary.canaryPercentage === 0
        ? 'so automatic canaries stay off (canary_percentage is 0)'
        : 'so the default applies';
    const what = dotted ? `"${key}" is a single top-level key (YAML does not read dots as nesting)` : `"${key}" belongs inside the ${section}: section`;
    warnings.push(`${file}${line !== undefined ? `:${line}` : ''}: ${what}; it is ignored, ${effect}; write it nested: ${section}: ${nested}`);
  }
  return warnings;
}

function flowYaml(value: unknown): string {
  if (typeof value === 'string') return /^[\w./@:-]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  if (value === null || value === undefined) return 'null';
  return JSON.stringify(value);
}

/** The warnings of `paths.config` (see misplacedConfigKeys); none for a missing file. */
export async function loadProjectConfigWarnings(paths: Pick<ProjectPaths, 'config'>): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(paths.config, 'utf8');
  } catch {
    // A missing file has no warnings; an unreadable one is reported by loadProjectConfig.
    return [];
  }
  return misplacedConfigKeys(paths.config, text);
}

/** Read `paths.config`. A missing file means all defaults; any other read failure is IO_ERROR. */
export async function loadProjectConfig(paths: Pick<ProjectPaths, 'config'>): Promise<ProjectConfig> {
  let text: string;
  try {
    text = await readFile(paths.config, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultProjectConfig();
    throw new BernsteinError('IO_ERROR', `${paths.config}: cannot read (${(error as Error).message})`, { file: paths.config }, { cause: error });
  }
  return parseProjectConfig(paths.config, text);
}
