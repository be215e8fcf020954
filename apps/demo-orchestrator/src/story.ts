import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { BernsteinError, writeFileAtomic } from '@bernstein/store';
import { hashBundle, loadRoleBundle } from '@bernstein/prompt-versions';
import { describeAuditEvent, type AuditEvent } from '@bernstein/canary-router';
import { canaryRole, openRollout, readEvidence, writeReport, type ReportData, type ReportEvidence, type Rollout } from '@bernstein/rollout';
import { openProjectStore } from '@bernstein/canary-cli';
import { FileStore } from '@bernstein/store-file';
import { ProcessExecutor } from './executors/process.js';
import { SimulatedExecutor, type SimulatedVersion } from './executors/simulated.js';
import type { Executor } from './executors/types.js';
import { displayPath, percent, type Terminal } from './output.js';
import { WorkerPool, type CompletedTask, type TaskSource, type TaskSpec } from './pool.js';
import { Rng } from './prng.js';
import { taskTitles, writeSampleProject } from './sample-project.js';
import type { Phase, Scenario } from './scenario.js';
import { formatSummary } from './summary.js';
import { Toolkit } from './toolkit.js';
import { prepareWorkspace } from './workspace.js';

export type AgentOptions = { kind: 'simulated'; latencyMs?: number } | { kind: 'process'; agentCmd: string; gates: string[]; timeoutMs: number };

export interface StoryOptions {
  scenario: Scenario;
  scenarioText: string;
  scenarioFile: string;
  dir: string;
  keep: boolean;
  seed: number;
  concurrency: number;
  agent: AgentOptions;
  terminal: Terminal;
  /** Write the HTML report at the end (default true). */
  report?: boolean;
  /**
   * `--store`: where the project state lives, chosen as `bernstein --store` chooses it (else
   * BERNSTEIN_STORE_URL, else the sample project's `.sdd/config.yaml`, i.e. its `.sdd/` files).
   */
  store?: string;
  /** Called once the workspace's project is open, before any task runs (`--serve` starts the server here). */
  onProject?: (project: Rollout) => Promise<void>;
}

export interface ArmTally {
  tasks: number;
  passed: number;
}

export interface PhaseResult {
  name: string;
  title: string;
  tasks: number;
  perRole: Record<string, { stable: ArmTally; canary: ArmTally }>;
  /** The version this phase's change produced, and the canary that tried it. */
  change: { kind: 'prompt' | 'model'; role: string; versionId: string | null; canaryId: string | null; skipped: string | null } | null;
  decision: {
    action: 'promote' | 'rollback';
    at: string;
    actor: string;
    percentage: number | null;
    /** The orchestrator's completed-task count when the decision was seen. */
    afterTask: number;
    reason: string;
    evidence: unknown;
  } | null;
  steps: Array<{ from: number | null; to: number | null; afterTask: number }>;
  /** How the phase ended. */
  outcome: 'done' | 'as-expected' | 'unexpected' | 'undecided' | 'skipped' | 'interrupted';
  expect: 'rollback' | 'promote' | null;
  /** Of the changed role's tasks routed while its canary ran: how many ran the canary. */
  exposure: { canary: number; stable: number } | null;
}

export interface StoryResult {
  ok: boolean;
  exitCode: number;
  interrupted: boolean;
  simulated: boolean;
  executor: string;
  scenario: string;
  seed: number;
  workspace: string;
  /** The shared store the state lives in (its URL with the password as `***`), or null: the workspace's `.sdd/` files. */
  store: string | null;
  run: number;
  tasks: number;
  wallMs: number;
  phases: PhaseResult[];
  report: string | null;
  alertsFile: string;
  alerts: number;
  problems: string[];
  /** Toolkit calls made by the orchestrator (outcomes and routes are coalesced into batches). */
  toolkit: Toolkit['calls'];
}

interface Watch {
  role: string;
  versionId: string;
  canaryId: string | null;
  percentage: number | null;
  /** Evidence of the last automatic step (what carried the canary to its current percentage). */
  decision: PhaseResult['decision'];
}

const ICON: Partial<Record<AuditEvent['action'], string>> = {
  init: '•',
  start: '▶',
  step: '↗',
  percentage: '↗',
  promote: '✔',
  rollback: '✖',
  release: '•',
  'instant-rollback': '✖',
  'alert-failed': '!',
};

function evidencePhrase(evidence: ReportEvidence | null): string {
  if (!evidence?.canary || !evidence.stable) return '';
  const arm = (name: string, a: { passed: number; tasks: number }) => `${name} ${a.passed}/${a.tasks} (${percent(a.passed, a.tasks)})`;
  return `${arm('canary', evidence.canary)} vs ${arm('stable', evidence.stable)}`;
}

/**
 * The demo story: write the sample project, then run the scenario's phases through the worker
 * pool, narrating transitions as they happen, and finish with a summary table and the HTML report.
 */
export class Story {
  private pool: WorkerPool | null = null;
  private interrupted = false;
  private completed = 0;
  private inFlightTotal = 0;
  private readonly problems: string[] = [];
  private readonly truth = new Map<string, SimulatedVersion>();
  private watch: Watch | null = null;
  private phaseIndex = 0;
  private phaseTally: PhaseResult | null = null;
  private phaseIssued = 0;
  private readonly options: StoryOptions;
  private project!: Rollout;
  private opened = false;
  private toolkit!: Toolkit;
  private minCanaryTasks = 10;
  private rollbackMargin = 0.1;

  constructor(options: StoryOptions) {
    this.options = options;
  }

  /** Release the store (a shared database's connections); after `run`, and after a server on it closed. */
  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    await this.project.close();
  }

  /** First call: take no new tasks, let tasks in flight finish. Second call: cut them short (recorded as failed). */
  interrupt(): 'stopping' | 'aborting' {
    if (!this.interrupted) {
      this.interrupted = true;
      this.pool?.stop();
      return 'stopping';
    }
    this.pool?.abort();
    return 'aborting';
  }

  get tasksInFlight(): number {
    return this.pool?.inFlight ?? 0;
  }

  async run(): Promise<StoryResult> {
    const started = Date.now();
    const { scenario, terminal: out, seed } = this.options;
    const c = out.colors;
    const ws = await prepareWorkspace(this.options.dir, { keep: this.options.keep });
    const alertsFile = join(ws.dir, 'alerts.jsonl');
    const templatesDir = join(ws.dir, 'templates', 'roles');
    if (ws.fresh) await writeSampleProject(ws.dir, scenario, { alertsFile });
    await writeFileAtomic(join(ws.dir, 'scenario.yaml'), this.options.scenarioText);
    // Canary ids seed the bucketing: derive them from the seed so a run is reproducible.
    let canaries = 0;
    const store = await openProjectStore(ws.dir, this.options.store !== undefined ? { store: this.options.store } : {});
    this.project = openRollout({
      root: ws.dir,
      store,
      newCanaryId: () => createHash('sha256').update(`${seed}:${ws.run}:canary:${canaries++}`).digest('hex').slice(0, 12),
    });
    this.opened = true;
    if (ws.fresh && !(store instanceof FileStore)) await assertEmptySharedStore(this.project);
    await this.options.onProject?.(this.project);
    const config = await this.project.config();
    this.minCanaryTasks = config.canary.minCanaryTasks;
    this.rollbackMargin = config.canary.rollbackMargin;

    for (const [role, spec] of Object.entries(scenario.roles)) {
      try {
        const { id } = hashBundle(await loadRoleBundle(templatesDir, role));
        if (!this.truth.has(id)) this.truth.set(id, { passProbability: spec.passProbability, costUsd: spec.costUsd, durationMs: spec.durationMs });
      } catch {
        // A kept workspace without this role's folder: the role's defaults apply.
      }
    }

    const executor = this.makeExecutor(ws.dir);
    this.toolkit = new Toolkit(this.project, {
      onAudit: (events) => this.onAudit(events),
      onWarning: (message) => out.line(c.yellow(`warning: ${message}`)),
      onAlert: (delivered) => {
        for (const { payload, deliveries } of delivered) {
          for (const d of deliveries) {
            if (d.ok) out.line(c.dim(`    alert (${d.channel}) delivered for the ${payload.event} of ${payload.role} in ${d.ms} ms → ${displayPath(alertsFile)}`));
            else out.line(c.yellow(`    alert (${d.channel}) for the ${payload.event} of ${payload.role} failed: ${d.error} (recorded in the audit log)`));
          }
        }
      },
    });
    if (!ws.fresh) await this.toolkit.skipExistingAudit();

    out.line(c.bold(`Bernstein canary demo: ${scenario.name}`));
    if (scenario.description) out.line(c.dim(scenario.description));
    out.line(`${executor.kind === 'simulated' ? c.magenta('Agents are simulated.') : c.cyan('Agents are real processes.')} ${executor.describe()}`);
    out.line(
      `workspace ${ws.dir}${ws.fresh ? ' (fresh)' : ` (kept, run ${ws.run})`} · seed ${seed} · ${this.options.concurrency} workers · canary_percentage ${config.canary.canaryPercentage} · min_canary_tasks ${config.canary.minCanaryTasks} · rollback_margin ${config.canary.rollbackMargin} · policy ${config.canary.policy}`,
    );
    if (ws.fresh) out.line(c.dim(`sample project written: templates/roles/{${Object.keys(scenario.roles).join(',')}}/ and .sdd/config.yaml (alerts.command appends to alerts.jsonl)`));

    const phases: PhaseResult[] = [];
    const idPrefix = ws.run > 1 ? `r${ws.run}-` : '';
    let seq = 0;
    for (const [index, phase] of scenario.phases.entries()) {
      if (this.interrupted) break;
      this.phaseIndex = index;
      out.line();
      out.line(c.bold(`Phase ${index + 1}/${scenario.phases.length}: ${phase.title}`));
      if (phase.narrative) out.line(c.dim(`  ${phase.narrative}`));
      const result: PhaseResult = {
        name: phase.name,
        title: phase.title,
        tasks: 0,
        perRole: {},
        change: null,
        decision: null,
        steps: [],
        outcome: 'done',
        expect: phase.expect ?? null,
        exposure: null,
      };
      this.phaseTally = result;
      this.watch = null;
      if (phase.change) {
        const skipped = await this.applyChange(phase, result, templatesDir);
        if (skipped) {
          result.outcome = 'skipped';
          out.line(c.yellow(`  skipped: ${skipped}`));
          phases.push(result);
          continue;
        }
      }
      const rng = Rng.of(seed, 'tasks', ws.run, phase.name);
      const roles = Object.entries(phase.mix).filter(([, w]) => w > 0);
      const cap = phase.tasks ?? phase.maxTasks;
      this.phaseIssued = 0;
      const source: TaskSource = {
        next: (): TaskSpec | null => {
          if (this.interrupted) return null;
          if (phase.until === 'decision' && this.watch?.decision) return null;
          if (this.phaseIssued >= cap) return null;
          const [role] = roles[rng.weighted(roles.map(([, w]) => w))]!;
          this.phaseIssued += 1;
          seq += 1;
          return { taskId: `${idPrefix}t${String(seq).padStart(4, '0')}-${role}`, role, title: rng.pick(taskTitles(role)), phase: phase.name };
        },
      };
      this.pool = new WorkerPool({
        toolkit: this.toolkit,
        executor,
        concurrency: this.options.concurrency,
        onTaskDone: (done) => this.onTaskDone(done, index),
      });
      await this.pool.run(source);
      this.pool = null;
      out.clearStatus();
      this.finishPhase(phase, result);
      phases.push(result);
    }

    await this.toolkit.drain();
    out.clearStatus();

    let reportFile: string | null = null;
    let data: ReportData | null = null;
    if (this.options.report !== false) {
      reportFile = join(ws.dir, 'report.html');
      data = await writeReport(this.project, reportFile);
    }
    const alerts = await countLines(alertsFile);
    const result: StoryResult = {
      ok: this.problems.length === 0 && !this.interrupted,
      exitCode: this.interrupted ? 130 : this.problems.length > 0 ? 1 : 0,
      interrupted: this.interrupted,
      simulated: executor.kind === 'simulated',
      executor: executor.describe(),
      scenario: scenario.name,
      seed,
      workspace: ws.dir,
      store: store instanceof FileStore ? null : store.name,
      run: ws.run,
      tasks: this.completed,
      wallMs: Date.now() - started,
      phases,
      report: reportFile,
      alertsFile,
      alerts,
      problems: [...this.problems],
      toolkit: { ...this.toolkit.calls },
    };
    for (const line of formatSummary(result, data, c)) out.line(line);
    return result;
  }

  private makeExecutor(workspace: string): Executor {
    const agent = this.options.agent;
    if (agent.kind === 'process') {
      return new ProcessExecutor({ agentCmd: agent.agentCmd, gates: agent.gates, runsDir: join(workspace, 'runs'), timeoutMs: agent.timeoutMs });
    }
    const roles = this.options.scenario.roles;
    return new SimulatedExecutor({
      seed: this.options.seed,
      latencyMs: agent.latencyMs ?? 1,
      versionTruth: (versionId, role) => {
        const known = this.truth.get(versionId);
        if (known) return known;
        const spec = roles[role];
        return { passProbability: spec?.passProbability ?? 0.8, costUsd: spec?.costUsd ?? 0.1, durationMs: spec?.durationMs ?? 30_000 };
      },
    });
  }

  /** Apply the phase's change. Returns why the phase is skipped, or null. */
  private async applyChange(phase: Phase, result: PhaseResult, templatesDir: string): Promise<string | null> {
    const change = phase.change!;
    const out = this.options.terminal;
    const c = out.colors;
    const spec = this.options.scenario.roles[change.role]!;
    const truth: SimulatedVersion = {
      passProbability: phase.passProbability ?? spec.passProbability,
      costUsd: spec.costUsd * phase.costFactor,
      durationMs: spec.durationMs * phase.durationFactor,
    };
    const state = await this.project.store.loadState();
    const roleState = state.roles[change.role];
    if (change.kind === 'prompt') {
      const file = join(templatesDir, change.role, change.file);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new BernsteinError('INVALID_ARGUMENT', `scenario phase "${phase.name}": cannot read ${file}: ${(error as Error).message}`);
      }
      let edited: string;
      if (change.find !== undefined) {
        if (!text.includes(change.find)) {
          if (text.includes(change.replace!)) edited = text;
          else throw new BernsteinError('INVALID_ARGUMENT', `scenario phase "${phase.name}": the text to find is not in ${file}: ${JSON.stringify(change.find)}`);
        } else edited = text.replace(change.find, change.replace!);
      } else edited = `${text.trimEnd()}\n\n${change.append!}\n`;
      // Atomic, like an editor's save: routing never reads half a template.
      if (edited !== text) await writeFileAtomic(file, edited);
      const { id } = hashBundle(await loadRoleBundle(templatesDir, change.role));
      result.change = { kind: 'prompt', role: change.role, versionId: id, canaryId: null, skipped: null };
      this.truth.set(id, truth);
      const shown = relative(this.project.root, file);
      if (edited === text) {
        out.line(`  ${shown} already has this edit (kept workspace)`);
      } else if (change.find !== undefined) {
        out.line(`  edit ${shown}:`);
        out.line(c.red(`    - ${change.find}`));
        out.line(c.green(`    + ${change.replace}`));
      } else out.line(`  edit ${shown}: appended ${JSON.stringify(change.append!.slice(0, 80))}`);
      if (roleState?.stable === id) return (result.change.skipped = `the edited bundle ${id} is already the stable version of ${change.role}`);
      if (roleState?.rejected.includes(id)) return (result.change.skipped = `the edited bundle ${id} was rolled back before and is rejected; routing serves stable`);
      const truthNote = this.options.agent.kind === 'simulated' ? ` (simulated true pass probability ${truth.passProbability})` : '';
      out.line(`  the ${change.role} bundle on disk is now version ${c.bold(id)}${truthNote}; no command is run`);
      this.watch = this.newWatch(change.role, id);
      return null;
    }
    // A model change, as `bernstein config canary --role R --model M --steps ...` does it.
    if (roleState?.stable) {
      const stable = await this.project.store.getVersion(roleState.stable);
      if (stable.model.default_model === change.model) {
        result.change = { kind: 'model', role: change.role, versionId: stable.id, canaryId: null, skipped: 'already stable' };
        return `${change.role} already runs ${change.model} on its stable version ${stable.id}`;
      }
    }
    const steps = change.steps;
    out.line(
      `  $ bernstein config canary --role ${change.role} --model ${change.model} ${steps ? `--steps ${steps.join(',')}` : `--percentage ${change.percentage}`}${change.policy ? ` --policy ${change.policy}` : ''}`,
    );
    const applied = await this.toolkit.exclusive(async () => {
      // The audit hook sees the start event as soon as this job ends, so the watch exists first.
      const res = await canaryRole(this.project, change.role, {
        model: change.model,
        ...(steps ? { steps } : {}),
        ...(change.percentage !== undefined && !steps ? { percentage: change.percentage } : {}),
        ...(change.policy ? { policy: change.policy } : {}),
      });
      const start = res.events.find((e) => e.action === 'start');
      if (start?.to) {
        this.truth.set(start.to, truth);
        this.watch = this.newWatch(change.role, start.to);
      }
      return res;
    });
    const start = applied.events.find((e) => e.action === 'start');
    result.change = { kind: 'model', role: change.role, versionId: start?.to ?? null, canaryId: start?.canaryId ?? null, skipped: null };
    return null;
  }

  private newWatch(role: string, versionId: string): Watch {
    return { role, versionId, canaryId: null, percentage: null, decision: null };
  }

  private onAudit(events: readonly AuditEvent[]): void {
    const out = this.options.terminal;
    const c = out.colors;
    for (const event of events) {
      const evidence = readEvidence(event.evidence);
      const watch = this.watch;
      const mine = watch !== null && event.role === watch.role;
      if (mine && event.action === 'start' && event.to === watch.versionId) {
        watch.canaryId = event.canaryId;
        watch.percentage = event.percentage ?? null;
        if (this.phaseTally?.change) this.phaseTally.change.canaryId = event.canaryId;
      }
      const ofWatched = mine && event.canaryId !== null && event.canaryId === watch.canaryId;
      if (ofWatched && (event.action === 'step' || event.action === 'percentage')) {
        watch.percentage = event.toPercentage ?? event.percentage ?? null;
        if (event.action === 'step') {
          this.phaseTally?.steps.push({ from: event.fromPercentage ?? null, to: event.toPercentage ?? null, afterTask: this.completed });
        }
      }
      if (ofWatched && (event.action === 'promote' || event.action === 'rollback') && !watch.decision) {
        watch.decision = {
          action: event.action,
          at: event.at,
          actor: event.actor,
          percentage: event.percentage ?? null,
          afterTask: this.completed,
          reason: event.reason,
          evidence: event.evidence,
        };
      }
      const icon = ICON[event.action] ?? '•';
      const colour =
        event.action === 'rollback' || event.action === 'instant-rollback' ? c.red : event.action === 'promote' ? c.green : event.action === 'alert-failed' ? c.yellow : event.action === 'start' || event.action === 'step' ? c.cyan : c.dim;
      const who = event.actor === 'auto' ? 'automatic' : `by ${event.actor}`;
      const when = `after task #${this.completed}`;
      let text: string;
      switch (event.action) {
        case 'init':
          text = `${event.role}: version ${event.to} is stable (first seen)`;
          break;
        case 'start':
          text = `${event.role}: canary ${event.canaryId} of version ${event.to} started at ${event.percentage} % (${who}, ${when})`;
          break;
        case 'step':
          text = `${event.role}: canary stepped ${event.fromPercentage} % → ${event.toPercentage} % (${who}, ${when}): ${evidencePhrase(evidence)}; the evidence carries over (a new epoch)`;
          break;
        case 'promote':
          text = `${event.role}: canary ${event.canaryId} PROMOTED at ${event.percentage} % (${who}, ${when}): version ${event.to} is stable now; ${evidencePhrase(evidence)}`;
          break;
        case 'rollback':
          text = `ALERT ${event.role}: canary ${event.canaryId} ROLLED BACK at ${event.percentage} % (${who}, ${when}): version ${event.from} is rejected, stable ${event.to} serves every task; ${evidencePhrase(evidence)}`;
          break;
        default:
          text = describeAuditEvent(event);
      }
      out.line(colour(`  ${icon} ${text}`));
      if ((event.action === 'promote' || event.action === 'rollback' || event.action === 'step') && event.reason) out.line(c.dim(`    why: ${event.reason}`));
    }
  }

  private onTaskDone(done: CompletedTask, phaseIndex: number): void {
    this.completed += 1;
    const tally = this.phaseTally!;
    tally.tasks += 1;
    const roleTally = (tally.perRole[done.task.role] ??= { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } });
    const arm = roleTally[done.route.arm];
    arm.tasks += 1;
    if (done.result.passed) arm.passed += 1;
    const out = this.options.terminal;
    const c = out.colors;
    if (!done.recorded) {
      const message = `task ${done.task.taskId}: outcome not recorded: ${done.skipped?.message ?? 'unknown reason'}`;
      this.problems.push(message);
      out.line(c.red(`  ${message}`));
    } else if (done.result.note && this.options.agent.kind === 'process') {
      out.line(c.dim(`    ${done.task.taskId} failed: ${done.result.note}`));
    }
    const watch = this.watch;
    if (watch?.canaryId && done.task.role === watch.role && done.route.canaryId === watch.canaryId) {
      tally.exposure ??= { canary: 0, stable: 0 };
      tally.exposure[done.route.arm] += 1;
    }
    const scenario = this.options.scenario;
    const progress = this.progressText(phaseIndex, scenario.phases.length);
    out.status(progress);
    if (!out.tty && tally.tasks % 100 === 0) out.line(c.dim(`  … ${progress}`));
  }

  private progressText(phaseIndex: number, phaseCount: number): string {
    const tally = this.phaseTally!;
    const parts = Object.entries(tally.perRole)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([role, t]) => {
        const canary = t.canary.tasks > 0 ? ` canary ${t.canary.passed}/${t.canary.tasks} ${percent(t.canary.passed, t.canary.tasks)}` : '';
        return `${role} stable ${t.stable.passed}/${t.stable.tasks} ${percent(t.stable.passed, t.stable.tasks)}${canary}`;
      });
    const at = this.watch?.percentage != null && !this.watch.decision ? ` · canary at ${this.watch.percentage} %` : '';
    return `phase ${phaseIndex + 1}/${phaseCount} · ${tally.tasks} tasks${at} · ${parts.join(' · ')} · ${this.pool?.inFlight ?? 0} in flight`;
  }

  private finishPhase(phase: Phase, result: PhaseResult): void {
    const out = this.options.terminal;
    const c = out.colors;
    const watch = this.watch;
    const roles = Object.entries(result.perRole).sort(([a], [b]) => (a < b ? -1 : 1));
    const line = roles
      .map(([role, t]) => {
        const total = t.stable.tasks + t.canary.tasks;
        const canary = t.canary.tasks > 0 ? `, ${t.canary.tasks} on the canary (${percent(t.canary.passed, t.canary.tasks)} passed)` : '';
        return `${role} ${total} (${percent(t.stable.passed, t.stable.tasks)} passed on stable${canary})`;
      })
      .join(' · ');
    out.line(`  ${result.tasks} tasks: ${line}`);
    if (this.interrupted) {
      result.outcome = 'interrupted';
      out.line(c.yellow('  interrupted: no new tasks were started; every task in flight was recorded'));
      return;
    }
    if (phase.until !== 'decision' || !watch) return;
    result.decision = watch.decision;
    if (!watch.decision) {
      result.outcome = 'undecided';
      const message = `phase "${phase.name}": no decision on the ${watch.role} canary within maxTasks ${phase.maxTasks} (raise it in the scenario, or look at \`bernstein canary status --dir ${this.project.root}${this.project.store instanceof FileStore ? '' : ' --store <url>'}\`)`;
      this.problems.push(message);
      out.line(c.red(`  ${message}`));
      return;
    }
    const exposure = result.exposure ?? { canary: 0, stable: 0 };
    const seen = exposure.canary + exposure.stable;
    const others = result.tasks - (result.perRole[watch.role]?.stable.tasks ?? 0) - (result.perRole[watch.role]?.canary.tasks ?? 0);
    if (seen > 0) {
      out.line(
        `  while the canary ran, ${exposure.canary} of ${seen} ${watch.role} tasks (${percent(exposure.canary, seen)}) got version ${watch.versionId}; the other ${exposure.stable} never saw it, nor did the ${others} tasks of other roles`,
      );
    }
    if (phase.expect && phase.expect !== watch.decision.action) {
      result.outcome = 'unexpected';
      out.line(
        c.yellow(
          `  note: the scenario expected a ${phase.expect} but the canary was ${watch.decision.action === 'promote' ? 'promoted' : 'rolled back'}; with seed ${this.options.seed} the simulated outcomes happened to point the other way (the report shows the evidence)`,
        ),
      );
    } else result.outcome = phase.expect ? 'as-expected' : 'done';
  }
}

async function countLines(file: string): Promise<number> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((line) => line.trim() !== '').length;
  } catch {
    return 0;
  }
}

/**
 * A fresh workspace starts the story from nothing. Its `.sdd/` files are new, but a shared store
 * may hold a project already (an earlier run, another team's roles): the story's task ids and
 * roles would collide with it, so it asks for an empty database instead (or --keep to continue).
 */
async function assertEmptySharedStore(project: Rollout): Promise<void> {
  const [versions, state] = await Promise.all([project.store.listVersions(), project.store.loadState()]);
  const roles = [...new Set([...versions.map((v) => v.role), ...Object.keys(state.roles)])].sort();
  if (roles.length === 0) return;
  throw new BernsteinError(
    'CONFLICT',
    `${project.store.name} already holds a project (roles ${roles.join(', ')}): the demo starts from an empty store; give it an empty database, or --keep with the --dir of the run that filled it`,
  );
}
