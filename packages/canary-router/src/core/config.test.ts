import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MalformedFileError, isBernsteinError, projectPaths } from '@bernstein/store';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultProjectConfig, loadProjectConfig, misplacedConfigKeys, parseProjectConfig, type ProjectConfig } from './config.js';

const FILE = '.sdd/config.yaml';

const DEFAULTS: ProjectConfig = {
  templates: 'templates/roles',
  canary: {
    canaryPercentage: 0,
    minCanaryTasks: 10,
    rollbackMargin: 0.1,
    policy: 'sequential',
    steps: [],
    outcomeTimeoutMs: 2 * 3_600_000,
    alerts: { webhook: '', command: '', timeoutMs: 5000 },
    guardrails: { costUsd: null, durationMs: null },
  },
  bundle: { sources: ['{templates}/{role}/'], shared: [], modelConfig: '{templates}/{role}/config.yaml', ignore: [] },
  store: { url: '' },
};

function errorOf(text: string): MalformedFileError {
  try {
    parseProjectConfig(FILE, text);
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedFileError);
    return error as MalformedFileError;
  }
  throw new Error(`expected an error for:\n${text}`);
}

describe('parseProjectConfig', () => {
  it('gives all defaults for an empty file, a comment-only file, a missing or empty section', () => {
    expect(defaultProjectConfig()).toEqual(DEFAULTS);
    for (const text of ['', '\n', '# nothing here\n', 'canary:\n', 'canary: null\n', 'canary: {}\n', 'other: 1\n']) {
      expect(parseProjectConfig(FILE, text), JSON.stringify(text)).toEqual(DEFAULTS);
    }
  });

  it('reads the SPEC example and every option, normalised to camelCase', () => {
    const text = `# orchestrator settings
templates: prompts/roles
max_agents: 4
canary:
  canary_percentage: 20
  min_canary_tasks: 30
  rollback_margin: 0.05
  policy: threshold
  steps: [5, 25, 50, 100]
  outcome_timeout: 30m
  alerts:
    webhook: "https://hooks.slack.com/services/T000/B000/XXX"
    command: "notify-send canary"
    timeout_ms: 2000
  guardrails:
    cost_usd:
      max_increase: 0.25
    duration_ms: null
store:
  url: "postgres://fleet:\${PGPASSWORD}@db.internal:5432/bernstein"
`;
    expect(parseProjectConfig(FILE, text)).toEqual({
      templates: 'prompts/roles',
      canary: {
        canaryPercentage: 20,
        minCanaryTasks: 30,
        rollbackMargin: 0.05,
        policy: 'threshold',
        steps: [5, 25, 50, 100],
        outcomeTimeoutMs: 30 * 60_000,
        alerts: { webhook: 'https://hooks.slack.com/services/T000/B000/XXX', command: 'notify-send canary', timeoutMs: 2000 },
        guardrails: { costUsd: { maxIncrease: 0.25 }, durationMs: null },
      },
      bundle: DEFAULTS.bundle,
      store: { url: 'postgres://fleet:${PGPASSWORD}@db.internal:5432/bernstein' },
    });
  });

  it('reads the bundle: section of the upstream layout', () => {
    const text = `templates: templates/roles
bundle:
  sources: ["{templates}/{role}/", "templates/skills/{role}/"]
  shared: ["templates/roles/_includes/*.md", "templates/skills/*.md"]
  model_config: "{templates}/{role}/config.yaml"
  ignore: ["notes.txt", "*.png"]
`;
    expect(parseProjectConfig(FILE, text).bundle).toEqual({
      sources: ['{templates}/{role}/', 'templates/skills/{role}/'],
      shared: ['templates/roles/_includes/*.md', 'templates/skills/*.md'],
      modelConfig: '{templates}/{role}/config.yaml',
      ignore: ['notes.txt', '*.png'],
    });
    expect(parseProjectConfig(FILE, 'bundle:\n').bundle).toEqual(DEFAULTS.bundle);
  });

  it('ignores every other top-level key: they belong to the orchestrator', () => {
    const text = `agents:
  max: 4
  weird: [1, {a: b}]
canary_percentage: "not ours"
timeouts: !!str 5
canary:
  canary_percentage: 10
`;
    const config = parseProjectConfig(FILE, text);
    expect(config.canary.canaryPercentage).toBe(10);
    expect(config.templates).toBe('templates/roles');
  });

  it.each<[string, string, number, RegExp]>([
    ['unknown key in store', 'store:\n  uri: postgres://h/db\n', 2, /store\.uri: unknown key "uri"/],
    ['unknown key in canary', 'canary:\n  canary_percentage: 5\n  min_canary_task: 3\n', 3, /canary\.min_canary_task: unknown key "min_canary_task"/],
    ['several unknown keys', 'canary:\n  a: 1\n  b: 2\n', 2, /canary\.a: unknown keys "a", "b"/],
    ['unknown key in alerts', 'canary:\n  alerts:\n    webhook: ""\n    url: http://x\n', 4, /canary\.alerts\.url: unknown key "url"/],
    ['unknown key in guardrails', 'canary:\n  guardrails:\n    tokens:\n      max_increase: 1\n', 3, /canary\.guardrails\.tokens: unknown key/],
    ['typo in a guardrail', 'canary:\n  guardrails:\n    cost_usd:\n      max_incr: 1\n', 4, /canary\.guardrails\.cost_usd\.max_incr: unknown key/],
    ['percentage above 100', 'canary:\n  canary_percentage: 120\n', 2, /canary\.canary_percentage: must be <= 100/],
    ['negative percentage', 'canary:\n  canary_percentage: -1\n', 2, /canary\.canary_percentage: must be >= 0/],
    ['percentage as text', 'canary:\n  canary_percentage: "20"\n', 2, /canary\.canary_percentage: .*expected number, received string/],
    ['fractional min tasks', 'canary:\n  min_canary_tasks: 2.5\n', 2, /canary\.min_canary_tasks: must be a whole number/],
    ['zero min tasks', 'canary:\n  min_canary_tasks: 0\n', 2, /canary\.min_canary_tasks: must be >= 1/],
    ['margin above 1', '\ncanary:\n  rollback_margin: 10\n', 3, /canary\.rollback_margin: must be <= 1/],
    ['unknown policy', 'canary:\n  policy: bayesian\n', 2, /canary\.policy: .*"sequential"\|"threshold"/],
    ['steps not increasing', 'canary:\n  steps:\n    - 5\n    - 50\n    - 25\n', 5, /canary\.steps\[2\]: steps must be strictly increasing \(50 then 25\)/],
    ['step of 0', 'canary:\n  steps:\n    - 0\n', 3, /canary\.steps\[0\]: a step must be > 0/],
    ['step above 100', 'canary:\n  steps:\n    - 50\n    - 150\n', 4, /canary\.steps\[1\]: a step must be <= 100/],
    ['100 % without steps', 'canary:\n  canary_percentage: 100\n', 2, /canary\.canary_percentage: 100 sends every task to the canary, leaving no stable tasks/],
    ['a ramp starting at 100', 'canary:\n  canary_percentage: 10\n  steps: [100]\n', 3, /canary\.steps\[0\]: a ramp that starts at 100/],
    ['timeout without a unit', 'canary:\n  outcome_timeout: 90\n', 2, /canary\.outcome_timeout: must be a duration such as 90s, 30m, 2h or 1d/],
    ['timeout in weeks', 'canary:\n  outcome_timeout: 2w\n', 2, /canary\.outcome_timeout: "2w" is not a duration/],
    ['timeout of zero', 'canary:\n  outcome_timeout: 0s\n', 2, /canary\.outcome_timeout: "0s" is not a duration/],
    ['timeout too long', 'canary:\n  outcome_timeout: 31d\n', 2, /canary\.outcome_timeout: "31d" is longer than 30d/],
    ['steps as a string', 'canary:\n  steps: "5,25"\n', 2, /canary\.steps: .*expected array/],
    ['non-http webhook', 'canary:\n  alerts:\n    webhook: "file:///etc/passwd"\n', 3, /canary\.alerts\.webhook: unsupported URL scheme "file:"/],
    ['javascript webhook', 'canary:\n  alerts:\n    webhook: "javascript:alert(1)"\n', 3, /unsupported URL scheme "javascript:"/],
    ['webhook not a URL', 'canary:\n  alerts:\n    webhook: hooks.slack.com/x\n', 3, /canary\.alerts\.webhook: not a URL/],
    ['command not a string', 'canary:\n  alerts:\n    command: [echo, hi]\n', 3, /canary\.alerts\.command: .*expected string/],
    ['timeout too long', 'canary:\n  alerts:\n    timeout_ms: 600000\n', 3, /canary\.alerts\.timeout_ms/],
    ['guardrail increase 0', 'canary:\n  guardrails:\n    duration_ms:\n      max_increase: 0\n', 4, /canary\.guardrails\.duration_ms\.max_increase: max_increase must be > 0/],
    ['guardrail missing increase', 'canary:\n  guardrails:\n    cost_usd: {}\n', 3, /canary\.guardrails\.cost_usd\.max_increase: required/],
    ['canary not a map', 'canary: 20\n', 1, /canary: .*expected object/],
    ['templates not a string', 'templates: 3\n', 1, /templates: .*expected string/],
    ['unknown key in bundle', 'bundle:\n  source: ["{templates}/{role}/"]\n', 2, /bundle\.source: unknown key "source"/],
    ['sources not a list', 'bundle:\n  sources: "{templates}/{role}/"\n', 2, /bundle\.sources: must be a list of folders or globs/],
    ['no source with {role}', 'bundle:\n  sources: ["templates/skills/"]\n', 2, /bundle\.sources: no source contains \{role\}/],
    ['empty sources', 'bundle:\n  sources: []\n', 2, /bundle\.sources: must name at least one source/],
    ['glob above the role folder', 'bundle:\n  sources: ["templates/*/{role}/"]\n', 2, /bundle\.sources\[0\]: .*must be literal/],
    ['unknown placeholder', 'bundle:\n  sources:\n    - "{templates}/{roles}/"\n    - "{templates}/{role}/"\n', 3, /bundle\.sources\[0\]: unknown placeholder \{roles\}/],
    ['{role} in shared', 'bundle:\n  shared: ["templates/skills/{role}.md"]\n', 2, /bundle\.shared\[0\]: .*\{role\} has no meaning/],
    ['path outside the root', 'bundle:\n  shared: ["../other/x.md"]\n', 2, /bundle\.shared\[0\]: .*leaves the project root/],
    ['absolute path', 'bundle:\n  model_config: /etc/x.yaml\n', 2, /bundle\.model_config: .*is absolute/],
    ['model_config not a string', 'bundle:\n  model_config: [a]\n', 2, /bundle\.model_config: model_config must be a string/],
    ['ignore not a list', 'bundle:\n  ignore: "*~"\n', 2, /bundle\.ignore: must be a list of patterns/],
    ['ignore entry not a string', 'bundle:\n  ignore:\n    - 3\n', 3, /bundle\.ignore\[0\]: an ignore pattern must be a string/],
  ])('%s: names file, line and key', (_name, text, line, message) => {
    const error = errorOf(text);
    expect(error.code).toBe('MALFORMED_FILE');
    expect(error.file).toBe(FILE);
    expect(error.line).toBe(line);
    expect(error.message).toMatch(new RegExp(`^\\.sdd/config\\.yaml:${line}: `));
    expect(error.message).toMatch(message);
  });

  it('reads outcome_timeout in seconds, minutes, hours and days', () => {
    const cases: Array<[string, number]> = [['1s', 1000], ['90s', 90_000], ['30m', 1_800_000], ['2h', 7_200_000], ['1d', 86_400_000], ['30d', 30 * 86_400_000]];
    for (const [text, ms] of cases) expect(parseProjectConfig(FILE, `canary:\n  outcome_timeout: ${text}\n`).canary.outcomeTimeoutMs, text).toBe(ms);
  });

  it('reports invalid YAML with its line', () => {
    const error = errorOf('canary:\n  steps: [5, 25\n');
    expect(error.message).toMatch(/invalid YAML/);
    expect(error.line).toBeGreaterThanOrEqual(2);
  });

  it('accepts http and https webhooks and an empty one', () => {
    for (const webhook of ['http://127.0.0.1:8080/hook', 'https://example.com/a?b=c', '']) {
      expect(parseProjectConfig(FILE, `canary:\n  alerts:\n    webhook: "${webhook}"\n`).canary.alerts.webhook).toBe(webhook);
    }
  });
});

describe('loadProjectConfig', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
    root = undefined;
  });

  it('treats a missing file as all defaults', async () => {
    root = await mkdtemp(join(tmpdir(), 'cfg-'));
    expect(await loadProjectConfig(projectPaths(root))).toEqual(DEFAULTS);
  });

  it('reads .sdd/config.yaml and names it in errors', async () => {
    root = await mkdtemp(join(tmpdir(), 'cfg-'));
    const paths = projectPaths(root);
    await mkdir(paths.sdd, { recursive: true });
    await writeFile(paths.config, 'canary:\n  canary_percentage: 15\n');
    expect((await loadProjectConfig(paths)).canary.canaryPercentage).toBe(15);
    await writeFile(paths.config, 'canary:\n  canary_percentag: 15\n');
    await expect(loadProjectConfig(paths)).rejects.toThrow(`${paths.config}:2: canary.canary_percentag: unknown key`);
  });

  it('reports other read failures as IO_ERROR', async () => {
    root = await mkdtemp(join(tmpdir(), 'cfg-'));
    const paths = projectPaths(root);
    await mkdir(paths.config, { recursive: true }); // a directory where the file should be
    const error = await loadProjectConfig(paths).catch((e: unknown) => e);
    expect(isBernsteinError(error, 'IO_ERROR')).toBe(true);
    expect((error as Error).message).toContain(paths.config);
  });
});

describe('misplacedConfigKeys (issue 16)', () => {
  it('warns about our keys at the top level and dotted section keys, with line and nested spelling', () => {
    const text = 'orchestrator:\n  workers: 4\ncanary.canary_percentage: 20\nrollback_margin: 0.2\nbundle.shared: ["a.md"]\ncanary:\n  policy: threshold\n';
    const warnings = misplacedConfigKeys(FILE, text);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^\.sdd\/config\.yaml:3: "canary\.canary_percentage" is a single top-level key .*automatic canaries stay off.*canary: \{ canary_percentage: 20 \}$/);
    expect(warnings[1]).toMatch(/^\.sdd\/config\.yaml:4: "rollback_margin" belongs inside the canary: section.*the default applies.*canary: \{ rollback_margin: 0\.2 \}$/);
    expect(warnings[2]).toMatch(/^\.sdd\/config\.yaml:5: .*bundle: \{ shared: \["a\.md"\] \}$/);
  });

  it('says the nested value applies when both spellings are there', () => {
    const [warning] = misplacedConfigKeys(FILE, 'canary:\n  canary_percentage: 10\ncanary_percentage: 20\n');
    expect(warning).toMatch(/:3: .*the value under canary: applies/);
  });

  it('never warns about the orchestrator keys or the nested spelling', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,12}$/), fc.integer()), (others) => {
        const safe = Object.fromEntries(Object.entries(others).filter(([key]) => !['canary', 'templates', 'bundle', 'store', 'canary_percentage', 'min_canary_tasks', 'rollback_margin', 'outcome_timeout'].includes(key)));
        const text = `${Object.entries(safe)
          .map(([key, value]) => `${key}: ${value}\n`)
          .join('')}canary:\n  canary_percentage: 20\n`;
        expect(misplacedConfigKeys(FILE, text)).toEqual([]);
      }),
    );
  });
});
