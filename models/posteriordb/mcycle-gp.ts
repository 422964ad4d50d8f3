/**
 * posteriordb `mcycle_gp-accel_gp`: head acceleration in simulated
 * motorcycle crashes (N = 133) with a heteroscedastic Gaussian process (brms
 * 2.10 `gp(times, k = 40, c = 5/4)` for the mean and `k = 20` for the log
 * sd), both approximated by Hilbert-space basis functions:
 *
 * ```stan
 * diag_spd = sqrt(sdgp^2 * sqrt(2 pi) * lscale * exp(-0.5 lscale^2 slambda^2));
 * mu = Intercept + Xgp_1 * (diag_spd_1 .* zgp_1);
 * sigma = exp(Intercept_sigma + Xgp_sigma_1 * (diag_spd_sigma .* zgp_sigma_1));
 * Intercept ~ student_t(3, -13, 36);  Intercept_sigma ~ student_t(3, 0, 10);
 * sdgp ~ student_t(3, 0, 36) (on > 0, normalised);  lscale ~ inv_gamma(1.124909, 0.0177);
 * zgp ~ normal(0, 1);  Y ~ normal(mu, sigma);
 * ```
 *
 * Written for one chain, as a Stan user would write it.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { HalfStudentT, Independent, InverseGamma, Normal, StudentT, linalg, model } from '../../src/index.js';

/** The mcycle_gp data (the columns accel_gp uses). */
export interface McycleGpData {
  readonly N: number;
  /** Head acceleration (g). */
  readonly Y: number[];
  readonly NBgp_1: number;
  /** Basis functions of the mean's GP at the times, `[N, NBgp_1]`. */
  readonly Xgp_1: number[][];
  /** Square roots of the basis eigenvalues. */
  readonly slambda_1: number[];
  readonly NBgp_sigma_1: number;
  /** Basis functions of the log-sd's GP, `[N, NBgp_sigma_1]`. */
  readonly Xgp_sigma_1: number[][];
  readonly slambda_sigma_1: number[];
}

/** The data (posteriordb `mcycle_gp`; gzipped JSON, constant columns dropped). */
export const mcycleGpData: McycleGpData = JSON.parse(gunzipSync(readFileSync(new URL('../data/mcycle_gp.json.gz', import.meta.url))).toString('utf8')) as McycleGpData;

/** Square root of the exponentiated-quadratic spectral density at `slambda` (Stan's `sqrt(spd_cov_exp_quad(...))`, D = 1). */
function sqrtSpd(slambda: number[], sdgp: tf.Tensor | number, lscale: tf.Tensor | number): tf.Tensor {
  const constant = tf.mul(tf.square(sdgp), tf.mul(Math.sqrt(2 * Math.PI), lscale));
  const s2 = tf.tensor1d(slambda.map((s) => s * s));
  return tf.sqrt(tf.mul(constant, tf.exp(tf.mul(tf.mul(-0.5, tf.square(lscale)), s2))));
}

/**
 * Latent `Intercept`, `sdgp_1`, `lscale_1`, `zgp_1` (40), `Intercept_sigma`,
 * `sdgp_sigma_1`, `lscale_sigma_1`, `zgp_sigma_1` (20), Stan's names.
 */
export const accelGp = model(
  async ({ sample, observe }, d: McycleGpData) => {
    const intercept = await sample('Intercept', StudentT(3, -13, 36));
    const sdgp = await sample('sdgp_1', HalfStudentT(3, 36));
    const lscale = await sample('lscale_1', InverseGamma(1.124909, 0.0177));
    const zgp = await sample('zgp_1', Independent(Normal(0, 1).expand([d.NBgp_1]), 1));
    const interceptSigma = await sample('Intercept_sigma', StudentT(3, 0, 10));
    const sdgpSigma = await sample('sdgp_sigma_1', HalfStudentT(3, 36));
    const lscaleSigma = await sample('lscale_sigma_1', InverseGamma(1.124909, 0.0177));
    const zgpSigma = await sample('zgp_sigma_1', Independent(Normal(0, 1).expand([d.NBgp_sigma_1]), 1));

    const mu = tf.add(intercept, linalg.matVec(d.Xgp_1, tf.mul(sqrtSpd(d.slambda_1, sdgp, lscale), zgp)));
    const sigma = tf.exp(tf.add(interceptSigma, linalg.matVec(d.Xgp_sigma_1, tf.mul(sqrtSpd(d.slambda_sigma_1, sdgpSigma, lscaleSigma), zgpSigma))));
    await observe('Y', Normal(mu, sigma), d.Y);
  },
  { name: 'accel_gp' },
);
