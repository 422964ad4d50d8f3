/**
 * posteriordb `low_dim_gauss_mix-low_dim_gauss_mix`: a two-component normal
 * mixture with ordered means, N = 1000:
 * `y_n ~ theta N(mu_1, sigma_1) + (1 - theta) N(mu_2, sigma_2)`,
 * `mu` ordered with `N(0, 2)` densities, `sigma_k ~ HalfNormal(2)`,
 * `theta ~ Beta(5, 5)`. The component labels are marginalised (a factor per
 * observation), so every latent site is continuous.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Beta, HalfNormal, Independent, Normal, model, ops } from '../../src/index.js';
import { loadData } from '../data.js';
import { components } from '../linear.js';
import { OrderedNormal } from '../unnormalized.js';

/** The mixture data. */
export interface GaussMixData {
  readonly N: number;
  readonly y: number[];
}

/** The mixture data (posteriordb `low_dim_gauss_mix`). */
export const gaussMixData: GaussMixData = loadData<GaussMixData>('low_dim_gauss_mix');

/** Latent sites `mu` (ordered, length 2), `sigma` (length 2) and `theta`. */
export const lowDimGaussMix = model(
  async ({ sample, plate, factor }, d: GaussMixData) => {
    const mu = (await sample('mu', OrderedNormal(2, 0, 2))) as tf.Tensor;
    const sigma = (await sample('sigma', Independent(HalfNormal(2).expand([2]), 1))) as tf.Tensor;
    const theta = await sample('theta', Beta(5, 5));
    const [mu1, mu2] = components(mu);
    const [s1, s2] = components(sigma);
    await plate('obs', d.N, async () => {
      const lp1 = ops.add(ops.log(theta), Normal(mu1, s1).logProb(ops.toValue(d.y)));
      const lp2 = ops.add(ops.log1p(ops.neg(theta)), Normal(mu2, s2).logProb(ops.toValue(d.y)));
      await factor('y', ops.logAddExp(lp1, lp2));
    });
  },
  { name: 'low_dim_gauss_mix' },
);
