/**
 * posteriordb `bball_drive_event_0-hmm_drive_0`: a two-state hidden Markov
 * model of a basketball player's drives (state 1: none, state 2: drive) with
 * exponential emissions for 1/speed (`u`) and hoop distance (`v`), N = 416.
 * The hidden states are summed out by the forward algorithm, as in the Stan
 * program:
 *
 * ```stan
 * simplex[K] theta1;  simplex[K] theta2;        // transition rows, dirichlet(alpha[k])
 * positive_ordered[K] phi;  positive_ordered[K] lambda;
 * phi[1] ~ normal(0, 1);  phi[2] ~ normal(3, 1);   // as target += (no truncation term)
 * gamma[t, k] = log_sum_exp_j(gamma[t-1, j] + log(theta[j, k]))
 *               + exponential_lpdf(u[t] | phi[k]) + exponential_lpdf(v[t] | lambda[k]);
 * target += log_sum_exp(gamma[N]);
 * ```
 *
 * Written for one chain, the way a Stan user would: `positive_ordered[2]` is
 * a first element above 0 and a second above the first (flat densities on
 * those supports, so the normal terms enter as factors, unnormalised as in
 * Stan), and the forward recursion is a plain loop over time.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Dirichlet, Exponential, Flat, Normal, model, ops } from '../../src/index.js';
import { loadData } from '../data.js';

/** The bball_drive_event_0 data. */
export interface HmmDriveData {
  readonly K: number;
  readonly N: number;
  /** 1/speed at each time. */
  readonly u: number[];
  /** Distance to the hoop at each time. */
  readonly v: number[];
  /** Dirichlet concentrations of the transition rows, `[K, K]`. */
  readonly alpha: number[][];
}

/** The data (posteriordb `bball_drive_event_0`). */
export const hmmDriveData: HmmDriveData = loadData<HmmDriveData>('bball_drive_event_0');

/**
 * Latent `theta1`, `theta2` (simplexes of length 2), `phi1 < phi2` and
 * `lambda1 < lambda2` (positive); returns the log marginal likelihood.
 */
export const hmmDrive0 = model(
  async ({ sample, factor }, d: HmmDriveData) => {
    const theta1 = await sample('theta1', Dirichlet(d.alpha[0]!));
    const theta2 = await sample('theta2', Dirichlet(d.alpha[1]!));
    const phi1 = await sample('phi1', Flat({ low: 0 }));
    const phi2 = await sample('phi2', Flat({ low: phi1 }));
    const lambda1 = await sample('lambda1', Flat({ low: 0 }));
    const lambda2 = await sample('lambda2', Flat({ low: lambda1 }));
    await factor('phi_prior', tf.add(Normal(0, 1).logProb(phi1) as tf.Tensor, Normal(3, 1).logProb(phi2) as tf.Tensor));
    await factor('lambda_prior', tf.add(Normal(0, 1).logProb(lambda1) as tf.Tensor, Normal(3, 1).logProb(lambda2) as tf.Tensor));

    const phi = tf.stack([phi1, phi2]);
    const lambda = tf.stack([lambda1, lambda2]);
    // logTheta[j, k] = log P(state k at t | state j at t - 1)
    const logTheta = tf.log(tf.stack([theta1, theta2]));
    const emission = (t: number): tf.Tensor => tf.add(Exponential(phi).logProb(d.u[t]!) as tf.Tensor, Exponential(lambda).logProb(d.v[t]!) as tf.Tensor);
    let gamma = emission(0);
    for (let t = 1; t < d.N; t++) {
      gamma = tf.add(ops.logSumExp(tf.add(tf.expandDims(gamma, 1), logTheta), 0), emission(t));
    }
    const logLik = ops.logSumExp(gamma);
    await factor('forward', logLik);
    return logLik;
  },
  { name: 'hmm_drive_0' },
);
