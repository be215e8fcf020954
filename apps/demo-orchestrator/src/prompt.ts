/**
 * Render a role's prompt for one task from the version's files: `system_prompt.md` first, then
 * `task_prompt.md`, then any other prompt file in name order, with `{{task}}`, `{{title}}` and
 * `{{role}}` substituted. Unknown placeholders are left as they are.
 */
export interface PromptVariables {
  task: string;
  title: string;
  role: string;
}

const ORDER = ['system_prompt.md', 'task_prompt.md'];

export function renderPrompt(files: Readonly<Record<string, string>>, vars: PromptVariables): string {
  const names = Object.keys(files).sort((a, b) => {
    const ia = ORDER.indexOf(a);
    const ib = ORDER.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? ORDER.length : ia) - (ib === -1 ? ORDER.length : ib);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const values: Record<string, string> = { task: vars.task, title: vars.title, role: vars.role };
  return names
    .map((name) => files[name]!.replace(/\{\{\s*(task|title|role)\s*\}\}/g, (_, key: string) => values[key]!))
    .map((text) => text.trimEnd())
    .join('\n\n---\n\n')
    .concat('\n');
}

/** The model name of a version's model config (`default_model`), or null. */
export function modelName(model: Readonly<Record<string, unknown>>): string | null {
  const value = model.default_model;
  return typeof value === 'string' ? value : null;
}
