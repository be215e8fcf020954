/**
 * The built-in scenario of `pnpm demo`, as YAML text (embedded so that the built CLI needs no
 * data files). Print it with `pnpm demo --print-scenario > my.yaml`, edit, and run it with
 * `pnpm demo --scenario my.yaml`.
 */
export const DEFAULT_SCENARIO_FILE = '<built-in scenario>';

export const DEFAULT_SCENARIO_YAML = `# The built-in story of \`pnpm demo\`. Copy it (pnpm demo --print-scenario > my.yaml), change it,
# and run it with: pnpm demo --scenario my.yaml
version: 1
name: default
description: >-
  A baseline on stable versions; a backend prompt edit that hurts, canaried automatically at 20 %
  and rolled back; a qa model change ramped 5 -> 25 -> 50 % and promoted where the next step
  would be 100 % (reaching 100 % is the promotion).
seed: 42

# Written into the sample project's .sdd/config.yaml (the demo adds alerts.command itself).
canary:
  canary_percentage: 20
  min_canary_tasks: 10
  rollback_margin: 0.10
  policy: sequential

# The sample project's roles. passProbability is the true chance that a task of the role's
# initial version passes its quality gates (simulated agents only).
roles:
  backend:
    model: claude-sonnet-4-5
    effort: medium
    passProbability: 0.85
    costUsd: 0.21
    durationMs: 96000
  qa:
    model: claude-haiku-4-5
    effort: low
    passProbability: 0.78
    costUsd: 0.04
    durationMs: 38000
  docs:
    model: claude-haiku-4-5
    effort: low
    passProbability: 0.92
    costUsd: 0.03
    durationMs: 27000

phases:
  - name: baseline
    title: Baseline on stable versions
    narrative: Every role serves the bundle on disk; no canary is running.
    tasks: 150
    mix: { backend: 3, qa: 2, docs: 1 }

  - name: backend-prompt-edit
    title: A backend prompt edit that hurts
    narrative: >-
      Someone "simplifies" templates/roles/backend/task_prompt.md and drops the instruction to run
      the tests before finishing. Nobody runs a command: the next backend route sees the changed
      bundle and starts a canary at 20 % by itself.
    change:
      kind: prompt
      role: backend
      file: task_prompt.md
      find: "Run the full test suite and fix every failure before you finish."
      replace: "Keep it quick: reviewers will run the tests."
    passProbability: 0.55
    mix: { backend: 6, qa: 1, docs: 1 }
    until: decision
    maxTasks: 4000
    expect: rollback

  - name: qa-model-change
    title: A model change for qa, ramped and promoted
    narrative: >-
      The team tries a stronger model for qa, as with
      \`bernstein config canary --role qa --model claude-sonnet-4-5 --steps 5,25,50,100\`.
      Each promote decision at a step moves the canary to the next step (the evidence carries over); reaching 100 % is the promotion.
    change:
      kind: model
      role: qa
      model: claude-sonnet-4-5
      steps: [5, 25, 50, 100]
    passProbability: 0.95
    costFactor: 3.5
    durationFactor: 1.4
    mix: { qa: 8, backend: 1, docs: 1 }
    until: decision
    maxTasks: 8000
    expect: promote
`;
