/**
 * posteriordb `hmm_example-hmm_example`: a two-state hidden Markov model with
 * unit-variance normal emissions, N = 100 (Imad Ali's bball-hmm case study):
 *
 * ```stan
 * simplex[K] theta1;  simplex[K] theta2;  positive_ordered[K] mu;   // no prior on theta
 * target += normal_lpdf(mu[1] | 3, 1);  target += normal_lpdf(mu[2] | 10, 1);
 * gamma[t, k] = log_sum_exp_j(gamma[t - 1, j] + log(theta[j, k]) + normal_lpdf(y[t] | mu[k], 1));
 * target += log_sum_exp(gamma[N]);
 * ```
 *
 * Written for one chain, as a Stan user would: the simplexes as flat
 * `Dirichlet([1, 1])`, `positive_ordered[2]` as a first element above 0 and
 * a second above the first (flat on those supports; the normal terms enter
 * as factors, unnormalised as in Stan), and the forward algorithm as a loop
 * over time on `[K]` vectors. The log-sum-exps are `ops.logSumExp`, which
 * gives -Infinity where every term is -Infinity (`tf.logSumExp` gives NaN: a
 * simplex component that underflows to 0 made NUTS stop with a NaN error).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Dirichlet, Flat, Normal, model, ops } from '../../src/index.js';
import { loadData } from '../data.js';

/** The hmm_example data. */
export interface HmmExampleData {
  readonly N: number;
  readonly K: number;
  readonly y: number[];
}

/** The data (posteriordb `hmm_example`). */
export const hmmExampleData: HmmExampleData = loadData<HmmExampleData>('hmm_example');

/** Latent sites `theta1`, `theta2` (simplexes of length 2), `mu1 < mu2` (positive); returns the log marginal likelihood. */
export const hmmExample = model(
  async ({ sample, factor }, d: HmmExampleData) => {
    const theta1 = await sample('theta1', Dirichlet([1, 1]));
    const theta2 = await sample('theta2', Dirichlet([1, 1]));
    const mu1 = await sample('mu1', Flat({ low: 0 }));
    const mu2 = await sample('mu2', Flat({ low: mu1 }));
    await factor('mu_prior', tf.add(Normal(3, 1).logProb(mu1) as tf.Tensor, Normal(10, 1).logProb(mu2) as tf.Tensor));
    const mu = tf.stack([mu1, mu2]);
    // logTheta[j, k] = log P(state k at t | state j at t - 1)
    const logTheta = tf.log(tf.stack([theta1, theta2]));
    const emission = (t: number): tf.Tensor => Normal(mu, 1).logProb(d.y[t]!) as tf.Tensor;
    let gamma = emission(0);
    for (let t = 1; t < d.N; t++) gamma = tf.add(ops.logSumExp(tf.add(tf.expandDims(gamma, 1), logTheta), 0), emission(t));
    const logLik = ops.logSumExp(gamma);
    await factor('forward', logLik);
    return logLik;
  },
  { name: 'hmm_example' },
);
