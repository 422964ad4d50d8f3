/**
 * The settings and outcome every weighted-particle sampler of the steering
 * layer shares (FK steering, Feynman–Kac correctors, the twisted diffusion
 * sampler): how many particles, when and how to resample, the random stream,
 * the abort signal; and the final weighted population with its log Z.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng, Seed } from '../../../core/rng.js';
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
