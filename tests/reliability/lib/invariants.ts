/**
 * Whole-project invariants, checked from the raw files (and, for "state loads", through the
 * packages' own loaders): nothing lost, nothing twice, a replayable audit log.
 */
import { FileStore } from '@bernstein/store-file';
import type { Project } from './project.ts';

export interface LedgerFacts {
  assigns: Map<string, Array<Record<string, any>>>;
  outcomes: Map<string, Array<Record<string, any>>>;
  /** Outcome records in file order. */
  outcomeList: Array<Record<string, any>>;
  problems: string[];
}

export function ledgerFacts(project: Project): LedgerFacts {
  const assigns = new Map<string, Array<Record<string, any>>>();
  const outcomes = new Map<string, Array<Record<string, any>>>();
  const outcomeList: Array<Record<string, any>> = [];
  const lates = new Set<string>();
  const problems: string[] = [];
  for (const record of project.logLines('ledger.jsonl')) {
    if (record.type === 'assign') {
      const list = assigns.get(record.taskId) ?? [];
      list.push(record);
      assigns.set(record.taskId, list);
    } else if (record.type === 'outcome') {
      if (!assigns.has(record.taskId)) problems.push(`outcome of ${record.taskId} before any assignment`);
      const list = outcomes.get(record.taskId) ?? [];
      list.push(record);
      outcomes.set(record.taskId, list);
      outcomeList.push(record);
    } else if (record.type === 'late') {
      // A real outcome after a timeout: only after one, and once.
      const answered = outcomes.get(record.taskId) ?? [];
      if (!answered.some((o) => o.timedOut === true)) problems.push(`late outcome of ${record.taskId} without a timeout before it`);
      if (lates.has(record.taskId)) problems.push(`task ${record.taskId} has two late outcomes`);
      lates.add(record.taskId);
    } else {
      problems.push(`unknown ledger record ${JSON.stringify(record).slice(0, 200)}`);
    }
  }
  for (const [taskId, list] of outcomes) if (list.length > 1) problems.push(`task ${taskId} has ${list.length} outcomes`);
  return { assigns, outcomes, outcomeList, problems };
}

interface ReplayedRole {
  stable: string | null;
  canary: { id: string; versionId: string; percentage: number } | null;
}

export interface AuditFacts {
  transitions: Array<Record<string, any>>;
  alertFailures: Array<Record<string, any>>;
  roles: Map<string, ReplayedRole>;
  problems: string[];
}

/**
 * Replay the audit log: revisions 1, 2, 3, ... with no gap or repeat, each transition legal from
 * the state the earlier ones built, at most one decision (promote / rollback) per canary.
 */
export function auditFacts(project: Project): AuditFacts {
  const problems: string[] = [];
  const roles = new Map<string, ReplayedRole>();
  const transitions: Array<Record<string, any>> = [];
  const alertFailures: Array<Record<string, any>> = [];
  const decided = new Map<string, string>();
  let revision = 0;
  for (const event of project.logLines('audit.jsonl')) {
    if (event.action === 'alert-failed') {
      alertFailures.push(event);
      continue;
    }
    transitions.push(event);
    const where = `audit revision ${event.revision} (${event.action} ${event.role})`;
    if (event.revision !== revision + 1) problems.push(`${where}: expected revision ${revision + 1}`);
    revision = event.revision;
    const role = roles.get(event.role) ?? { stable: null, canary: null };
    roles.set(event.role, role);
    const needCanary = () => {
      if (!role.canary || role.canary.id !== event.canaryId) problems.push(`${where}: canary ${event.canaryId} is not the active one (${role.canary?.id ?? 'none'})`);
    };
    switch (event.action) {
      case 'init':
        if (role.stable !== null) problems.push(`${where}: role already initialised`);
        role.stable = event.to;
        break;
      case 'start':
        if (role.canary) problems.push(`${where}: a canary is already running`);
        if (event.from !== role.stable) problems.push(`${where}: from ${event.from} but stable is ${role.stable}`);
        role.canary = { id: event.canaryId, versionId: event.to, percentage: event.percentage };
        break;
      case 'percentage':
      case 'step':
        needCanary();
        if (role.canary && event.fromPercentage !== role.canary.percentage) problems.push(`${where}: fromPercentage ${event.fromPercentage} but canary at ${role.canary.percentage}`);
        if (role.canary) role.canary.percentage = event.toPercentage;
        break;
      case 'promote':
      case 'rollback': {
        needCanary();
        const earlier = decided.get(event.canaryId);
        if (earlier) problems.push(`${where}: canary ${event.canaryId} was already decided (${earlier})`);
        decided.set(event.canaryId, `${event.action} at revision ${event.revision}`);
        if (event.action === 'promote') {
          if (event.from !== role.stable || event.to !== role.canary?.versionId) problems.push(`${where}: from/to do not match stable/canary`);
          role.stable = event.to;
        } else if (event.from !== role.canary?.versionId || event.to !== role.stable) {
          problems.push(`${where}: from/to do not match canary/stable`);
        }
        role.canary = null;
        break;
      }
      case 'release':
      case 'instant-rollback':
        if (role.canary) problems.push(`${where}: a canary is running`);
        if (event.from !== role.stable) problems.push(`${where}: from ${event.from} but stable is ${role.stable}`);
        role.stable = event.to;
        break;
      default:
        problems.push(`${where}: unknown action`);
    }
  }
  return { transitions, alertFailures, roles, problems };
}

/**
 * The state file loads, agrees with the replayed audit log (revision, stable, canary), and every
 * version it names loads from the registry with matching content.
 */
export async function stateProblems(project: Project, options: { audit?: AuditFacts } = {}): Promise<string[]> {
  const problems: string[] = [];
  const store = new FileStore(project.dir);
  const state = await store.loadState();
  await store.listVersions();
  const audit = options.audit ?? auditFacts(project);
  problems.push(...audit.problems);
  const lastRevision = audit.transitions.at(-1)?.revision ?? 0;
  if (state.revision !== lastRevision) problems.push(`state revision ${state.revision} but the audit log ends at revision ${lastRevision}`);
  for (const [name, role] of Object.entries(state.roles)) {
    const replayed = audit.roles.get(name);
    if (!replayed) {
      problems.push(`role ${name} is in the state but not in the audit log`);
      continue;
    }
    if (replayed.stable !== role.stable) problems.push(`role ${name}: stable ${role.stable} but the audit log says ${replayed.stable}`);
    if ((replayed.canary?.id ?? null) !== (role.canary?.id ?? null)) problems.push(`role ${name}: canary ${role.canary?.id} but the audit log says ${replayed.canary?.id}`);
    if (role.canary && replayed.canary && role.canary.percentage !== replayed.canary.percentage) {
      problems.push(`role ${name}: canary at ${role.canary.percentage} % but the audit log says ${replayed.canary.percentage} %`);
    }
    for (const id of [role.stable, role.canary?.versionId, ...role.previousStables]) {
      if (!id) continue;
      try {
        await store.getVersion(id);
      } catch (error) {
        problems.push(`role ${name}: version ${id} does not load: ${(error as Error).message}`);
      }
    }
  }
  return problems;
}

/**
 * `canary status --json` agrees with the ledger: per role, the stable outcomes outside canaries,
 * and a running canary's window per arm.
 */
export function statusProblems(project: Project, statusJson: { roles: any[] }, ledger: LedgerFacts = ledgerFacts(project)): string[] {
  const problems: string[] = [];
  const state = project.state();
  for (const role of statusJson.roles) {
    const outcomesOf = (filter: (o: Record<string, any>) => boolean) => {
      const list = ledger.outcomeList.filter((o) => o.role === role.role && filter(o));
      return { tasks: list.length, passed: list.filter((o) => o.passed).length };
    };
    const same = (what: string, got: unknown, want: unknown) => {
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`status ${role.role} ${what}: ${JSON.stringify(got)} but the ledger has ${JSON.stringify(want)}`);
    };
    same('stable outcomes', role.stableOutcomes, outcomesOf((o) => o.canaryId === null && o.versionId === role.stableVersion));
    if (role.canary && state.roles[role.role]?.canary?.id === role.canary.id) {
      // Evidence counts the canary's tasks in routing order, up to the first one still awaiting
      // its outcome (a timeout is a failed outcome); every epoch counts.
      const counted = { stable: { tasks: 0, passed: 0 }, canary: { tasks: 0, passed: 0 } };
      const awaiting = { stable: 0, canary: 0 };
      const seen = new Set<string>();
      let prefix = true;
      for (const record of project.logLines('ledger.jsonl')) {
        if (record.type !== 'assign' || record.canaryId !== role.canary.id || seen.has(record.taskId)) continue;
        seen.add(record.taskId);
        const outcome = (ledger.outcomes.get(record.taskId) ?? []).find((o) => o.canaryId === role.canary.id);
        const arm = record.arm as 'stable' | 'canary';
        if (!outcome) {
          awaiting[arm] += 1;
          prefix = false;
          continue;
        }
        if (!prefix) continue;
        counted[arm].tasks += 1;
        if (outcome.passed) counted[arm].passed += 1;
      }
      same('stable arm', role.canary.stable, counted.stable);
      same('canary arm', role.canary.canary, counted.canary);
      same('awaiting', role.canary.awaiting, awaiting);
    }
  }
  return problems;
}

/** Torn records fenced off or pending at the tail of a log. */
export function tornCount(project: Project, name: 'ledger.jsonl' | 'audit.jsonl'): number {
  let text: string;
  try {
    text = project.read(project.sdd(name));
  } catch {
    return 0;
  }
  const markers = text.split('"$tornTail"').length - 1;
  return markers + (text.length > 0 && !text.endsWith('\n') ? 1 : 0);
}
