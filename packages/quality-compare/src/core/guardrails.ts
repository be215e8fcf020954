import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import { metricMean, metricVariance } from './stats.js';
import type { Guardrail, GuardrailEvidence, GuardrailMetric, MetricSummary } from './types.js';

/**
 * Guardrails on costUsd / durationMs: roll back when there is strong evidence that the canary's
 * mean exceeds the stable mean by more than the configured relative increase.
 *
 * Test of H0: mu_c <= (1 + L) mu_s on the contrast D = sum_g w_g (mean_c,g - (1 + L) mean_s,g)
 * over the canary's share groups g (epochs at one percentage; w_g their shares of samples, so a
 * share change never mixes splits), with the Welch variance V = sum_g w_g^2 (s_c,g^2 / n_c,g +
 * (1 + L)^2 s_s,g^2 / n_s,g), by a one-sided normal-mixture (Robbins) e-value on z = D / sqrt(V)
 * (half-normal mixing distribution with variance 1/MIXTURE_SAMPLES of a per-canary-sample
 * variance, i.e. r = n_c / MIXTURE_SAMPLES):
 *   log E = log 2 - log(1 + r) / 2 + z^2 r / (2 (1 + r)) + log Phi(z sqrt(r / (1 + r)))
 * It fires at E >= 1 / alpha with alpha = 1 % per configured guardrail (of the family's 5 %),
 * and only once both arms have MIN_SAMPLES samples (and the canary at least min_canary_tasks):
 * costs are heavy-tailed, so no decision on a handful.
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

/** One share group's metric summaries (null: no samples on that arm). */
export interface MetricGroup {
  stable: MetricSummary | null;
  canary: MetricSummary | null;
}

export function checkGuardrail(metric: GuardrailMetric, groups: readonly MetricGroup[], guardrail: Guardrail, minCanaryTasks: number): GuardrailResult | null {
  const k = 1 + guardrail.maxIncrease;
  let total = 0;
  let stableSamples = 0;
  let canarySamples = 0;
  const both: Array<{ s: MetricSummary; c: MetricSummary }> = [];
  for (const g of groups) {
    if (g.stable !== null) stableSamples += g.stable.n;
    if (g.canary !== null) canarySamples += g.canary.n;
    if (g.stable !== null && g.canary !== null) {
      both.push({ s: g.stable, c: g.canary });
      total += g.stable.n + g.canary.n;
    }
  }
  if (both.length === 0) return null;
  let stableMean = 0;
  let canaryMean = 0;
  let v = 0;
  for (const { s, c } of both) {
    const w = (s.n + c.n) / total;
    stableMean += w * metricMean(s);
    canaryMean += w * metricMean(c);
    v += w * w * (metricVariance(c) / c.n + (k * k * metricVariance(s)) / s.n);
  }
  const limit = k * stableMean;
  const base = { metric, stableMean, canaryMean, limit, stableSamples, canarySamples, maxIncrease: guardrail.maxIncrease };
  const enough = stableSamples >= GUARDRAIL_CONSTANTS.minSamples && canarySamples >= Math.max(GUARDRAIL_CONSTANTS.minSamples, minCanaryTasks);
  const d = canaryMean - limit;
  let logEvidence: number;
  if (!(d > 0)) logEvidence = 0;
  else if (v <= 0) logEvidence = Infinity; // no noise at all: the canary is certainly above the limit
  else {
    const z = d / Math.sqrt(v);
    const r = canarySamples / GUARDRAIL_CONSTANTS.mixtureSamples;
    logEvidence = Math.LN2 - 0.5 * Math.log1p(r) + (z * z * r) / (2 * (1 + r)) + Math.log(normalCdf(z * Math.sqrt(r / (1 + r)), 0, 1));
  }
  const breached = enough && logEvidence >= Math.log(1 / GUARDRAIL_CONSTANTS.alpha);
  return { ...base, breached, tested: enough, logEvidence };
}
