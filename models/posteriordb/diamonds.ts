/**
 * posteriordb `diamonds-diamonds`: brms's Gaussian linear regression of log
 * price on 24 predictors of the ggplot2 diamonds data, N = 5000, written
 * plainly (one chain's shapes):
 *
 * ```stan
 * b ~ normal(0, 1); Intercept ~ student_t(3, 8, 10); sigma ~ student_t(3, 0, 10) T[0, ];
 * Y ~ normal_id_glm(Xc, Intercept, b, sigma);   // Xc: X without its intercept column, centred
 * ```
 *
 * The data ship gzipped (`models/data/diamonds.json.gz`, 0.3 MB).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { HalfStudentT, Normal, StudentT, model } from '../../src/index.js';

/** The diamonds data: `Y` (N), design matrix `X` (N x K, first column the intercept). */
export interface DiamondsData {
  readonly N: number;
  readonly K: number;
  readonly Y: number[];
  readonly X: number[][];
}

/** The data (posteriordb `diamonds`). */
export function diamondsData(): DiamondsData {
  return JSON.parse(gunzipSync(readFileSync(new URL('../data/diamonds.json.gz', import.meta.url))).toString('utf8')) as DiamondsData;
}

/** The model's inputs: centred predictors (Stan's transformed data) and the response, as tensors. */
export interface DiamondsInputs {
  readonly Xc: tf.Tensor2D;
  readonly Y: tf.Tensor1D;
}

/** Centre the predictor columns (2..K) as the brms model's transformed data does. */
export function diamondsInputs(d: DiamondsData): DiamondsInputs {
  const k = d.K - 1;
  const means = new Float64Array(k);
  for (const row of d.X) for (let j = 0; j < k; j++) means[j]! += row[j + 1]! / d.N;
  const xc = new Float32Array(d.N * k);
  d.X.forEach((row, i) => {
    for (let j = 0; j < k; j++) xc[i * k + j] = row[j + 1]! - means[j]!;
  });
  return { Xc: tf.tensor2d(xc, [d.N, k]), Y: tf.tensor1d(d.Y) };
}

/** Latent sites `b` (24), `Intercept` and `sigma`. */
export const diamonds = model(
  async ({ sample, observe }, d: DiamondsInputs) => {
    const k = d.Xc.shape[1];
    const b = await sample('b', Normal(tf.zeros([k]), 1));
    const intercept = await sample('Intercept', StudentT(3, 8, 10));
    const sigma = await sample('sigma', HalfStudentT(3, 10));
    const mu = tf.add(intercept, tf.squeeze(tf.matMul(d.Xc, tf.reshape(b, [k, 1])), [1]));
    await observe('Y', Normal(mu, sigma), d.Y);
  },
  { name: 'diamonds' },
);
