import { once } from 'node:events';
import { decideRoute, type RoleState } from '@bernstein/canary-router';
import { GrowthBookClient, type UserContext } from '@growthbook/growthbook';
import { InMemStorageProvider, Unleash, type Context as UnleashContext } from 'unleash-client';

/**
 * SPEC target "Routing": the in-memory routing decision (no I/O) makes at least 10x the decisions
 * per second of GrowthBook's and Unleash's Node SDKs evaluating a 20 % rollout, in the same run.
 *
 * Contenders, all evaluating a 20 % rollout over the same precomputed ids `task-0 .. task-(n-1)`:
 * - bernstein: `decideRoute(roleState, taskId)` on a role with a 20 % canary (sticky hash bucket,
 *   returns arm + version id + canary id + epoch).
 * - GrowthBook 1.x: the documented server-side "singleton" mode, `GrowthBookClient` loaded with
 *   `initSync({ payload })` (no network) and `isOn('f', userContext)` per user: the cheapest
 *   documented per-user evaluation (the per-request `GrowthBook` instance + `setAttributes` is far
 *   slower). Feature: `{ defaultValue: false, rules: [{ force: true, coverage: 0.2, hashAttribute: 'id' }] }`,
 *   GrowthBook's percentage-rollout rule.
 * - Unleash: `new Unleash({ bootstrap, refreshInterval: 0, disableMetrics: true, InMemStorageProvider })`,
 *   a toggle with the `flexibleRollout` strategy (rollout 20, stickiness userId), evaluated with
 *   `isEnabled('f', { userId })`. refreshInterval 0 means the SDK never fetches, metrics are off,
 *   and the URL is a loopback discard port anyway; it is destroyed at the end.
 * The per-user context objects the SDKs take are built once, before timing, so their cost is not
 * counted against the SDKs (ours takes the task id string directly).
 *
 * Method: warm-up, then `samples` rounds; in each round every contender runs (in rotating order)
 * for about `sampleMs`, so machine noise hits all of them alike. Each contender's realised canary
 * share is checked (within 1 point at >= 10,000 ids; 4.5 binomial sd below that), so no contender
 * is measured doing something other than a 20 % rollout.
 */

export interface RoutingBenchOptions {
  /** Distinct task ids per pass. */
  ids: number;
  /** Fewer, shorter samples (CI / smoke runs). */
  quick?: boolean;
  /** Override the number of interleaved samples per contender. */
  samples?: number;
  /** Override the target duration of one sample, in ms. */
  sampleMs?: number;
}

export type RoutingContenderKey = 'bernstein' | 'growthbook' | 'unleash';

export interface RoutingRow {
  key: RoutingContenderKey;
  name: string;
  decisionsPerSec: { min: number; median: number; max: number };
  samples: number;
  /** Realised share of ids on the rollout / canary arm (sanity check: ~0.20). */
  share: number;
}

export interface RoutingBenchResult {
  ids: number;
  percentage: number;
  rows: RoutingRow[];
  /** Our median decisions/s divided by theirs; `worstCase` uses our slowest sample against their fastest. */
  ratios: {
    growthbook: number;
    unleash: number;
    worstCase: { growthbook: number; unleash: number };
  };
  /** The SPEC target: at least this ratio against each SDK. */
  target: number;
  meetsTarget: boolean;
  notes: string[];
}

export const ROUTING_TARGET_RATIO = 10;
const PERCENTAGE = 20;
const FEATURE = 'f';

export interface RoutingContender {
  key: RoutingContenderKey;
  name: string;
  /** One pass over all ids; returns how many went to the rollout / canary arm. */
  pass: () => number;
  close: () => void;
}

const VERSION_STABLE = '0000000000aa';
const VERSION_CANARY = '0000000000bb';
const CANARY_ID = '5e1f00d2c7aa';

export function benchRole(percentage = PERCENTAGE): RoleState {
  return {
    stable: VERSION_STABLE,
    previousStables: [],
    rejected: [],
    canary: {
      id: CANARY_ID,
      versionId: VERSION_CANARY,
      baseVersionId: VERSION_STABLE,
      percentage,
      steps: [],
      stepIndex: -1,
      epoch: 0,
      evidenceFromEpoch: 0,
      epochs: [{ epoch: 0, percentage, startedAt: '2025-01-01T00:00:00.000Z' }],
      policy: null,
      startedAt: '2025-01-01T00:00:00.000Z',
      startedBy: 'cli',
    },
    updatedAt: '2025-01-01T00:00:00.000Z',
  };
}

function bernsteinContender(ids: readonly string[]): RoutingContender {
  const role = benchRole();
  return {
    key: 'bernstein',
    name: 'bernstein decideRoute (in-memory)',
    pass: () => {
      let onCanary = 0;
      for (let i = 0; i < ids.length; i++) if (decideRoute(role, ids[i]!).arm === 'canary') onCanary++;
      return onCanary;
    },
    close: () => {},
  };
}

function growthbookContender(ids: readonly string[]): RoutingContender {
  const gb = new GrowthBookClient({ enabled: true, debug: false });
  gb.initSync({
    payload: {
      features: {
        [FEATURE]: { defaultValue: false, rules: [{ force: true, coverage: PERCENTAGE / 100, hashAttribute: 'id' }] },
      },
    },
  });
  const contexts: UserContext[] = ids.map((id) => ({ attributes: { id } }));
  return {
    key: 'growthbook',
    name: `GrowthBook ${gb.version} GrowthBookClient.isOn`,
    pass: () => {
      let on = 0;
      for (let i = 0; i < contexts.length; i++) if (gb.isOn(FEATURE, contexts[i]!)) on++;
      return on;
    },
    close: () => gb.destroy(),
  };
}

async function unleashContender(ids: readonly string[]): Promise<RoutingContender> {
  const unleash = new Unleash({
    // Never contacted (refreshInterval 0, metrics off); a loopback discard port if it ever were.
    url: 'http://127.0.0.1:9/api/',
    appName: 'bernstein-bench',
    refreshInterval: 0,
    metricsInterval: 0,
    disableMetrics: true,
    skipInstanceCountWarning: true,
    storageProvider: new InMemStorageProvider(),
    bootstrap: {
      data: [
        {
          name: FEATURE,
          enabled: true,
          project: 'default',
          type: 'release',
          stale: false,
          impressionData: false,
          variants: [],
          strategies: [{ name: 'flexibleRollout', parameters: { rollout: String(PERCENTAGE), stickiness: 'userId', groupId: FEATURE }, constraints: [] }],
        },
      ],
    },
  });
  const problems: string[] = [];
  unleash.on('error', (error: Error) => problems.push(String(error?.message ?? error)));
  unleash.on('warn', () => {});
  try {
    if (!unleash.isSynchronized() && !isReady(unleash)) await withTimeout(once(unleash, 'ready'), 5000, 'Unleash did not become ready from its bootstrap');
  } catch (error) {
    unleash.destroy();
    throw error;
  }
  if (problems.length > 0) {
    unleash.destroy();
    throw new Error(`Unleash reported errors: ${problems.join('; ')}`);
  }
  const contexts: UnleashContext[] = ids.map((userId) => ({ userId }));
  return {
    key: 'unleash',
    name: 'Unleash isEnabled (flexibleRollout)',
    pass: () => {
      let on = 0;
      for (let i = 0; i < contexts.length; i++) if (unleash.isEnabled(FEATURE, contexts[i])) on++;
      return on;
    },
    close: () => unleash.destroy(),
  };
}

function isReady(unleash: Unleash): boolean {
  return (unleash as unknown as { ready?: boolean }).ready === true;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Realised-share tolerance: 1 point at >= 10,000 ids (SPEC), 4.5 binomial sd for smaller runs. */
export function shareTolerance(n: number, p = PERCENTAGE / 100): number {
  return Math.max(0.01, n >= 10_000 ? 0.01 : 4.5 * Math.sqrt((p * (1 - p)) / n));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Create the contenders (also used by the tests' routing sanity check). Call `close` on each. */
export async function createRoutingContenders(ids: readonly string[]): Promise<RoutingContender[]> {
  const contenders: RoutingContender[] = [bernsteinContender(ids), growthbookContender(ids)];
  try {
    contenders.push(await unleashContender(ids));
  } catch (error) {
    for (const c of contenders) c.close();
    throw error;
  }
  return contenders;
}

export async function benchRouting(opts: RoutingBenchOptions): Promise<RoutingBenchResult> {
  const n = Math.floor(opts.ids);
  if (!(n >= 1)) throw new Error(`benchRouting: ids must be >= 1 (got ${opts.ids})`);
  const samples = opts.samples ?? (opts.quick ? 3 : 7);
  const sampleMs = opts.sampleMs ?? (opts.quick ? 25 : 150);
  const warmupMs = opts.quick ? 30 : 200;
  const ids = Array.from({ length: n }, (_, i) => `task-${i}`);

  const contenders = await createRoutingContenders(ids);
  try {
    // Sanity: every contender routes ~20 %.
    const shares = new Map<RoutingContenderKey, number>();
    for (const c of contenders) {
      const share = c.pass() / n;
      const tolerance = shareTolerance(n);
      if (Math.abs(share - PERCENTAGE / 100) > tolerance) {
        throw new Error(`routing bench: ${c.name} routed ${(share * 100).toFixed(2)} % of ${n} ids, expected ${PERCENTAGE} % ± ${(tolerance * 100).toFixed(2)}`);
      }
      shares.set(c.key, share);
    }

    // Warm-up, and calibrate how many passes make one sample of ~sampleMs.
    const passesPerSample = new Map<RoutingContenderKey, number>();
    for (const c of contenders) {
      let passes = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        c.pass();
        passes++;
        elapsed = performance.now() - start;
      } while (elapsed < warmupMs);
      const perPass = elapsed / passes;
      passesPerSample.set(c.key, Math.max(1, Math.round(sampleMs / perPass)));
    }

    const rates = new Map<RoutingContenderKey, number[]>(contenders.map((c) => [c.key, []]));
    let sink = 0;
    for (let s = 0; s < samples; s++) {
      for (let k = 0; k < contenders.length; k++) {
        const c = contenders[(s + k) % contenders.length]!;
        const passes = passesPerSample.get(c.key)!;
        const start = performance.now();
        for (let p = 0; p < passes; p++) sink += c.pass();
        const seconds = (performance.now() - start) / 1000;
        rates.get(c.key)!.push((passes * n) / seconds);
      }
    }
    if (sink < 0) throw new Error('unreachable'); // keeps the work observable

    const rows: RoutingRow[] = contenders.map((c) => {
      const r = rates.get(c.key)!;
      return {
        key: c.key,
        name: c.name,
        decisionsPerSec: { min: Math.min(...r), median: median(r), max: Math.max(...r) },
        samples: r.length,
        share: shares.get(c.key)!,
      };
    });
    const row = (key: RoutingContenderKey) => rows.find((r) => r.key === key)!;
    const ours = row('bernstein').decisionsPerSec;
    const ratios = {
      growthbook: ours.median / row('growthbook').decisionsPerSec.median,
      unleash: ours.median / row('unleash').decisionsPerSec.median,
      worstCase: {
        growthbook: ours.min / row('growthbook').decisionsPerSec.max,
        unleash: ours.min / row('unleash').decisionsPerSec.max,
      },
    };
    return {
      ids: n,
      percentage: PERCENTAGE,
      rows,
      ratios,
      target: ROUTING_TARGET_RATIO,
      meetsTarget: ratios.growthbook >= ROUTING_TARGET_RATIO && ratios.unleash >= ROUTING_TARGET_RATIO,
      notes: [
        `${n} distinct ids, ${PERCENTAGE} % rollout, ${samples} interleaved samples of ~${sampleMs} ms each after ${warmupMs} ms warm-up`,
        'GrowthBook: GrowthBookClient.initSync + isOn(feature, userContext) (server-side singleton mode, rollout rule with coverage 0.2)',
        'Unleash: offline bootstrap, refreshInterval 0, metrics disabled, flexibleRollout 20 % on userId',
        'SDK user contexts are prebuilt before timing',
      ],
    };
  } finally {
    for (const c of contenders) c.close();
  }
}

function formatRate(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M/s`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k/s`;
  return `${value.toFixed(0)} /s`;
}

/** A small fixed-width table of the result, one string per line. */
export function formatRoutingRows(result: RoutingBenchResult): string[] {
  const header = ['contender', 'median', 'min', 'max', 'share', 'vs ours'];
  const ours = result.rows.find((r) => r.key === 'bernstein')?.decisionsPerSec.median ?? Number.NaN;
  const body = result.rows.map((r) => [
    r.name,
    formatRate(r.decisionsPerSec.median),
    formatRate(r.decisionsPerSec.min),
    formatRate(r.decisionsPerSec.max),
    `${(r.share * 100).toFixed(2)} %`,
    r.key === 'bernstein' ? '1x' : `${(ours / r.decisionsPerSec.median).toFixed(1)}x slower`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const verdict = `routing: ${result.ratios.growthbook.toFixed(1)}x GrowthBook, ${result.ratios.unleash.toFixed(1)}x Unleash (target >= ${result.target}x): ${result.meetsTarget ? 'met' : 'NOT met'}`;
  return [line(header), ...body.map(line), verdict];
}
