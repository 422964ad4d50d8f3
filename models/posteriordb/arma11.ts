/**
 * posteriordb `arma-arma11`: an ARMA(1,1) model of T = 200 simulated
 * observations (Stan benchmark suite):
 *
 * ```stan
 * mu ~ normal(0, 10);  phi ~ normal(0, 2);  theta ~ normal(0, 2);
 * sigma ~ cauchy(0, 2.5);                       // real<lower=0> sigma
 * nu[1] = mu + phi * mu;  err[1] = y[1] - nu[1];  // err[0] = 0
 * nu[t] = mu + phi * y[t - 1] + theta * err[t - 1];  err[t] = y[t] - nu[t];
 * err ~ normal(0, sigma);
 * ```
 *
 * Written for one chain, as a Stan user would: the errors by a plain loop
 * over time, and `y` observed around the one-step predictions `nu` (the
 * same density as Stan's `err ~ normal(0, sigma)`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { HalfCauchy, Normal, model } from '../../src/index.js';
import { loadData } from '../data.js';

/** The arma data. */
export interface ArmaData {
  readonly T: number;
  readonly y: number[];
}

/** The data (posteriordb `arma`). */
export const armaData: ArmaData = loadData<ArmaData>('arma');

/** Latent sites `mu`, `phi`, `theta` and `sigma`. */
export const arma11 = model(
  async ({ sample, observe }, d: ArmaData) => {
    const mu = await sample('mu', Normal(0, 10));
    const phi = await sample('phi', Normal(0, 2));
    const theta = await sample('theta', Normal(0, 2));
    const sigma = await sample('sigma', HalfCauchy(2.5));
    const nu: tf.Tensor[] = [tf.add(mu, tf.mul(phi, mu))];
    let err = tf.sub(d.y[0]!, nu[0]!);
    for (let t = 1; t < d.T; t++) {
      nu.push(tf.add(mu, tf.add(tf.mul(phi, d.y[t - 1]!), tf.mul(theta, err))));
      err = tf.sub(d.y[t]!, nu[t]!);
    }
    await observe('y', Normal(tf.stack(nu), sigma), tf.tensor1d(d.y));
  },
  { name: 'arma11' },
);
