import { MalformedFileError } from '@bernstein/store';
import { describe, expect, it } from 'vitest';
import { builtInScenario, parseScenario } from '../src/scenario.js';
import { renderPrompt } from '../src/prompt.js';
import { gateNames, taskFolderName } from '../src/executors/process.js';
import { Rng } from '../src/prng.js';

const minimal = (phases: string) => `version: 1
name: t
canary:
  canary_percentage: 20
roles:
  backend:
    model: m1
    passProbability: 0.8
phases:
${phases}`;

function parseError(text: string): MalformedFileError {
  try {
    parseScenario('story.yaml', text);
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedFileError);
    return error as MalformedFileError;
  }
  throw new Error('expected a MalformedFileError');
}

describe('scenario parser', () => {
  it('parses the built-in scenario', () => {
    const { scenario } = builtInScenario();
    expect(scenario.phases.map((p) => p.name)).toEqual(['baseline', 'backend-prompt-edit', 'qa-model-change']);
    expect(scenario.canary).toMatchObject({ canary_percentage: 20, min_canary_tasks: 10, rollback_margin: 0.1, policy: 'sequential' });
    expect(scenario.phases[2]!.change).toMatchObject({ kind: 'model', role: 'qa', steps: [5, 25, 50, 100] });
  });

  it('reports a YAML syntax error with its line', () => {
    const error = parseError(minimal(`  - name: baseline\n    title: [unclosed\n    tasks: 5\n`));
    expect(error.file).toBe('story.yaml');
    expect(error.line).toBeGreaterThanOrEqual(10);
    expect(error.message).toMatch(/^story\.yaml:\d+: invalid YAML/);
  });

  it('reports an unknown key with its line and name', () => {
    const error = parseError(minimal(`  - name: baseline\n    title: Baseline\n    tasks: 5\n    mix: { backend: 1 }\n    colour: blue\n`));
    expect(error.line).toBe(14);
    expect(error.message).toContain('phases[0].colour');
    expect(error.message).toContain('unknown key');
  });

  it('reports a wrong type with the line of the value', () => {
    const error = parseError(minimal(`  - name: baseline\n    title: Baseline\n    tasks: five\n    mix: { backend: 1 }\n`));
    expect(error.line).toBe(12);
    expect(error.message).toContain('phases[0].tasks');
  });

  it('reports a probability out of range', () => {
    const text = minimal(`  - name: baseline\n    title: Baseline\n    tasks: 5\n    mix: { backend: 1 }\n`).replace('passProbability: 0.8', 'passProbability: 1.5');
    const error = parseError(text);
    expect(error.line).toBe(8);
    expect(error.message).toContain('roles.backend.passProbability');
  });

  it('reports a mix that names an unknown role at that role', () => {
    const error = parseError(minimal(`  - name: baseline\n    title: Baseline\n    tasks: 5\n    mix:\n      backend: 1\n      frontend: 2\n`));
    expect(error.line).toBe(15);
    expect(error.message).toContain('unknown role "frontend"');
  });

  it('needs either tasks or until: decision', () => {
    const error = parseError(minimal(`  - name: baseline\n    title: Baseline\n    mix: { backend: 1 }\n`));
    expect(error.message).toContain('give either tasks: <n> or until: decision');
    expect(error.line).toBe(10);
  });

  it('rejects find without replace in a prompt change', () => {
    const error = parseError(
      minimal(`  - name: edit\n    title: Edit\n    change:\n      kind: prompt\n      role: backend\n      find: x\n    tasks: 5\n    mix: { backend: 1 }\n`),
    );
    expect(error.message).toContain('phases[0].change.replace: find and replace go together');
    expect(error.line).toBe(13); // the change mapping (replace is missing)
  });
});

describe('prompt rendering', () => {
  it('puts the system prompt first and substitutes the task variables', () => {
    const prompt = renderPrompt(
      { 'task_prompt.md': '# Task {{task}}: {{ title }}\n', 'system_prompt.md': 'You are {{role}}.\n', 'z.md': 'keep {{unknown}}' },
      { task: 'T-1', title: 'Fix <it>', role: 'qa' },
    );
    expect(prompt).toBe('You are qa.\n\n---\n\n# Task T-1: Fix <it>\n\n---\n\nkeep {{unknown}}\n');
  });
});

describe('process executor helpers', () => {
  it('makes safe folder names and unique gate names', () => {
    expect(taskFolderName('T-1')).toBe('T-1');
    expect(taskFolderName('../../etc')).toBe('.._.._etc');
    expect(taskFolderName('..')).toMatch(/^task_/);
    expect(gateNames(['npm test', 'npm  test', 'tsc'])).toEqual(['npm test', 'npm test #2', 'tsc']);
  });
});

describe('seeded randomness', () => {
  it('is reproducible per seed and key', () => {
    const a = Rng.of(42, 't0001-backend');
    const b = Rng.of(42, 't0001-backend');
    const c = Rng.of(43, 't0001-backend');
    const draws = (r: Rng) => [r.next(), r.next(), r.next()];
    const da = draws(a);
    expect(draws(b)).toEqual(da);
    expect(draws(c)).not.toEqual(da);
    for (const x of da) expect(x >= 0 && x < 1).toBe(true);
  });
});
