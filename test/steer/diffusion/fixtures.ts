/** Shared set-up of the diffusion tests: the mixture, the schedules and planted bugs. */
import * as tf from '@tensorflow/tfjs-core';
import * as D from '../../../src/steer/diffusion/index.js';
import type { WeightedRun } from '../../../src/testing/weighted-runs.js';

/** A labelled 2-D mixture with unequal weights and full covariances. */
export const MIX = new D.GaussianMixture([
  { weight: 0.5, mean: [-2, 0], covariance: [[0.5, 0.2], [0.2, 0.3]], label: 0 },
  { weight: 0.3, mean: [2, 1], covariance: [0.2, 0.6], label: 1 },
  { weight: 0.2, mean: [0, -2.5], covariance: 0.25, label: 1 },
]);

/** One schedule of each family. */
export const SCHEDULES = {
  vp: D.vpLinear(),
  cosine: D.vpCosine(),
  ve: D.veGeometric({ sigmaMin: 0.01, sigmaMax: 20 }),
  interpolant: D.linearInterpolant(),
} as const;

/** max |a - b|. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Planted bug: DDPM whose posterior mean weights x_t by alpha_{t|s} instead of alpha_{t|s} sigma_s^2 / sigma_t^2. */
export function ddpmWrongPosterior(): D.Sampler {
  const good = D.ddpm();
  return {
    name: 'ddpm-wrong-posterior',
    stochastic: true,
    async kernel(input) {
      const k = await good.kernel(input);
      const sch = input.model.schedule;
      const ats = sch.alpha(input.t) / sch.alpha(input.s);
      const right = (ats * sch.sigma(input.s) ** 2) / sch.sigma(input.t) ** 2;
      const mean = tf.tidy(() => tf.add(k.mean, tf.mul(input.x, ats - right)));
      k.mean.dispose();
      return { ...k, mean };
    },
  };
}

/** Root-mean-square error over runs of each run's weighted mean of 2-D points against `mu`. */
export function weightedMeanRmse(runs: readonly WeightedRun[], mu: readonly number[]): number {
  let e = 0;
  for (const run of runs) {
    let w = 0;
    const m = [0, 0];
    for (let i = 0; i < run.weights.length; i++) {
      w += run.weights[i]!;
      m[0]! += run.weights[i]! * run.x[2 * i]!;
      m[1]! += run.weights[i]! * run.x[2 * i + 1]!;
    }
    e += ((m[0]! / w - mu[0]!) ** 2 + (m[1]! / w - mu[1]!) ** 2) / runs.length;
  }
  return Math.sqrt(e);
}
