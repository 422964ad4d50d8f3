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
