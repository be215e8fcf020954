import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { metricMean, metricVariance } from './stats.js';
import type { Guardrail, GuardrailEvidence, GuardrailMetric, MetricSummary } from './types.js';

/**
 * Guardrails on costUsd / durationMs: roll back when there is strong evidence that the canary's
 * mean exceeds the stable mean by more than the configured relative increase.
 *
 * Test of H0: mu_c <= (1 + L) mu_s on the contrast D = mean_c - (1 + L) mean_s with the Welch
 * variance V = s_c^2 / n_c + (1 + L)^2 s_s^2 / n_s, by a one-sided normal-mixture (Robbins) e-value
 * on z = D / sqrt(V) (half-normal mixing distribution with variance 1/MIXTURE_SAMPLES of a
 * per-canary-sample variance, i.e. r = n_c / MIXTURE_SAMPLES):
 *   log E = log 2 - log(1 + r) / 2 + z^2 r / (2 (1 + r)) + log Phi(z sqrt(r / (1 + r)))
 * It fires at E >= 1 / alpha with alpha = 1 %, and only once both arms have MIN_SAMPLES samples
 * (and the canary at least min_canary_tasks): costs are heavy-tailed, so no decision on a handful.
 */
export const GUARDRAIL_CONSTANTS = Object.freeze({ alpha: 0.01, minSamples: 20, mixtureSamples: 10 });

export interface GuardrailResult extends GuardrailEvidence {
  /** false when an arm does not yet have enough samples (never breached then). */
  tested: boolean;
  logEvidence: number;
  stableSamples: number;
  canarySamples: number;
  maxIncrease: number;
}

export function checkGuardrail(
  metric: GuardrailMetric,
  stable: MetricSummary | null,
  canary: MetricSummary | null,
  guardrail: Guardrail,
  minCanaryTasks: number,
): GuardrailResult | null {
  if (stable === null || canary === null) return null;
  const k = 1 + guardrail.maxIncrease;
  const stableMean = metricMean(stable);
  const canaryMean = metricMean(canary);
  const limit = k * stableMean;
  const base = { metric, stableMean, canaryMean, limit, stableSamples: stable.n, canarySamples: canary.n, maxIncrease: guardrail.maxIncrease };
  const enough = stable.n >= GUARDRAIL_CONSTANTS.minSamples && canary.n >= Math.max(GUARDRAIL_CONSTANTS.minSamples, minCanaryTasks);
  const d = canaryMean - limit;
  const v = metricVariance(canary) / canary.n + (k * k * metricVariance(stable)) / stable.n;
  let logEvidence: number;
  if (d <= 0) logEvidence = 0;
  else if (v <= 0) logEvidence = Infinity; // no noise at all: the canary is certainly above the limit
  else {
    const z = d / Math.sqrt(v);
    const r = canary.n / GUARDRAIL_CONSTANTS.mixtureSamples;
    logEvidence = Math.LN2 - 0.5 * Math.log1p(r) + (z * z * r) / (2 * (1 + r)) + Math.log(normalCdf(z * Math.sqrt(r / (1 + r)), 0, 1));
  }
  const breached = enough && logEvidence >= Math.log(1 / GUARDRAIL_CONSTANTS.alpha);
  return { ...base, breached, tested: enough, logEvidence };
}
