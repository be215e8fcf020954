import type { ArmStats, GateCounts, MetricSummary, OutcomeSample } from './types.js';

/** An arm with no outcomes. */
export function emptyArmStats(): ArmStats {
  return { tasks: 0, passed: 0, gates: {}, costUsd: null, durationMs: null };
}

/** A summary of one value. */
export function metricOf(value: number): MetricSummary {
  if (!Number.isFinite(value)) throw new RangeError(`metric value must be a finite number, got ${value}`);
  return { n: 1, sum: value, sumSq: value * value, min: value, max: value };
}

export function mergeMetric(a: MetricSummary | null, b: MetricSummary | null): MetricSummary | null {
  if (a === null) return b === null ? null : { ...b };
  if (b === null) return { ...a };
  return { n: a.n + b.n, sum: a.sum + b.sum, sumSq: a.sumSq + b.sumSq, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

export function metricMean(m: MetricSummary): number {
  return m.sum / m.n;
}

/** Unbiased sample variance (0 for a single sample; never negative despite rounding). */
export function metricVariance(m: MetricSummary): number {
  if (m.n < 2) return 0;
  const mean = m.sum / m.n;
  return Math.max(0, (m.sumSq - m.sum * mean) / (m.n - 1));
}

/** Fold one outcome into an arm (pure: returns a new object, `arm` is not modified). */
export function addOutcome(arm: ArmStats, outcome: OutcomeSample): ArmStats {
  const passed = outcome.passed ? 1 : 0;
  let gates = arm.gates;
  if (outcome.gates !== undefined) {
    const names = Object.keys(outcome.gates);
    if (names.length > 0) {
      gates = { ...arm.gates };
      for (const name of names) {
        const prev = gates[name];
        const ok = outcome.gates[name] === true ? 1 : 0;
        gates[name] = prev === undefined ? { tasks: 1, passed: ok } : { tasks: prev.tasks + 1, passed: prev.passed + ok };
      }
    }
  }
  return {
    tasks: arm.tasks + 1,
    passed: arm.passed + passed,
    gates,
    costUsd: outcome.costUsd === undefined ? arm.costUsd : mergeMetric(arm.costUsd, metricOf(outcome.costUsd)),
    durationMs: outcome.durationMs === undefined ? arm.durationMs : mergeMetric(arm.durationMs, metricOf(outcome.durationMs)),
  };
}

/** Fold one outcome into `arm` in place (the evidence fold's hot path; `addOutcome` is the pure form). */
export function addOutcomeInPlace(arm: ArmStats, outcome: OutcomeSample): ArmStats {
  arm.tasks += 1;
  if (outcome.passed) arm.passed += 1;
  if (outcome.gates !== undefined) {
    for (const name in outcome.gates) {
      const ok = outcome.gates[name] === true ? 1 : 0;
      const g = arm.gates[name];
      if (g === undefined) arm.gates[name] = { tasks: 1, passed: ok };
      else {
        g.tasks += 1;
        g.passed += ok;
      }
    }
  }
  if (outcome.costUsd !== undefined) arm.costUsd = addValue(arm.costUsd, outcome.costUsd);
  if (outcome.durationMs !== undefined) arm.durationMs = addValue(arm.durationMs, outcome.durationMs);
  return arm;
}

function addValue(m: MetricSummary | null, value: number): MetricSummary {
  if (!Number.isFinite(value)) throw new RangeError(`metric value must be a finite number, got ${value}`);
  if (m === null) return metricOf(value);
  m.n += 1;
  m.sum += value;
  m.sumSq += value * value;
  if (value < m.min) m.min = value;
  if (value > m.max) m.max = value;
  return m;
}

function mergeGates(a: Record<string, GateCounts>, b: Record<string, GateCounts>): Record<string, GateCounts> {
  const out: Record<string, GateCounts> = {};
  for (const [name, g] of Object.entries(a)) out[name] = { tasks: g.tasks, passed: g.passed };
  for (const [name, g] of Object.entries(b)) {
    const prev = out[name];
    out[name] = prev === undefined ? { tasks: g.tasks, passed: g.passed } : { tasks: prev.tasks + g.tasks, passed: prev.passed + g.passed };
  }
  return out;
}

/** Pool two arms (commutative and associative, up to floating-point rounding of metric sums). */
export function mergeArmStats(a: ArmStats, b: ArmStats): ArmStats {
  return {
    tasks: a.tasks + b.tasks,
    passed: a.passed + b.passed,
    gates: mergeGates(a.gates, b.gates),
    costUsd: mergeMetric(a.costUsd, b.costUsd),
    durationMs: mergeMetric(a.durationMs, b.durationMs),
  };
}
