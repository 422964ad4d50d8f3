/**
 * Models for the hidden-mode check (MODEWARN, session 19; `src/infer/mcmc/mode-check.ts`): posteriors with a mode that
 * `init: 'ascent'` can leave out (a hidden Markov model whose state labels swap, a mixture, a far bimodal target),
 * and unimodal ones whose geometry could fool a basin test (a funnel, a ridge, a heavy tail).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Bernoulli, Beta, Exponential, HalfCauchy, HalfNormal, Normal, StudentT, model, ops } from '../../src/index.js';

/** NEWUSER5's two-state HMM data (session 18, scratch/nu18/data.json): 40 observations. */
const H = { T: 40, y: [-0.658, 0.786, 3.164, 3.255, 3.495, 5.13, 4.748, 2.982, 3.476, 5.03, 2.877, 0.326, 0.43, -0.292, 0.059, -0.044, 2.085, 1.364, 1.591, 3.557, 0.477, -0.051, -0.793, -0.798, 4.248, -0.674, 1.641, -0.411, 1.211, 1.994, 0.289, -0.643, 3.964, 2.407, 3.588, 3.04, 2.199, -0.06, 2.41, 0.258] };
const P = [[0.85, 0.15], [0.25, 0.75]];
export const hmmFwd = model(async ({ sample, factor }) => {
  const mu0 = await sample('mu0', Normal(0, 2));
  const mu1 = await sample('mu1', Normal(3, 2));
  let g0: ops.Value = ops.add(Math.log(0.5), Normal(mu0, 1).logProb(H.y[0]!));
  let g1: ops.Value = ops.add(Math.log(0.5), Normal(mu1, 1).logProb(H.y[0]!));
  for (let t = 1; t < H.T; t++) {
    const a0 = ops.add(ops.logSumExp([ops.add(g0, Math.log(P[0]![0]!)), ops.add(g1, Math.log(P[1]![0]!))]), Normal(mu0, 1).logProb(H.y[t]!));
    const a1 = ops.add(ops.logSumExp([ops.add(g0, Math.log(P[0]![1]!)), ops.add(g1, Math.log(P[1]![1]!))]), Normal(mu1, 1).logProb(H.y[t]!));
    g0 = a0; g1 = a1;
  }
  factor('fwd', ops.logSumExp([g0, g1]));
});
// 1-D: 0.05 N(-3, 1) + 0.95 N(3, 1)
export const bimodal1 = model(async ({ sample, factor }) => {
  const x = await sample('x', Normal(0, 10));
  factor('mix', ops.sub(ops.logSumExp([ops.add(Math.log(0.05), Normal(-3, 1).logProb(x)), ops.add(Math.log(0.95), Normal(3, 1).logProb(x))]), Normal(0, 10).logProb(x)));
});
// 1-D: 0.05 N(-6, 1) + 0.95 N(6, 1): too far apart for NUTS to cross
export const bimodalFar = model(async ({ sample, factor }) => {
  const x = await sample('x', Normal(0, 10));
  factor('mix', ops.sub(ops.logSumExp([ops.add(Math.log(0.05), Normal(-6, 1).logProb(x)), ops.add(Math.log(0.95), Normal(6, 1).logProb(x))]), Normal(0, 10).logProb(x)));
});
// two-component mixture, priors that tell the labels apart a little (the swapped mode holds less mass)
export const mix2asym = model(async ({ sample, factor }) => {
  const w = await sample('w', Beta(2, 2));
  const m0 = await sample('m0', Normal(-1, 1.5));
  const m1 = await sample('m1', Normal(1, 1.5));
  let s: ops.Value = 0;
  for (const y of mixY) s = ops.add(s, ops.logSumExp([ops.add(ops.log(w), Normal(m0, 1).logProb(y)), ops.add(ops.log(ops.sub(1, w)), Normal(m1, 1).logProb(y))]));
  factor('lik', s);
});
// two-component mixture, exchangeable priors: label switching
export const mixY = [-2.9, -1.2, -2.4, -1.7, -2.2, -0.8, -2.6, -1.9, -1.4, -2.1, -3.3, -1.6, 2.3, 1.1, 2.8, 1.9, 2.2, 3.4, 1.5, 2.6, 1.8, 2.1, 0.9, 2.4, 3.0, 1.7, 2.2, 2.7, 1.3, 2.0];
export const mix2 = model(async ({ sample, factor }) => {
  const w = await sample('w', Beta(2, 2));
  const m0 = await sample('m0', Normal(0, 5));
  const m1 = await sample('m1', Normal(0, 5));
  let s: ops.Value = 0;
  for (const y of mixY) s = ops.add(s, ops.logSumExp([ops.add(ops.log(w), Normal(m0, 1).logProb(y)), ops.add(ops.log(ops.sub(1, w)), Normal(m1, 1).logProb(y))]));
  factor('lik', s);
});
const xs = [-1.5, -1.1, -0.7, -0.3, 0.1, 0.4, 0.8, 1.2, 1.6, 2.0];
const ys = [-2.2, -1.0, -0.9, 0.1, 0.6, 0.9, 1.9, 2.1, 3.4, 3.6];
export const linreg = model(async ({ sample, observe }) => {
  const a = await sample('a', Normal(0, 5));
  const b = await sample('b', Normal(0, 5));
  const s = await sample('sigma', HalfNormal(2));
  await observe('y', Normal(ops.add(a, ops.mul(b, tf.tensor1d(xs))), s), tf.tensor1d(ys));
});
export const logreg = model(async ({ sample, observe }) => {
  const a = await sample('a', Normal(0, 2.5));
  const b = await sample('b', Normal(0, 2.5));
  await observe('y', Bernoulli({ logits: ops.add(a, ops.mul(b, tf.tensor1d(xs))) }), tf.tensor1d([0, 0, 1, 0, 0, 1, 1, 0, 1, 1]));
});
export const funnel = model(async ({ sample, plate }) => {
  const v = await sample('v', Normal(0, 3));
  await plate('x', 9, () => sample('x', Normal(0, ops.exp(ops.div(v, 2)))));
});
export const ridge = model(async ({ sample, observe }) => {
  const a = await sample('a', Normal(0, 10));
  const b = await sample('b', Normal(0, 10));
  await observe('y', Normal(ops.add(a, b), 1), tf.tensor1d([1.2, 0.8, 1.5, 0.9]));
});
export const heavy = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 10));
  const nu = await sample('nu', Exponential(0.1));
  await observe('y', StudentT(ops.add(nu, 1), mu, 1), tf.tensor1d([0.3, -0.5, 8.0, 0.9, 1.2, -0.1]));
});
export const hier = model(async ({ sample, observe, plate }) => {
  const mu = await sample('mu', Normal(0, 5));
  const tau = await sample('tau', HalfCauchy(2));
  const th = await plate('g', 6, () => sample('theta', Normal(mu, tau)));
  await observe('y', Normal(th, 1), tf.tensor1d([0.5, 1.9, -0.3, 1.1, 2.4, 0.8]));
});
