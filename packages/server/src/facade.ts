/**
 * The one module of the server that knows how rollout logic is reached. Handlers, schemas, the
 * OpenAPI document, auth, the dashboard and SSE talk to `ServiceFacade` only.
 */
import type { AuditEvent } from '@bernstein/canary-router';
import type { OutcomeInput, ReportData, RoleStatus } from '@bernstein/rollout';
import type { Version, VersionSummary } from '@bernstein/prompt-versions';

export type ArmName = 'stable' | 'canary';

/** One routed task: what an orchestrator needs to spawn the agent (files by id, fetched once). */
export interface RoutedTask {
  taskId: string;
  role: string;
  arm: ArmName;
  versionId: string;
  canaryId: string | null;
  /** The canary's share when routed; 0 without a canary. */
  percentage: number;
  model: Record<string, unknown>;
  /** SHA-256 of the version's files (name to text). */
  filesHash: string;
  /** Routed before and kept its arm (a retry). */
  sticky: boolean;
}

export interface RouteRequest {
  taskId: string;
  stratum?: string;
}

/** What became of one outcome. `conflict`: the task has a different outcome already. */
export interface OutcomeVerdict {
  taskId: string;
  status: 'recorded' | 'duplicate' | 'unknown-task' | 'conflict';
  reason?: string;
}

export interface RecordOutput {
  verdicts: OutcomeVerdict[];
  /** Transitions that automatic decisions applied while recording. */
  transitions: AuditEvent[];
}

export interface HistoryPage {
  events: AuditEvent[];
  /** Resume here for the next page (or later, for events appended since). */
  cursor: string;
  /** False when this page reached the end of the log. */
  more: boolean;
}

export interface VersionListEntry extends VersionSummary {
  /** stable, "canary <n> %", rejected, or null. */
  status: string | null;
}

export interface StartCanaryInput {
  versionId?: string;
  role?: string;
  model?: string;
  percentage?: number;
  steps?: number[];
  policy?: 'sequential' | 'threshold';
  reason?: string;
}

export interface VersionDiffOutput {
  a: string;
  b: string;
  changedFiles: string[];
  modelChanged: boolean;
  patch: string;
}

/** What the facade tells listeners (the SSE hub) after it wrote something. */
export type ServiceEvent =
  | { type: 'routed'; role: string; tasks: number }
  | { type: 'outcomes'; recorded: number }
  | { type: 'transition'; event: AuditEvent };

export interface AlertOutcome {
  event: string;
  role: string;
  deliveries: Array<{ channel: string; ok: boolean; error?: string }>;
}

export interface ServiceFacade {
  /** Where the data lives, for the start-up log line (e.g. `file:/srv/project/.sdd`). */
  readonly storeLabel: string;
  /** Route tasks of one role exactly as `canary route` does (sticky, recorded in the ledger). */
  route(role: string, tasks: readonly RouteRequest[]): Promise<RoutedTask[]>;
  /** Every role's arm for a task, recording nothing: a task already routed shows its recorded arm. */
  preview(taskId: string): Promise<RoutedTask[]>;
  /** Record outcomes as `canary record` does (automatic decisions applied). Inputs are validated. */
  record(outcomes: readonly OutcomeInput[]): Promise<RecordOutput>;
  status(role?: string): Promise<RoleStatus[]>;
  /** The audit log from `cursor` on (oldest first), at most `limit` events; `cursor` is opaque. */
  history(options: { role?: string; cursor?: string; limit: number }): Promise<HistoryPage>;
  listVersions(role?: string): Promise<VersionListEntry[]>;
  /** A version by id or unique prefix. */
  version(ref: string): Promise<Version>;
  diff(a: string, b: string): Promise<VersionDiffOutput>;
  startCanary(input: StartCanaryInput): Promise<AuditEvent[]>;
  promote(role: string, reason?: string): Promise<AuditEvent[]>;
  rollback(role: string, reason?: string): Promise<AuditEvent[]>;
  reportData(role?: string): Promise<ReportData>;
  reportHtml(role?: string): Promise<string>;
  /**
   * What is known so far of the alerts of these transitions. The services write alerts to the
   * outbox with their transitions and deliver them after commit in the background, so a request
   * never waits for a webhook: an alert still on its way is simply not listed yet.
   */
  alertsFor(events: readonly AuditEvent[]): AlertOutcome[];
  subscribe(listener: (event: ServiceEvent) => void): () => void;
  /** Write what is queued, wait for alerts in flight, stop watching. */
  close(): Promise<void>;
}
