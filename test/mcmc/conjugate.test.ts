/**
 * MCMC engines through `infer` on conjugate models with exact posteriors
 * (Normal–Normal, Beta–Binomial, Bayesian linear regression with known
 * noise): each posterior mean and variance within 4 Monte Carlo standard
 * errors. The variance is checked as the mean of (x - exact mean)^2, whose
 * MCSE comes from the same ESS machinery, so both checks are z-tests with
 * autocorrelation accounted for. With ~30 such checks in this file, a correct
 * sampler fails one by chance with probability about 30 x 6e-5.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Beta, Binomial, Independent, Normal, infer, model } from '../../src/index.js';
import { matVec } from '../../models/linear.js';
import { type Moments as Exact, momentFailures as failures } from '../helpers/mcse-check.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// Normal–Normal: mu ~ N(1, 2), y_i ~ N(mu, 0.8)
const nnData = [0.3, 1.9, 2.4, 1.1, 0.7];
const normalNormal = model(async ({ sample, observe }, ys: number[]) => {
  const mu = await sample('mu', Normal(1, 2));
  for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(mu, 0.8), ys[i]!);
});
function normalNormalExact(): Record<string, Exact> {
  const prec = 1 / 4 + nnData.length / 0.64;
  const mean = (1 / 4 + nnData.reduce((a, b) => a + b, 0) / 0.64) / prec;
  return { mu: { mean, sd: Math.sqrt(1 / prec) } };
}

// Beta–Binomial: p ~ Beta(2, 3), k ~ Binomial(20, p) with k = 13 -> Beta(15, 10)
const betaBinomial = model(async ({ sample, observe }) => {
  const p = await sample('p', Beta(2, 3));
  await observe('k', Binomial(20, p), 13);
});
const betaBinomialExact: Record<string, Exact> = { p: { mean: 15 / 25, sd: Math.sqrt((15 * 10) / (25 * 25 * 26)) } };

// Linear regression with known noise: w ~ N(0, tau^2 I_2), y = X w + N(0, s^2)
const TAU = 2;
const NOISE = 0.5;
const xs = [-1.5, -0.7, 0, 0.4, 1.1, 1.8, 2.5];
const ys = [-2.1, -0.6, 0.8, 1.0, 2.3, 3.4, 4.9];
const regression = model(async ({ sample, plate }, X: tf.Tensor2D, y: number[]) => {
  const w = (await sample('w', Independent(Normal(0, TAU).expand([2]), 1))) as tf.Tensor;
  await plate('data', y.length, async (_i, p) => {
    await p.observe('y', Normal(matVec(X, w), NOISE), y);
  });
});
/** Exact posterior N((X'X/s^2 + I/tau^2)^-1 X'y/s^2, (X'X/s^2 + I/tau^2)^-1), 2x2 by hand. */
function regressionExact(): Record<string, Exact> {
  let a = 1 / TAU ** 2, b = 0, d = 1 / TAU ** 2, r0 = 0, r1 = 0;
  xs.forEach((x, i) => {
    a += 1 / NOISE ** 2;
    b += x / NOISE ** 2;
    d += (x * x) / NOISE ** 2;
    r0 += ys[i]! / NOISE ** 2;
    r1 += (x * ys[i]!) / NOISE ** 2;
  });
  const det = a * d - b * b;
  const [c00, c01, c11] = [d / det, -b / det, a / det];
  return {
    'w[0]': { mean: c00 * r0 + c01 * r1, sd: Math.sqrt(c00) },
    'w[1]': { mean: c01 * r0 + c11 * r1, sd: Math.sqrt(c11) },
  };
}

describe('MCMC engines on conjugate models (mean and variance within 4 MCSE)', () => {
  it('NUTS and HMC on Normal–Normal', async () => {
    for (const method of ['nuts', 'hmc'] as const) {
      const post = await infer(normalNormal, { method, chains: 4, warmup: 300, samples: 500, seed: 11, ...(method === 'hmc' ? { numSteps: 8 } : {}) }, nnData);
      expect(failures(post, normalNormalExact()), method).toEqual([]);
    }
  });

  it('NUTS (vectorised), HMC and single-site MH on Beta–Binomial', async () => {
    const nuts = await infer(betaBinomial, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 12 });
    expect(nuts.diagnostics.vectorized).toBe(true);
    expect(failures(nuts, betaBinomialExact), 'nuts').toEqual([]);
    const hmc = await infer(betaBinomial, { method: 'hmc', chains: 4, warmup: 300, samples: 500, numSteps: 6, seed: 13 });
    expect(failures(hmc, betaBinomialExact), 'hmc').toEqual([]);
    const mh = await infer(betaBinomial, { method: 'mh', chains: 4, warmup: 500, samples: 4000, seed: 14 });
    expect(failures(mh, betaBinomialExact), 'mh').toEqual([]);
  });

  it('NUTS with diagonal and dense mass matrices on linear regression with known noise', async () => {
    const X = tf.tensor2d(xs.map((x) => [1, x]));
    try {
      for (const massMatrix of ['diag', 'dense'] as const) {
        const post = await infer(regression, { method: 'nuts', chains: 4, warmup: 300, samples: 500, massMatrix, seed: 15 }, X, ys);
        expect(failures(post, regressionExact()), massMatrix).toEqual([]);
      }
    } finally {
      X.dispose();
    }
  });

  it('the check can fail: a posterior off by one posterior sd is caught', async () => {
    const post = await infer(normalNormal, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 11 }, nnData);
    const e = normalNormalExact().mu!;
    expect(failures(post, { mu: { mean: e.mean + e.sd, sd: e.sd } }).length).toBeGreaterThan(0);
    expect(failures(post, { mu: { mean: e.mean, sd: e.sd * 1.25 } }).length).toBeGreaterThan(0);
  });
});
