/**
 * posteriordb `gp_pois_regr-gp_regr`: Gaussian-process regression on 11
 * points with an exponentiated-quadratic kernel, written as the Stan model is:
 *
 * ```stan
 * matrix[N, N] cov = gp_exp_quad_cov(x, alpha, rho) + diag_matrix(rep_vector(sigma, N));
 * matrix[N, N] L_cov = cholesky_decompose(cov);
 * rho ~ gamma(25, 4);  alpha ~ normal(0, 2);  sigma ~ normal(0, 1);      // all >= 0
 * y ~ multi_normal_cholesky(rep_vector(0, N), L_cov);
 * ```
 *
 * (Stan adds `sigma`, not `sigma^2`, to the diagonal; so does this.)
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Gamma, HalfNormal, MultivariateNormal, cholesky, gpExpQuadCov, model } from '../../src/index.js';
import { loadData } from '../data.js';

/** The gp_pois_regr data (the columns gp_regr uses). */
export interface GpRegrData {
  readonly N: number;
  readonly x: number[];
  readonly y: number[];
}

/** The data (posteriordb `gp_pois_regr`). */
export const gpRegrData: GpRegrData = loadData<GpRegrData>('gp_pois_regr');

/** Latent `rho`, `alpha`, `sigma`. */
export const gpRegr = model(
  async ({ sample, observe }, d: GpRegrData) => {
    const rho = await sample('rho', Gamma(25, 4));
    const alpha = await sample('alpha', HalfNormal(2));
    const sigma = await sample('sigma', HalfNormal(1));
    const cov = tf.add(gpExpQuadCov(d.x, alpha, rho), tf.mul(sigma, tf.eye(d.N)));
    const L = cholesky(cov);
    await observe('y', MultivariateNormal(tf.zeros([d.N]), { scaleTril: L }), d.y);
  },
  { name: 'gp_regr' },
);
