/**
 * Which ordinary programs batched program SMC runs (vector observations,
 * plates, latents with a batch shape, discrete latents, mixtures, factors,
 * deterministic sites, long series) and, for those that must run per
 * particle, the reason it gives. The programs moved to the batched path by
 * reserving batch dimensions (`smc/program-layout.ts`) are pinned against
 * their exact answers (linear-Gaussian: log Z and a posterior mean) on both
 * paths, and a planted bug (each particle's vector observation averaged
 * instead of summed) fails the same check.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type Model, model } from '../../src/core/model.js';
import * as ops from '../../src/core/value.js';
import { Bernoulli, Beta, Categorical, Dirichlet, HalfNormal, Independent, Mixture, MultivariateNormal, Normal, Poisson, StudentT } from '../../src/distributions/index.js';
import { infer } from '../../src/infer/registry.js';
import '../../src/infer/smc/program.js';
import { type Exact, averagingBatched, checkBothPaths, checkExact, groups, plated, series, vectorObs } from './program-exact.js';

beforeAll(async () => {
  await initBackend();
});

const YS = series(12);

describe('batched program SMC on vector observations and plates (both paths against exact answers)', () => {
  const cases: [string, Exact][] = [
    ['a scalar latent against vector observations', vectorObs],
    ['plates', plated],
    ['a plate of latents', groups],
  ];
  // (a regression on a data tensor and a batch-shaped latent times a data matrix: program-batched-coverage.slow.test.ts)
  for (const [name, c] of cases) it(`${name}: batched and per-particle both within MCSE of the exact log Z and posterior mean, and of each other`, () => checkBothPaths(name, c), 120_000);

  it('a planted bug (observations averaged per particle instead of summed) fails the same check', async () => {
    const planted = await checkExact(vectorObs, (s) => averagingBatched(vectorObs, s));
    expect(planted.ok, `planted bug passed: ${planted.detail}`).toBe(false);
    // and the same pieces without the bug pass it (the planted run differs from the engine only by the bug)
    const honest = await checkExact(vectorObs, (s) => averagingBatched({ ...vectorObs, perStep: 1 }, s));
    expect(honest.ok, `pieces without the bug: ${honest.detail}`).toBe(true);
    if (process.env.TYCHE_REPORT) console.log(`planted ${planted.detail}\nhonest pieces ${honest.detail}`);
  }, 120_000);
});

// ---- the coverage table ------------------------------------------------------------------------

/** [program, arguments, the path it takes, the reason given when per particle] */
const COVERAGE: Record<string, [Model<never[], unknown>, unknown[], 'batched' | RegExp]> = {
  'random walk': [model(async ({ sample, observe }, ys: number[]) => {
    let x: ops.Value = await sample('x0', Normal(0, 1));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) x = await sample(`x${t}`, Normal(x, 1));
      await observe(`y${t}`, Normal(x, 1), ys[t]);
    }
    return x;
  }) as never, [YS], 'batched'],
  'deterministic sites and a factor': [model(async ({ sample, factor, deterministic }, ys: number[]) => {
    let x: ops.Value = await sample('x0', Normal(0, 1));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) x = await sample(`x${t}`, Normal(x, 1));
      deterministic(`twice${t}`, ops.mul(2, x));
      await factor(`f${t}`, ops.mul(-0.5, ops.square(ops.sub(x, ys[t]))));
    }
    return x;
  }) as never, [YS], 'batched'],
  'a discrete latent and a two-state chain by ops.where': [model(async ({ sample, observe }, ys: number[]) => {
    let z: ops.Value = await sample('z0', Bernoulli(0.5));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) z = await sample(`z${t}`, Bernoulli(ops.where(ops.eq(z, 1), 0.8, 0.1)));
      await observe(`y${t}`, Normal(ops.sub(ops.mul(2, z), 1), 1), ys[t]);
    }
    return z;
  }) as never, [YS], 'batched'],
  'an HMM whose transition row is looked up by tf.gather': [model(async ({ sample, observe }, ys: number[]) => {
    const P = tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]);
    const means = tf.tensor1d([-1, 1]);
    let z: ops.Value = await sample('z0', Categorical([0.5, 0.5]));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) z = await sample(`z${t}`, Categorical(tf.gather(P, tf.cast(z as never, 'int32'))));
      await observe(`y${t}`, Normal(tf.gather(means, tf.cast(z as never, 'int32')), 1), ys[t]);
    }
    return z;
  }) as never, [YS], 'batched'],
  'a mixture likelihood': [model(async ({ sample, observe }, ys: number[]) => {
    const a = await sample('a', Normal(-1, 1));
    const b = await sample('b', Normal(1, 1));
    for (let t = 0; t < ys.length; t++) await observe(`y${t}`, Mixture(Categorical([0.5, 0.5]), [Normal(a, 1), Normal(b, 1)]), ys[t]);
    return a;
  }) as never, [YS], 'batched'],
  'different distributions per step and Poisson counts': [model(async ({ sample, observe }, ys: number[]) => {
    let x: ops.Value = await sample('x0', Normal(0, 1));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) x = await sample(`x${t}`, t % 2 ? StudentT(4, x, 1) : Normal(x, 1));
      await observe(`y${t}`, Poisson(ops.exp(ops.mul(0.3, x))), Math.round(Math.abs(ys[t]) * 3));
    }
    return x;
  }) as never, [YS], 'batched'],
  'a data-dependent loop, a Dirichlet, a record returned': [model(async ({ sample, observe, scope }, d: { n: number; ys: number[] }) => {
    const mu = await sample('mu', Normal(0, 2));
    const s = await sample('s', HalfNormal(1));
    const p = await sample('p', Dirichlet([1, 1, 1]));
    await scope('obs', async () => {
      for (let i = 0; i < d.n; i++) await observe(`y${i}`, Normal(mu, s), d.ys[i]);
    });
    await observe('c', Categorical(p), 2);
    return { mu, both: [mu, s] };
  }) as never, [{ n: 8, ys: YS }], 'batched'],
  'vector latents (Independent, MultivariateNormal)': [model(async ({ sample, observe }, ys: number[]) => {
    let x = await sample('x0', Independent(Normal(tf.zeros([2]), 1), 1));
    for (let t = 0; t < 4; t++) {
      if (t > 0) x = await sample(`x${t}`, MultivariateNormal(x, { covariance: tf.eye(2) }));
      await observe(`y${t}`, Independent(Normal(x, 1), 1), [ys[t], -ys[t]]);
    }
    return x;
  }) as never, [YS], 'batched'],
  'a matrix observation against a scalar latent': [model(async ({ sample, observe }, ys: number[]) => {
    const mu = await sample('mu', Normal(0, 1));
    await observe('Y', Normal(mu, 1), tf.tensor2d(ys, [6, 2]));
    return mu;
  }) as never, [YS], 'batched'],
  'stochastic volatility, T = 1000': [model(async ({ sample, observe }, ys: number[]) => {
    const rho = await sample('rho', Beta(5, 2));
    let h: ops.Value = await sample('h0', Normal(0, 1));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) h = await sample(`h${t}`, Normal(ops.mul(rho, h), 0.3));
      await observe(`y${t}`, Normal(0, ops.exp(ops.mul(0.5, h))), ys[t]);
    }
    return rho;
  }) as never, [series(1000)], 'batched'],
  'a vector of draws stacked on the last axis (tf.stack([a, b], -1))': [model(async ({ sample, observe }, ys: number[]) => {
    const a = await sample('a', Normal(0, 1));
    const b = await sample('b', Normal(0, 1));
    for (let t = 0; t < 4; t++) await observe(`y${t}`, Independent(Normal(tf.stack([a, b] as never[], -1), 1), 1), [ys[t], -ys[t]]);
    return a;
  }) as never, [YS], 'batched'],
  'a vector of draws stacked on the first axis (tf.stack([a, b]))': [model(async ({ sample, observe }, ys: number[]) => {
    const a = await sample('a', Normal(0, 1));
    const b = await sample('b', Normal(0, 1));
    for (let t = 0; t < 4; t++) await observe(`y${t}`, Independent(Normal(tf.stack([a, b] as never[]), 1), 1), [ys[t], -ys[t]]);
    return a;
  }) as never, [YS], /^site "y0": observed value of shape \[2\] does not match .*every draw has a leading axis of its 16 particles.*tf\.stack\(\[a, b\], -1\)/],
  'JavaScript arithmetic on a draw': [model(async ({ sample, observe }, ys: number[]) => {
    let x: ops.Value = await sample('x0', Normal(0, 1));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) x = await sample(`x${t}`, Normal(0.9 * (x as number), 1));
      await observe(`y${t}`, Normal(x, 1), ys[t]);
    }
    return x;
  }) as never, [YS], /^site "x0": this draw is a tensor .*use tyche's ops/],
  'an HMM whose tables are indexed by a draw (table[z])': [model(async ({ sample, observe }, ys: number[]) => {
    const P = [[0.9, 0.1], [0.2, 0.8]];
    const means = [-1, 1];
    let z = await sample('z0', Categorical([0.5, 0.5]));
    for (let t = 0; t < ys.length; t++) {
      if (t > 0) z = await sample(`z${t}`, Categorical(P[z as number]));
      await observe(`y${t}`, Normal(means[z as number], 1), ys[t]);
    }
    return z;
  }) as never, [YS], /^site "z0": its draw was used as an object key or array index .*tf\.gather/],
  // (a subsampled plate: smc refuses it, naming the plate; test/reliability/subsample-session9.test.ts)
  'a loop that stops on a draw': [model(async ({ sample, observe }, ys: number[]) => {
    let n = 0;
    while ((await sample(`c${n}`, Bernoulli(0.5))) === 1) n++;
    await observe('y', Normal(n, 1), ys[0]);
    return n;
  }) as never, [YS], /control flow depends on a random value|sample\/factor sites/],
  'a draw read as one number (ops.toNumber)': [model(async ({ sample, observe }, ys: number[]) => {
    const mu = await sample('mu', Normal(0, 1));
    await observe('y', Normal(ops.toNumber(mu), 1), ys[0]);
    return mu;
  }) as never, [YS], /expected a single number, got a tensor of shape \[16\] \(batched, a draw holds all 16 particles' values, so it cannot be read as one number/],
  'a latent drawn from a reduced value (ops.sumLast of a batch-shaped draw)': [model(async ({ sample, observe }, ys: number[]) => {
    const w = await sample('w', Normal(tf.zeros([2]), 1));
    const x = await sample('x', Normal(ops.sumLast(w, 1), 1));
    await observe('y', Normal(x, 1), ys[0]);
    return x;
  }) as never, [YS], /^site "x": its batched value has shape \[16, 16\] \(16 elements per particle\) where one particle run on its own has shape \[\]/],
};

describe('which path ordinary programs take', () => {
  it('runs each batched or gives the precise reason it cannot', async () => {
    const seen: string[] = [];
    for (const [name, [m, args, want]] of Object.entries(COVERAGE)) {
      const post = await infer(m, { method: 'smc', particles: 64, seed: 1 }, ...(args as never[]));
      const got = `${name}: ${String(post.diagnostics.execution)} ${String(post.diagnostics.notBatched ?? '')}`;
      seen.push(got);
      if (want === 'batched') expect(post.diagnostics.execution, got).toBe('batched');
      else {
        expect(post.diagnostics.execution, got).toBe('per-particle');
        expect(String(post.diagnostics.notBatched), got).toMatch(want);
      }
      expect(Number.isFinite(post.logZ), got).toBe(true);
      post.dispose();
    }
    if (process.env.TYCHE_REPORT) console.log(seen.join('\n'));
  }, 120_000);
});
