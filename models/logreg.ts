/**
 * Bayesian logistic regression written with one matrix product:
 * `y_i ~ Bernoulli(logits = alpha + X_i · beta)`, `alpha, beta_j ~ N(0, 5)`.
 * The data are passed as a tensor `X` of shape `[N, D]` and labels `y`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Bernoulli, Independent, Normal, model, ops } from '../src/index.js';
import { matVec } from './linear.js';

/** Logistic regression data: design `X` `[N, D]` and 0/1 labels `y` (length N). */
export interface LogregData {
  readonly X: tf.Tensor2D;
  readonly y: number[];
  /** Prior standard deviation of alpha and beta (default 5). */
  readonly priorSd?: number;
}

/** Latent sites `alpha` and `beta` (length D). */
export const logisticRegression = model(
  async ({ sample, plate }, d: LogregData) => {
    const [n, dim] = d.X.shape;
    const sd = d.priorSd ?? 5;
    const alpha = await sample('alpha', Normal(0, sd));
    const beta = (await sample('beta', Independent(Normal(0, sd).expand([dim]), 1))) as tf.Tensor;
    await plate('data', n, async (_i, p) => {
      await p.observe('y', Bernoulli({ logits: ops.add(alpha, matVec(d.X, beta)) }), d.y);
    });
  },
  { name: 'logistic_regression' },
);
