/**
 * posteriordb `kilpisjarvi_mod-kilpisjarvi`: a linear trend of the summer
 * mean temperature at Kilpisjärvi (Finland) on the year, N = 62, with priors
 * set from the data:
 *
 * ```stan
 * alpha ~ normal(pmualpha, psalpha);  beta ~ normal(pmubeta, psbeta);
 * real<lower=0> sigma;                           // no prior statement
 * y ~ normal(alpha + beta * x, sigma);
 * ```
 *
 * The years are not centred (x is about 3980), so `alpha` and `beta` are
 * correlated at about -0.99999: a hard geometry for a diagonal metric, and
 * `alpha + beta * x` is a difference of two large numbers in float32.
 * Written for one chain, as a Stan user would.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Flat, Normal, model } from '../../src/index.js';
import { loadData } from '../data.js';

/** The kilpisjarvi_mod data. */
export interface KilpisjarviData {
  readonly N: number;
  readonly x: number[];
  readonly y: number[];
  readonly xpred: number;
  readonly pmualpha: number;
  readonly psalpha: number;
  readonly pmubeta: number;
  readonly psbeta: number;
}

/** The data (posteriordb `kilpisjarvi_mod`). */
export const kilpisjarviData: KilpisjarviData = loadData<KilpisjarviData>('kilpisjarvi_mod');

/** Latent sites `alpha`, `beta` and `sigma`. */
export const kilpisjarvi = model(
  async ({ sample, observe }, d: KilpisjarviData) => {
    const alpha = await sample('alpha', Normal(d.pmualpha, d.psalpha));
    const beta = await sample('beta', Normal(d.pmubeta, d.psbeta));
    const sigma = await sample('sigma', Flat({ low: 0 }));
    await observe('y', Normal(tf.add(alpha, tf.mul(beta, tf.tensor1d(d.x))), sigma), tf.tensor1d(d.y));
  },
  { name: 'kilpisjarvi' },
);
