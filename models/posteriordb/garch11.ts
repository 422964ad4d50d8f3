/**
 * posteriordb `garch-garch11`: a GARCH(1,1) volatility model on T = 200
 * simulated returns (Stan benchmark suite):
 *
 * ```stan
 * real mu;  real<lower=0> alpha0;  real<lower=0, upper=1> alpha1;
 * real<lower=0, upper=(1 - alpha1)> beta1;          // no prior statements
 * sigma[1] = sigma1;
 * sigma[t] = sqrt(alpha0 + alpha1 * square(y[t - 1] - mu) + beta1 * square(sigma[t - 1]));
 * y ~ normal(mu, sigma);
 * ```
 *
 * Written for one chain, the way a Stan user would: each parameter is a
 * `Flat` density on its declared support (`beta1`'s upper bound depends on
 * `alpha1`, as in Stan: flat on (0, 1 - alpha1), not a normalised uniform),
 * and the volatility recursion is a plain loop over time.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Flat, Normal, model } from '../../src/index.js';
import { loadData } from '../data.js';

/** The garch data. */
export interface GarchData {
  readonly T: number;
  readonly y: number[];
  /** The volatility at the first time. */
  readonly sigma1: number;
}

/** The data (posteriordb `garch`). */
export const garchData: GarchData = loadData<GarchData>('garch');

/** Latent sites `mu`, `alpha0`, `alpha1` and `beta1` (below `1 - alpha1`). */
export const garch11 = model(
  async ({ sample, observe }, d: GarchData) => {
    const mu = await sample('mu', Flat());
    const alpha0 = await sample('alpha0', Flat({ low: 0 }));
    const alpha1 = await sample('alpha1', Flat({ low: 0, high: 1 }));
    const beta1 = await sample('beta1', Flat({ low: 0, high: tf.sub(1, alpha1) }));
    const sigma: tf.Tensor[] = [tf.scalar(d.sigma1)];
    for (let t = 1; t < d.T; t++) {
      const prev = sigma[t - 1]!;
      sigma.push(tf.sqrt(tf.add(alpha0, tf.add(tf.mul(alpha1, tf.square(tf.sub(d.y[t - 1]!, mu))), tf.mul(beta1, tf.square(prev))))));
    }
    await observe('y', Normal(mu, tf.stack(sigma)), tf.tensor1d(d.y));
  },
  { name: 'garch11' },
);
