import { readFile } from 'node:fs/promises';
import { BernsteinError, parseYamlWithSchema } from '@bernstein/store';
import { RoleNameSchema } from '@bernstein/prompt-versions';
import { z } from 'zod';
import { DEFAULT_SCENARIO_FILE, DEFAULT_SCENARIO_YAML } from './scenarios/default.js';

/**
 * A scenario: the sample project's roles and canary settings, and the phases of the story. YAML,
 * validated with zod; every error names the file, the line and the key.
 */

const probability = z.number().min(0, 'must be >= 0').max(1, 'must be <= 1 (a probability)');
const percentage = z.number().gt(0, 'must be > 0').lte(100, 'must be <= 100');

export const RoleSpecSchema = z.strictObject({
  /** default_model in the role's config.yaml */
  model: z.string().min(1).max(200),
  /** default_effort in the role's config.yaml */
  effort: z.enum(['low', 'medium', 'high']).default('medium'),
  /** True pass probability of the role's initial version (simulated agents). */
  passProbability: probability,
  /** Typical cost and duration of a task (simulated agents). */
  costUsd: z.number().positive().default(0.1),
  durationMs: z.number().positive().default(30_000),
});
export type RoleSpec = z.output<typeof RoleSpecSchema>;

const PromptChangeSchema = z
  .strictObject({
    kind: z.literal('prompt'),
    role: RoleNameSchema,
    file: z.string().min(1).default('task_prompt.md'),
    /** Replace this text (it must occur in the file)... */
    find: z.string().min(1).optional(),
    replace: z.string().optional(),
    /** ...or append this text. */
    append: z.string().min(1).optional(),
  })
  .superRefine((change, ctx) => {
    const edit = change.find !== undefined || change.replace !== undefined;
    if (edit && (change.find === undefined || change.replace === undefined)) {
      ctx.addIssue({ code: 'custom', path: [change.find === undefined ? 'find' : 'replace'], message: 'find and replace go together' });
    }
    if (edit === (change.append !== undefined)) ctx.addIssue({ code: 'custom', path: [], message: 'a prompt change needs either find + replace, or append' });
  });

const ModelChangeSchema = z
  .strictObject({
    kind: z.literal('model'),
    role: RoleNameSchema,
    model: z.string().min(1).max(200),
    percentage: percentage.optional(),
    steps: z.array(percentage).min(1).optional(),
    policy: z.enum(['sequential', 'threshold']).optional(),
  })
  .superRefine((change, ctx) => {
    if (change.percentage === undefined && change.steps === undefined) ctx.addIssue({ code: 'custom', path: [], message: 'a model change needs percentage or steps' });
    const steps = change.steps ?? [];
    for (let i = 1; i < steps.length; i++) {
      if (steps[i]! <= steps[i - 1]!) {
        ctx.addIssue({ code: 'custom', path: ['steps', i], message: `steps must increase strictly (${steps[i - 1]} then ${steps[i]})` });
        break;
      }
    }
  });

export const ChangeSchema = z.discriminatedUnion('kind', [PromptChangeSchema, ModelChangeSchema]);
export type Change = z.output<typeof ChangeSchema>;

export const PhaseSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and "-", at most 40'),
  title: z.string().min(1),
  narrative: z.string().optional(),
  change: ChangeSchema.optional(),
  /** True pass probability of the version this phase's change produces (simulated agents). */
  passProbability: probability.optional(),
  costFactor: z.number().positive().default(1),
  durationFactor: z.number().positive().default(1),
  /** Relative share of each role among the phase's tasks. */
  mix: z.record(RoleNameSchema, z.number().nonnegative()).refine((mix) => Object.values(mix).some((w) => w > 0), 'at least one role needs a weight > 0'),
  /** A fixed number of tasks... */
  tasks: z.number().int().positive().optional(),
  /** ...or run until the changed role's canary is promoted or rolled back. */
  until: z.literal('decision').optional(),
  /** The cap for `until: decision`. */
  maxTasks: z.number().int().positive().max(1_000_000).default(5000),
  /** The decision the story expects (a different one is reported, not hidden). */
  expect: z.enum(['rollback', 'promote']).optional(),
});
export type Phase = z.output<typeof PhaseSchema>;

export const ScenarioSchema = z
  .strictObject({
    version: z.literal(1),
    name: z.string().min(1),
    description: z.string().default(''),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    canary: z.strictObject({
      canary_percentage: z.number().min(0).max(100),
      min_canary_tasks: z.number().int().min(1).default(10),
      rollback_margin: z.number().min(0).max(1).default(0.1),
      policy: z.enum(['sequential', 'threshold']).default('sequential'),
      steps: z.array(percentage).optional(),
    }),
    roles: z.record(RoleNameSchema, RoleSpecSchema).refine((roles) => Object.keys(roles).length > 0, 'at least one role'),
    phases: z.array(PhaseSchema).min(1),
  })
  .superRefine((scenario, ctx) => {
    const roles = new Set(Object.keys(scenario.roles));
    const names = new Set<string>();
    scenario.phases.forEach((phase, i) => {
      const at = (...path: PropertyKey[]) => ['phases', i, ...path];
      if (names.has(phase.name)) ctx.addIssue({ code: 'custom', path: at('name'), message: `phase name "${phase.name}" is used twice` });
      names.add(phase.name);
      for (const role of Object.keys(phase.mix)) {
        if (!roles.has(role)) ctx.addIssue({ code: 'custom', path: at('mix', role), message: `unknown role "${role}" (roles: ${[...roles].join(', ')})` });
      }
      if (phase.change && !roles.has(phase.change.role)) {
        ctx.addIssue({ code: 'custom', path: at('change', 'role'), message: `unknown role "${phase.change.role}" (roles: ${[...roles].join(', ')})` });
      }
      if (phase.change && !((phase.mix[phase.change.role] ?? 0) > 0)) {
        ctx.addIssue({ code: 'custom', path: at('mix'), message: `the phase changes role "${phase.change.role}" but gives it no tasks in mix` });
      }
      if ((phase.tasks === undefined) === (phase.until === undefined)) {
        ctx.addIssue({ code: 'custom', path: at(), message: 'give either tasks: <n> or until: decision' });
      }
      if (phase.until === 'decision' && !phase.change) ctx.addIssue({ code: 'custom', path: at('until'), message: 'until: decision needs a change that starts a canary' });
      if (phase.change?.kind === 'prompt' && phase.until === 'decision' && scenario.canary.canary_percentage === 0) {
        ctx.addIssue({ code: 'custom', path: at('until'), message: 'a prompt change only starts a canary by itself with canary.canary_percentage > 0' });
      }
      if (phase.passProbability !== undefined && !phase.change) ctx.addIssue({ code: 'custom', path: at('passProbability'), message: 'passProbability is for the version a change produces; this phase has no change' });
      if (phase.expect !== undefined && phase.until === undefined) ctx.addIssue({ code: 'custom', path: at('expect'), message: 'expect goes with until: decision' });
    });
  });
export type Scenario = z.output<typeof ScenarioSchema>;

/** Parse scenario YAML. Errors are MalformedFileError `<file>:<line>: <key>: <problem>`. */
export function parseScenario(file: string, text: string): Scenario {
  return parseYamlWithSchema(file, text, ScenarioSchema).value;
}

export function builtInScenario(): { file: string; text: string; scenario: Scenario } {
  return { file: DEFAULT_SCENARIO_FILE, text: DEFAULT_SCENARIO_YAML, scenario: parseScenario(DEFAULT_SCENARIO_FILE, DEFAULT_SCENARIO_YAML) };
}

export async function loadScenario(file: string): Promise<{ file: string; text: string; scenario: Scenario }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new BernsteinError('IO_ERROR', `cannot read scenario ${file}: ${(error as Error).message}`, { file }, { cause: error });
  }
  return { file, text, scenario: parseScenario(file, text) };
}
