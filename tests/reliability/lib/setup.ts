/** Projects in a known state, built through the public surfaces (bin and built libraries). */
import { expect } from 'vitest';
import { Project } from './project.ts';
import { describe as describeRun, runBin } from './proc.ts';

export const ROLES = ['alpha', 'beta', 'gamma'] as const;

export function roleFiles(role: string, revision: number): Record<string, string> {
  return {
    'system_prompt.md': `You are the ${role} agent (revision ${revision}).\n`,
    'task_prompt.md': `Do the ${role} task carefully.\n`,
    'config.yaml': `default_model: model-${revision}\ndefault_effort: high\n`,
  };
}

export async function bin(project: Project, args: string[], timeoutMs = 60_000) {
  const result = await runBin(project.dir, args, { timeoutMs });
  return result;
}

export async function binOk(project: Project, args: string[], timeoutMs = 60_000) {
  const result = await runBin(project.dir, args, { timeoutMs });
  expect(result.code, `bernstein ${args.join(' ')}\n${describeRun(result)}`).toBe(0);
  return result;
}

/**
 * A project whose roles were seen once (stable = revision 1) and then changed on disk, with a
 * canary of revision 2 started by hand at the given percentages.
 */
export async function projectWithCanaries(percentages: Record<string, number>, configYaml: string): Promise<Project> {
  const roles = Object.keys(percentages);
  const project = new Project({ roles: Object.fromEntries(roles.map((r) => [r, roleFiles(r, 1)])), config: configYaml });
  for (const role of roles) await binOk(project, ['canary', 'route', '--role', role, '--task', `seed-${role}`]);
  for (const role of roles) {
    project.writeRole(role, roleFiles(role, 2));
    await binOk(project, ['config', 'canary', '--role', role, '--percentage', String(percentages[role])]);
  }
  return project;
}
