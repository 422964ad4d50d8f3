/**
 * GARCH(1,1) volatilities written the plain way, for one chain: scalar
 * parameters, a loop over the series and a stack (no batch helpers). Used by
 * the vectorised-chains test and bench: the model runs as vectorised chains
 * by replaying its single-chain record.
 */
import * as tf from '@tensorflow/tfjs-core';
import { HalfNormal, Normal, Uniform, model } from '../src/index.js';

/** y_t ~ Normal(mu, sigma_t), sigma_t^2 = a0 + a1 (y_{t-1} - mu)^2 + b1 sigma_{t-1}^2, sigma_0 = 1. */
export const garch = model(async ({ sample, observe }, y: number[]) => {
  const mu = await sample('mu', Normal(0, 1));
  const a0 = await sample('a0', HalfNormal(1));
  const a1 = await sample('a1', Uniform(0, 1));
  const b1 = await sample('b1', Uniform(0, 1));
  let s2: tf.Tensor = tf.scalar(1);
  const sigma: tf.Tensor[] = [];
  for (const yt of y) {
    sigma.push(tf.sqrt(s2));
    s2 = tf.add(a0, tf.add(tf.mul(a1, tf.square(tf.sub(yt, mu))), tf.mul(b1, s2)));
  }
  await observe('y', Normal(mu, tf.stack(sigma)), tf.tensor1d(y));
});
