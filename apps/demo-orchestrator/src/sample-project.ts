import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Scenario } from './scenario.js';

/**
 * The demo's own sample project: role templates written for this demo (a small web service with
 * a backend, a qa and a docs role) and a `.sdd/config.yaml` with the scenario's canary settings
 * and a local alert command that appends each alert's JSON to a file in the workspace.
 */

interface RoleText {
  system: string;
  task: string;
}

const ROLE_TEXT: Record<string, RoleText> = {
  backend: {
    system: `You are the backend engineer of "ledgerline", a small TypeScript order-processing service
(Node 20, Fastify, PostgreSQL through Kysely). You work alone in a checkout of its repository.

House rules:
- Keep changes small and focused on the task; no drive-by refactors.
- Every new behaviour gets a unit test next to the code it changes (vitest).
- Never weaken a type to make the compiler quiet; fix the cause instead.
- Database changes come with a forward migration under migrations/.
`,
    task: `# Task {{task}}: {{title}}

Implement the change described above in the ledgerline service.

1. Read the code around the change first and follow its conventions.
2. Make the change, with tests for the new behaviour and for the edge cases you can think of.
3. Run the full test suite and fix every failure before you finish.
4. Run \`pnpm lint\` and \`pnpm typecheck\`; both must pass.

Finish with a short summary of what you changed and why.
`,
  },
  qa: {
    system: `You are the QA engineer of "ledgerline", a small TypeScript order-processing service.
You write and repair automated tests; you do not change production code unless a test proves a bug,
and then only the smallest fix.

House rules:
- Tests are deterministic: no sleeps, no real network, fixed clocks and seeds.
- One behaviour per test, named after the behaviour.
- Prefer testing through the public HTTP API over internals.
`,
    task: `# Task {{task}}: {{title}}

1. Reproduce the problem or find the untested behaviour.
2. Write the tests; make sure each one fails without the fix or the feature it covers.
3. Run the full test suite; it must pass, and it must pass twice in a row.

Finish with the list of tests you added and what each one protects.
`,
  },
  docs: {
    system: `You are the technical writer of "ledgerline", a small TypeScript order-processing service.
You keep README.md, docs/ and the API reference true to the code.

House rules:
- Every example you write is run and its output pasted, never imagined.
- Short sentences, present tense, second person.
`,
    task: `# Task {{task}}: {{title}}

1. Read the code the page describes.
2. Update the page; run every example you touch.
3. Run \`pnpm docs:check\` (links and examples); it must pass.

Finish with the pages you changed.
`,
  },
};

function roleText(role: string): RoleText {
  return (
    ROLE_TEXT[role] ?? {
      system: `You are the ${role} agent of "ledgerline", a small TypeScript order-processing service.\nKeep changes small and make every quality gate pass.\n`,
      task: `# Task {{task}}: {{title}}\n\nDo the task, then run lint, the tests and the type checker; all must pass.\n`,
    }
  );
}

/** Task titles per role, for the task queue. */
export const TASK_TITLES: Record<string, readonly string[]> = {
  backend: [
    'Add cursor pagination to GET /orders',
    'Reject refunds larger than the captured amount',
    'Retry idempotent payment captures on 503',
    'Add a currency column to invoices',
    'Rate-limit POST /orders per API key',
    'Expose order totals in minor units',
    'Archive orders older than 7 years',
    'Emit an order.shipped webhook',
    'Validate ISO country codes on addresses',
    'Fix rounding of VAT on discounted lines',
  ],
  qa: [
    'Cover partial refunds end to end',
    'Make the checkout flow test deterministic',
    'Add property tests for money arithmetic',
    'Reproduce the duplicate-webhook bug in a test',
    'Test pagination cursors across deletes',
    'Cover the 503 retry path of captures',
    'Add a contract test for the invoices API',
    'Remove sleeps from the shipping tests',
  ],
  docs: [
    'Document cursor pagination',
    'Update the refunds guide',
    'Add a webhook signature example',
    'Explain rate limits in the API reference',
    'Refresh the local setup guide',
  ],
};

export function taskTitles(role: string): readonly string[] {
  return TASK_TITLES[role] ?? [`Improve the ${role} area`, `Fix a bug in the ${role} area`];
}

export interface SampleProjectPaths {
  root: string;
  templates: string;
  config: string;
}

export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Write templates/roles/<role>/ and .sdd/config.yaml under `root`. */
export async function writeSampleProject(root: string, scenario: Scenario, options: { alertsFile: string }): Promise<SampleProjectPaths> {
  const templates = join(root, 'templates', 'roles');
  for (const [role, spec] of Object.entries(scenario.roles)) {
    const dir = join(templates, role);
    await mkdir(dir, { recursive: true });
    const text = roleText(role);
    await writeFile(join(dir, 'system_prompt.md'), text.system);
    await writeFile(join(dir, 'task_prompt.md'), text.task);
    await writeFile(join(dir, 'config.yaml'), stringify({ default_model: spec.model, default_effort: spec.effort }));
  }
  const canary: Record<string, unknown> = {
    canary_percentage: scenario.canary.canary_percentage,
    min_canary_tasks: scenario.canary.min_canary_tasks,
    rollback_margin: scenario.canary.rollback_margin,
    policy: scenario.canary.policy,
    ...(scenario.canary.steps ? { steps: scenario.canary.steps } : {}),
    alerts: {
      // The event JSON arrives on stdin; one line per alert.
      command: `{ cat; echo; } >> ${shellQuote(options.alertsFile)}`,
    },
  };
  const config = join(root, '.sdd', 'config.yaml');
  await mkdir(join(root, '.sdd'), { recursive: true });
  await writeFile(
    config,
    `# Written by the demo orchestrator for its sample project.\n# Keys outside canary: / templates belong to the orchestrator; the toolkit leaves them alone.\n${stringify({
      templates: 'templates/roles',
      orchestrator: { name: 'bernstein-demo', max_workers: 4 },
      canary,
    })}`,
  );
  return { root, templates, config };
}
