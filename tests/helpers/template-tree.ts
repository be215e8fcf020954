import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A copy of the upstream orchestrator's template layout, built in a temp dir: role folders under
 * `templates/roles/` (prompts + config.yaml), the newer `templates/skills/<role>/SKILL.md` with
 * `references/` and `scripts/`, shared protocol files, an `_includes` folder, a loose file, an
 * editor backup, a symlink inside the project and one pointing out, a CRLF file, an empty folder
 * and a binary file.
 */
export interface TemplateTree {
  dir: string;
  /** Outside the project: where the outside symlink points. */
  outside: string;
  path(...parts: string[]): string;
  write(name: string, content: string | Buffer): void;
  remove(name: string): void;
  cleanup(): void;
}

/** The `bundle:` section for the upstream layout (the README's worked example). */
export const UPSTREAM_CONFIG = `# our keys; the orchestrator's own keys may sit beside them
templates: templates/roles
canary:
  canary_percentage: 0
bundle:
  sources: ["{templates}/{role}/", "templates/skills/{role}/"]
  shared: ["templates/roles/_includes/*.md", "templates/skills/*.md"]
  model_config: "{templates}/{role}/config.yaml"
  ignore: ["notes.txt", "*.png"]
`;

export function buildTemplateTree(options: { config?: string | null; outsideLink?: boolean } = {}): TemplateTree {
  const dir = mkdtempSync(join(tmpdir(), 'bernstein-tree-'));
  const outside = mkdtempSync(join(tmpdir(), 'bernstein-outside-'));
  const write = (name: string, content: string | Buffer) => {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  };
  const roles: Record<string, { model: string; effort: string; system: string }> = {
    backend: { model: 'sonnet', effort: 'high', system: 'You are a careful backend engineer.\nWrite the test first.\n' },
    frontend: { model: 'sonnet', effort: 'medium', system: 'You build accessible user interfaces.\n' },
    qa: { model: 'haiku', effort: 'low', system: 'You review pull requests and run the gates.\n' },
    security: { model: 'opus', effort: 'high', system: 'You audit changes for vulnerabilities.\n' },
  };
  for (const [role, r] of Object.entries(roles)) {
    write(`templates/roles/${role}/system_prompt.md`, r.system);
    write(`templates/roles/${role}/task_prompt.md`, `Task for the ${role} agent: {{task}}\n`);
    write(`templates/roles/${role}/config.yaml`, `# model settings of ${role}\ndefault_model: ${r.model}\ndefault_effort: ${r.effort}\n`);
  }
  // CRLF checkout of one prompt (Windows, core.autocrlf=true).
  write('templates/roles/qa/task_prompt.md', 'Task for the qa agent: {{task}}\r\nRun every gate.\r\n');
  // Editor leftovers and a stray note.
  write('templates/roles/backend/system_prompt.md~', 'an older draft\n');
  write('templates/roles/backend/.system_prompt.md.swp', Buffer.from([0x62, 0x30, 0x56, 0x49, 0x4d, 0x00, 0x00]));
  write('templates/roles/frontend/notes.txt', 'todo: tighten the tone\n');
  // Shared protocol files and an _includes folder; a loose file under roles/.
  write('templates/roles/_includes/protocol.md', '## Protocol\nReport status as JSON.\n');
  write('templates/roles/README.md', 'Role templates. One folder per role.\n');
  write('templates/skills/AGENTS.md', 'Shared skill conventions.\n');
  // The skills tree.
  write('templates/skills/backend/SKILL.md', '---\nname: backend\n---\nHow to ship backend changes.\n');
  write('templates/skills/backend/references/api-style.md', 'Use plural nouns for collections.\n');
  write('templates/skills/backend/scripts/check.sh', '#!/bin/sh\nnpm test\n');
  write('templates/skills/qa/SKILL.md', '---\nname: qa\n---\nHow to review.\n');
  write('templates/skills/qa/references/gates.md', 'lint, tests, types\n');
  write('templates/skills/qa/scripts/gates.sh', '#!/bin/sh\nnpm run lint && npm test\n');
  // A binary file (ignored by the upstream config's "*.png").
  write('templates/skills/frontend/SKILL.md', 'How to build screens.\n');
  write('templates/skills/frontend/assets/wireframe.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]));
  // An empty folder.
  mkdirSync(join(dir, 'templates/roles/devops'), { recursive: true });
  mkdirSync(join(dir, 'templates/skills/qa/scripts/fixtures'), { recursive: true });
  // A symlink inside the project: a role's house rules kept in docs/.
  write('docs/house-rules.md', 'Small commits. Honest messages.\n');
  symlinkSync('../../../docs/house-rules.md', join(dir, 'templates/roles/backend/house-rules.md'));
  // A symlink pointing out of the project.
  writeFileSync(join(outside, 'company-secrets.md'), 'not for agents\n');
  if (options.outsideLink !== false) symlinkSync(join(outside, 'company-secrets.md'), join(dir, 'templates/roles/security/secrets.md'));
  const config = options.config === undefined ? UPSTREAM_CONFIG : options.config;
  if (config !== null) write('.sdd/config.yaml', config);
  return {
    dir,
    outside,
    path: (...parts) => join(dir, ...parts),
    write,
    remove: (name) => rmSync(join(dir, name), { recursive: true, force: true }),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    },
  };
}
