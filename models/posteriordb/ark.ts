/**
 * posteriordb `arK-arK`: an autoregressive model of order K = 5 on T = 200
 * observations, `y_t ~ N(alpha + sum_k beta_k y_(t-k), sigma)` for t > K,
 * with `alpha, beta_k ~ N(0, 10)` and `sigma ~ HalfCauchy(2.5)`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { HalfCauchy, Independent, Normal, model, ops } from '../../src/index.js';
import { loadData } from '../data.js';
import { matVec } from '../linear.js';

/** The arK data: order K, length T, series y. */
export interface ArKData {
  readonly K: number;
  readonly T: number;
  readonly y: number[];
}

/** The arK data (posteriordb `arK`). */
export const arKData: ArKData = loadData<ArKData>('arK');

/** The lagged design: row t - K holds y_(t-1), ..., y_(t-K) for t = K .. T-1 (0-based), and the responses. */
export function arKDesign(d: ArKData): { lags: number[][]; response: number[] } {
  const lags: number[][] = [];
  const response: number[] = [];
  for (let t = d.K; t < d.T; t++) {
    lags.push(Array.from({ length: d.K }, (_, k) => d.y[t - k - 1]));
    response.push(d.y[t]);
  }
  return { lags, response };
}

/** Latent sites `alpha`, `beta` (length K) and `sigma`. Arguments: the data and its design (see {@link arKDesign}). */
export const arK = model(
  async ({ sample, plate }, d: ArKData, design: { lags: tf.Tensor2D; response: number[] }) => {
    const alpha = await sample('alpha', Normal(0, 10));
    const beta = (await sample('beta', Independent(Normal(0, 10).expand([d.K]), 1))) as tf.Tensor;
    const sigma = await sample('sigma', HalfCauchy(2.5));
    await plate('time', d.T - d.K, async (_i, p) => {
      await p.observe('y', Normal(ops.add(alpha, matVec(design.lags, beta)), sigma), design.response);
    });
  },
  { name: 'arK' },
);
