/**
 * One-dimensional linear-Gaussian state-space models as batched
 * {@link StateSpaceModel}s, with their locally optimal proposal.
 *
 * The model (parameters {@link LinearGaussian1D}, observations `ys`):
 *
 *     x_0 ~ N(m0, s0^2),  x_t ~ N(a x_{t-1}, q^2),  y_t ~ N(h x_t, r^2)
 *
 * Particles are a tensor `[N]`. Its exact log-likelihood and moments come
 * from {@link kalmanFilter}; it is the standard test bed for particle filters.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../../core/rng.js';
import { linearGaussian1D, type LinearGaussian1D } from './kalman.js';
import type { Proposal, StateSpaceModel } from './statespace.js';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function checkedParams(p: LinearGaussian1D, ys: ArrayLike<number>): Required<LinearGaussian1D> {
  linearGaussian1D(p); // validates the standard deviations
  for (let t = 0; t < ys.length; t++) {
    if (!Number.isFinite(ys[t])) throw new Error(`linear-Gaussian model: observation ${t} is ${ys[t]}`);
  }
  return { a: 1, h: 1, ...p };
}

const scaled = (c: number, x: tf.Tensor): tf.Tensor => (c === 1 ? x : tf.mul(x, c));

/*
 * The densities and draws below are fused by hand (three tensor ops for a
 * log-density, one upload and at most two ops for a draw) rather than built
 * from `Normal`: at 10,000 particles that halves the tensor work per step.
 * The tests check them against the Kalman filter.
 */

/** log N(x; mean, sd^2) elementwise, in three tensor ops. */
function gaussianLogDensity(x: tf.Tensor, mean: tf.Tensor | number, sd: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(tf.squaredDifference(x, mean), -0.5 / (sd * sd)), -Math.log(sd) - HALF_LOG_2PI));
}

/** `n` draws of N(mean, sd^2): the noise is drawn and scaled in JS, uploaded once, and added to a tensor mean. */
function gaussianDraw(mean: tf.Tensor | number, sd: number, n: number, rng: Rng): tf.Tensor {
  const z = new Float32Array(n);
  const m = typeof mean === 'number' ? mean : 0;
  for (let i = 0; i < n; i++) z[i] = m + sd * rng.normal();
  const noise = tf.tensor1d(z);
  if (typeof mean === 'number') return noise;
  const out = tf.add(mean, noise);
  noise.dispose();
  return out;
}

/** The batched state-space model for a 1-D linear-Gaussian model and observations `ys`. */
export function linearGaussianStateSpace(params: LinearGaussian1D, ys: ArrayLike<number>): StateSpaceModel {
  const { m0, s0, a, q, h, r } = checkedParams(params, ys);
  const y = Array.from(ys);
  return {
    length: y.length,
    initial: (n, rng) => gaussianDraw(m0, s0, n, rng),
    initialLogProb: (x) => gaussianLogDensity(x, m0, s0),
    transition: (x, _t, rng) => tf.tidy(() => gaussianDraw(scaled(a, x), q, x.shape[0], rng)),
    transitionLogProb: (xNew, xPrev) => tf.tidy(() => gaussianLogDensity(xNew, scaled(a, xPrev), q)),
    logObservation: (x, t) => tf.tidy(() => gaussianLogDensity(scaled(h, x), y[t], r)),
  };
}

/**
 * The locally optimal proposal p(x_t | x_{t-1}, y_t) of a 1-D linear-Gaussian
 * model (and p(x_0 | y_0) for the first step): with it the incremental weight
 * p(y_t | x_{t-1}) does not depend on the proposed x_t.
 */
export function linearGaussianOptimalProposal(params: LinearGaussian1D, ys: ArrayLike<number>): Proposal {
  const { m0, s0, a, q, h, r } = checkedParams(params, ys);
  const y = Array.from(ys);
  const v = 1 / (1 / q ** 2 + h ** 2 / r ** 2);
  const sd = Math.sqrt(v);
  const v0 = 1 / (1 / s0 ** 2 + h ** 2 / r ** 2);
  const sd0 = Math.sqrt(v0);
  const mean0 = v0 * (m0 / s0 ** 2 + (h * y[0]) / r ** 2);
  // mean_t = v (a x_{t-1} / q^2 + h y_t / r^2)
  const loc = (xPrev: tf.Tensor, t: number): tf.Tensor => tf.add(tf.mul(xPrev, (v * a) / q ** 2), (v * h * y[t]) / r ** 2);
  return {
    initial: {
      sample: (n, rng) => gaussianDraw(mean0, sd0, n, rng),
      logProb: (x) => gaussianLogDensity(x, mean0, sd0),
    },
    sample: (xPrev, t, rng) => tf.tidy(() => gaussianDraw(loc(xPrev, t), sd, xPrev.shape[0], rng)),
    logProb: (xNew, xPrev, t) => tf.tidy(() => gaussianLogDensity(xNew, loc(xPrev, t), sd)),
  };
}
