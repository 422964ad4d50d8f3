/**
 * A hierarchical linear regression with more than 100 parameters, written
 * the plain way (one chain's shapes): varying intercepts for J groups
 * (non-centred, `z`), K shared slopes on predictors that are not centred,
 * and a noise scale:
 *
 *   y_i ~ Normal(mu + tau z[g_i] + x_i . beta, sigma),
 *   mu ~ N(0, 10), beta ~ N(0, 5), tau ~ HalfNormal(2), sigma ~ HalfNormal(2), z ~ N(0, 1).
 *
 * With uncentred predictors (means around 2) the intercept and the slopes
 * are strongly correlated, and with few rows per group the intercept and
 * the sum of the group effects are too: a posterior with a few strong
 * directions in J + K + 3 dimensions (the low-rank metric's use case,
 * bench/metric-lowrank.ts). The data are generated from a fixed seed.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../src/core/rng.js';
import { HalfNormal, Normal, model } from '../src/index.js';

/** The regression's data: a design matrix, group index per row, and response. */
export interface HierarchicalData {
  readonly J: number;
  readonly K: number;
  /** Rows x K predictors. */
  readonly x: tf.Tensor2D;
  /** Rows x J one-hot group membership (a product with it spreads the group effects over the rows; tfjs-wasm has no gradient for a gather). */
  readonly groups: tf.Tensor2D;
  readonly y: tf.Tensor1D;
}

/**
 * Generated data: `J` groups of `perGroup` rows, `K` predictors with means
 * near 2, true mu = 1, beta = (0.5, -0.3, ...), tau = 0.7, sigma = 1.
 */
export function hierarchicalData(J = 100, perGroup = 4, K = 4, seed = 17): HierarchicalData {
  const rng = new Rng(seed);
  const n = J * perGroup;
  const beta = Array.from({ length: K }, (_, k) => (k % 2 === 0 ? 0.5 : -0.3) / (1 + k));
  const alpha = Array.from({ length: J }, () => 0.7 * rng.normal());
  const x: number[] = [];
  const groups = new Float32Array(n * J);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const j = Math.floor(i / perGroup);
    let m = 1 + alpha[j]!;
    for (let k = 0; k < K; k++) {
      const v = 2 + 0.5 * rng.normal();
      x.push(v);
      m += v * beta[k]!;
    }
    groups[i * J + j] = 1;
    y.push(m + rng.normal());
  }
  return { J, K, x: tf.tensor2d(x, [n, K]), groups: tf.tensor2d(groups, [n, J]), y: tf.tensor1d(y) };
}

/** Latent sites `mu`, `beta` (K), `tau`, `sigma`, `z` (J): J + K + 3 unconstrained coordinates. */
export const hierarchicalRegression = model(
  async ({ sample, observe }, d: HierarchicalData) => {
    const mu = await sample('mu', Normal(0, 10));
    const beta = await sample('beta', Normal(tf.zeros([d.K]), 5));
    const tau = await sample('tau', HalfNormal(2));
    const sigma = await sample('sigma', HalfNormal(2));
    const z = await sample('z', Normal(tf.zeros([d.J]), 1));
    const effect = tf.squeeze(tf.matMul(d.groups, tf.reshape(tf.mul(tau, z), [d.J, 1])), [1]);
    const mean = tf.add(tf.add(mu, effect), tf.squeeze(tf.matMul(d.x, tf.reshape(beta, [d.K, 1])), [1]));
    await observe('y', Normal(mean, sigma), d.y);
  },
  { name: 'hierarchical-regression' },
);
