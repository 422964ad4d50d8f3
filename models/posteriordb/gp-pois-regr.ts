/**
 * posteriordb `gp_pois_regr-gp_pois_regr`: a latent Gaussian process with a
 * Poisson likelihood on the log scale, N = 11, written the plain way (one
 * chain's shapes, Stan's 1e-10 jitter, no compile options):
 *
 * ```stan
 * rho ~ gamma(25, 4); alpha ~ normal(0, 2); f_tilde ~ normal(0, 1);
 * f = cholesky_decompose(gp_exp_quad_cov(x, alpha, rho) + 1e-10 I) * f_tilde;
 * k ~ poisson_log(f);
 * ```
 *
 * In float32 the Cholesky of this nearly singular covariance gives NaN at
 * plausible (alpha, rho); the compiled float64 replay does not.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Gamma, HalfNormal, Normal, Poisson, cholesky, gpExpQuadCov, model } from '../../src/index.js';
import { loadData } from '../data.js';

/** The gp_pois_regr data: counts `k` at points `x`. */
export interface GpPoisRegrData {
  readonly N: number;
  readonly x: number[];
  readonly k: number[];
}

/** The data (posteriordb `gp_pois_regr`). */
export const gpPoisRegrData: GpPoisRegrData = loadData<GpPoisRegrData>('gp_pois_regr');

/** Latent sites `rho`, `alpha` and `f_tilde` (length N). */
export const gpPoisRegr = model(
  async ({ sample, observe }, d: GpPoisRegrData) => {
    const rho = await sample('rho', Gamma(25, 4));
    const alpha = await sample('alpha', HalfNormal(2));
    const fTilde = await sample('f_tilde', Normal(tf.zeros([d.N]), 1));
    const L = cholesky(gpExpQuadCov(d.x, alpha, rho, { jitter: 1e-10 }));
    const f = tf.squeeze(tf.matMul(L, tf.reshape(fTilde, [d.N, 1])), [1]);
    await observe('k', Poisson(tf.exp(f)), d.k);
  },
  { name: 'gp_pois_regr' },
);
