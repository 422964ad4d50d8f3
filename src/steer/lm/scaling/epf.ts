/**
 * Entropic annealing of entropic particle filtering (ePF; Giannone et al.,
 * "Mitigating Premature Exploitation in Particle-based Monte Carlo for
 * Inference-Time Scaling", 2025): in the early phase of a run, when the
 * particle weights have collapsed (ESS/N below a threshold), resample from
 * `softmax(log w / T)` with a temperature T ≥ 1 chosen by a schedule, so that
 * an overconfident early reward does not wipe out the population. Outside the
 * early phase, and for the final selection, T = 1.
 *
 * The three schedules, with progress p = t / maxSteps (the formulas of the
 * paper's reference implementation in its_hub):
 * - `'ess'`: T = max(1, (N / ESS) · (1 - p));
 * - `'entropy'`: T = max(1, 1 / (H + (1 - H) · p)), H the weights' entropy
 *   divided by log N;
 * - `'base'`: T = max(1, maxTemperature - p).
 *
 * The paper's second device, look-ahead modulation (a "predictive guide" that
 * scores a state by its successors), is not implemented: neither the paper's
 * text available here nor its reference implementation (which raises "not
 * implemented") defines it.
 *
 * @module
 */
import type { TemperContext, TemperSchedule } from '../../../infer/smc/core.js';

/** Which temperature schedule. */
export type TemperatureSchedule = 'ess' | 'entropy' | 'base';

/** Options of entropic annealing. */
export interface EntropicAnnealing {
  /** The schedule (default `'ess'`). */
  readonly schedule?: TemperatureSchedule;
  /** Anneal only when ESS/N is below this (default 0.5). */
  readonly essThreshold?: number;
  /** Anneal only while progress t / maxSteps is below this (default 0.5). */
  readonly earlyPhase?: number;
  /** The base schedule's maximum temperature (default 2). */
  readonly maxTemperature?: number;
}

/** T of the ESS schedule: max(1, (1 / essRatio) · (1 - progress)). */
export function essTemperature(essRatio: number, progress: number): number {
  if (!(essRatio > 0)) return 1;
  return Math.max(1, (1 - progress) / essRatio);
}

/** T of the entropy schedule: max(1, 1 / (H + (1 - H) · progress)), H the normalised entropy in [0, 1]. */
export function entropyTemperature(normalisedEntropy: number, progress: number): number {
  const beta = normalisedEntropy + (1 - normalisedEntropy) * progress;
  return beta > 0 ? Math.max(1, 1 / beta) : Infinity;
}

/** T of the base schedule: max(1, maxTemperature - progress). */
export function baseTemperature(maxTemperature: number, progress: number): number {
  return Math.max(1, maxTemperature - progress);
}

/** Entropy of normalised weights divided by log N (1 for equal weights, 0 for one particle holding all). */
export function normalisedEntropy(weights: ArrayLike<number>): number {
  const n = weights.length;
  if (n < 2) return 1;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    if (w > 0) h -= w * Math.log(w);
  }
  return h / Math.log(n);
}

function checkAnnealing(a: EntropicAnnealing): Required<EntropicAnnealing> {
  const o = { schedule: a.schedule ?? 'ess', essThreshold: a.essThreshold ?? 0.5, earlyPhase: a.earlyPhase ?? 0.5, maxTemperature: a.maxTemperature ?? 2 };
  if (!['ess', 'entropy', 'base'].includes(o.schedule)) throw new Error(`entropic annealing: schedule must be 'ess', 'entropy' or 'base', got ${String(o.schedule)}`);
  if (!(o.essThreshold >= 0 && o.essThreshold <= 1)) throw new Error(`entropic annealing: essThreshold must lie in [0, 1], got ${o.essThreshold}`);
  if (!(o.earlyPhase >= 0 && o.earlyPhase <= 1)) throw new Error(`entropic annealing: earlyPhase must lie in [0, 1], got ${o.earlyPhase}`);
  if (!(o.maxTemperature >= 1)) throw new Error(`entropic annealing: maxTemperature must be at least 1, got ${o.maxTemperature}`);
  return o;
}

/**
 * The resampling temperature at step `t` of `maxSteps` for normalised weights
 * `weights` (1 outside the early phase or while ESS/N ≥ the threshold).
 */
export function annealingTemperature(annealing: EntropicAnnealing, weights: ArrayLike<number>, t: number, maxSteps: number): number {
  const a = checkAnnealing(annealing);
  const n = weights.length;
  if (n < 2) return 1;
  let s2 = 0;
  for (let i = 0; i < n; i++) s2 += weights[i] * weights[i];
  const essRatio = 1 / s2 / n;
  const progress = t / maxSteps;
  if (!(essRatio < a.essThreshold && progress < a.earlyPhase)) return 1;
  switch (a.schedule) {
    case 'ess':
      return essTemperature(essRatio, progress);
    case 'entropy':
      return entropyTemperature(normalisedEntropy(weights), progress);
    default:
      return baseTemperature(a.maxTemperature, progress);
  }
}

/** The schedule as the particle core's tempered-resampling exponent alpha = 1 / T. */
export function annealingSchedule(annealing: EntropicAnnealing, maxSteps: number, onTemperature?: (t: number, temperature: number) => void): TemperSchedule {
  checkAnnealing(annealing);
  return (ctx: TemperContext) => {
    const T = annealingTemperature(annealing, ctx.weights, ctx.t, maxSteps);
    onTemperature?.(ctx.t, T);
    return 1 / T;
  };
}
