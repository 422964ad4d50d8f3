/**
 * The settings and outcome every weighted-particle sampler of the steering
 * layer shares (FK steering, Feynman–Kac correctors, the twisted diffusion
 * sampler): how many particles, when and how to resample, the random stream,
 * the abort signal; and the final weighted population with its log Z.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type Rng, rngFrom, type Seed } from '../../../core/rng.js';
import type { ResamplingScheme, Resampler } from '../../../infer/smc/resampling.js';

/** Particle settings of a steered sampling run. */
export interface ParticleRunOptions {
  /** Number of particles k. */
  readonly particles: number;
  /** Resample when ESS < essThreshold · k (default 0.5; 1 = every potential step, 0 = never: importance sampling). */
  readonly essThreshold?: number;
  /** Resampling scheme (default systematic). */
  readonly resampling?: ResamplingScheme | Resampler;
  readonly seed?: Seed;
  readonly rng?: Rng;
  /** Stops the run before the next step (within one step); the reason is thrown. */
  readonly signal?: AbortSignal;
}

/** The weighted population a steered sampling run ends with. */
export interface ParticleRunResult {
  /** Final particles `[k, ...eventShape]` (the caller owns them). */
  readonly x: tf.Tensor;
  /** Final normalised log-weights (log space; never NaN). */
  readonly logWeights: Float64Array;
  /** Final normalised weights. */
  readonly weights: Float64Array;
  /** ESS after each step (the last is the final weights' ESS). */
  readonly essHistory: number[];
  /** log of the estimated normaliser of the target relative to the base sampler's (exp of it is unbiased). */
  readonly logZ: number;
  /** Steps before which the population was resampled. */
  readonly resampledAt: number[];
  /** Network evaluations per particle. */
  readonly evaluations: number;
}

/**
 * The accumulated log-weight variance (nat²) above which twisted diffusion
 * warns that its twist misleads. Measured on a labelled Gaussian mixture, 256
 * particles: TDS with the exact noise-aware twist p(y | x_t) accumulates
 * 0.02–0.8 (20–200 steps) and gives log Ẑ right; the x0-prediction twist
 * 19–930 (class likelihood) and 3.6–2600 (inpainting, σ = 0.3), with Ẑ
 * 0.08–0.16 against 0.5 and 0.001–0.008 against 0.30. Not a limit for FK
 * steering, whose potentials are not approximations of the optimal twist:
 * healthy runs there accumulate 1–15 (λ 0.5–3, log Ẑ within 0.2 of exact).
 */
export const WEIGHT_VARIANCE_LIMIT = 1;

/**
 * How far a run's weights spread: Σ over steps of the variance (over live
 * particles) of the step's log-weight increments, and the worst step. Near 0
 * for the optimal twist; large when the twist misleads and the weights are
 * heavy-tailed (log Ẑ then falls far below log Z while the ESS of the drawn
 * weights looks healthy).
 */
export interface WeightSpread {
  logWeightVariance: number;
  worstStep?: { step: number; t: number; variance: number };
}

/** Add one step's log-weight increments to `spread` (non-finite ones, dead particles, left out). */
export function addIncrementVariance(spread: WeightSpread, inc: ArrayLike<number>, step: number, t: number): void {
  let m = 0;
  let live = 0;
  for (let j = 0; j < inc.length; j++) if (Number.isFinite(inc[j]!)) (m += inc[j]!), live++;
  if (live < 2) return;
  m /= live;
  let v = 0;
  for (let j = 0; j < inc.length; j++) if (Number.isFinite(inc[j]!)) v += (inc[j]! - m) ** 2;
  v /= live;
  spread.logWeightVariance += v;
  if (!spread.worstStep || v > spread.worstStep.variance) spread.worstStep = { step, t, variance: v };
}

/** The warning of a run whose weights spread more than {@link WEIGHT_VARIANCE_LIMIT} (none otherwise). */
export function weightSpreadWarning(who: string, what: string, spread: WeightSpread, particles: number): string[] {
  const V = spread.logWeightVariance;
  if (!(V > WEIGHT_VARIANCE_LIMIT) || particles < 2) return [];
  const w = spread.worstStep;
  return [
    `${who}: ${what} is far from the optimal twist: the steps' log-weight increments accumulate a variance of ${V.toPrecision(3)} nat² (above ${WEIGHT_VARIANCE_LIMIT}; largest at step ${w?.step}, t = ${w?.t.toPrecision(3)}), so the weights are heavy-tailed and log Z and the weighted draws are likely biased low at any particle count you can afford, though the ESS may look healthy ` +
      `(TDS's x0-prediction twist of a sharp likelihood gave Ẑ 0.001–0.008 against 0.30). Soften the potential or the likelihood, use a noise-aware twist, and check log Z by importance sampling of the plain sampler.`,
  ];
}

/** The `runSMC` settings a {@link ParticleRunOptions} gives (the random stream from `rng`, else `seed`, else 0; no genealogy). */
export function smcSettings(options: ParticleRunOptions) {
  return {
    particles: options.particles,
    essThreshold: options.essThreshold,
    resampling: options.resampling,
    rng: options.rng ?? rngFrom(options.seed ?? 0),
    signal: options.signal,
    genealogy: false,
  } as const;
}

/** The {@link ParticleRunResult} of a finished run whose state holds the particles as `x`. */
export function particleRunResult(
  res: { readonly state: { readonly x: tf.Tensor }; readonly logWeights: Float64Array; readonly weights: Float64Array; readonly essHistory: number[]; readonly logZ: number; readonly resampledAt: number[] },
  evaluations: number,
): ParticleRunResult {
  return { x: res.state.x, logWeights: res.logWeights, weights: res.weights, essHistory: res.essHistory, logZ: res.logZ, resampledAt: res.resampledAt, evaluations };
}
