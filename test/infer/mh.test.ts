import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/index.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Beta } from '../../src/distributions/beta.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer, type Posterior } from '../../src/infer/index.js';
import { discreteHmm, geometric, meanAndSe } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const hmm = discreteHmm;

/** A model whose structure depends on a random choice. */
const switching = model(async ({ sample, observe }) => {
  const wide = await sample('wide', Bernoulli(0.4));
  const x = wide ? await sample('xw', Normal(0, 3)) : await sample('xn', Normal(1, 0.5));
  await observe('y', Normal(x, 1), 2.0);
  return wide;
});

/** Per-chain estimates of a statistic and their standard error across chains (chains are independent). */
function acrossChains(post: Posterior<never[], unknown>, f: (rv: unknown) => number, chains: number): { mean: number; se: number } {
  const per = Array.from({ length: chains }, (_, c) => {
    const ds = post.draws.filter((d) => d.chain === c);
    return ds.reduce((a, d) => a + f(d.returnValue), 0) / ds.length;
  });
  return meanAndSe(per);
}

describe('single-site MH and Gibbs over traces', () => {
  it('MH agrees with enumeration on a discrete HMM', async () => {
    const exact = (await infer(hmm, { method: 'enumerate' })).marginal((d) => d.returnValue).prob(1);
    const chains = 8;
    const post = await infer(hmm, { method: 'mh', samples: 1500, warmup: 300, chains, seed: 1 });
    const est = acrossChains(post as never, (z) => z as number, chains);
    expect(Math.abs(est.mean - exact)).toBeLessThan(4 * est.se);
  });

  it('Gibbs agrees with enumeration on a discrete HMM', async () => {
    const exact = (await infer(hmm, { method: 'enumerate' })).marginal((d) => d.returnValue).prob(1);
    const chains = 8;
    const post = await infer(hmm, { method: 'mh', gibbs: true, samples: 1500, warmup: 300, chains, seed: 2 });
    const est = acrossChains(post as never, (z) => z as number, chains);
    expect(Math.abs(est.mean - exact)).toBeLessThan(4 * est.se);
  });

  it('MH handles a change of structure (fresh and stale sites)', async () => {
    // exact P(wide | y): marginal likelihoods N(2; 0, sqrt(10)) and N(2; 1, sqrt(1.25))
    const npdf = (x: number, m: number, v: number) => Math.exp(-((x - m) ** 2) / (2 * v)) / Math.sqrt(2 * Math.PI * v);
    const a = 0.4 * npdf(2, 0, 10);
    const b = 0.6 * npdf(2, 1, 1.25);
    const exact = a / (a + b);
    const chains = 8;
    const post = await infer(switching, { method: 'mh', samples: 3000, warmup: 500, chains, seed: 3 });
    const est = acrossChains(post as never, (w) => w as number, chains);
    expect(Math.abs(est.mean - exact)).toBeLessThan(4 * est.se);
  });

  it('MH corrects for a changing number of latent sites (recursive geometric)', async () => {
    const exact = (await infer(geometric, { method: 'enumerate' })).expectation((d) => d.returnValue as number);
    const chains = 8;
    const post = await infer(geometric, { method: 'mh', samples: 3000, warmup: 300, chains, seed: 5 });
    const est = acrossChains(post as never, (n) => n as number, chains);
    expect(Math.abs(est.mean - exact)).toBeLessThan(4 * est.se);
  });

  it('recovers a conjugate Beta-Bernoulli posterior and reports acceptance', async () => {
    const flips = [1, 0, 1, 1, 1, 0, 1, 1];
    const coin = model(async ({ sample, observe }) => {
      const p = await sample('p', Beta(2, 2));
      for (let i = 0; i < flips.length; i++) await observe(`f${i}`, Bernoulli(p), flips[i]);
      return p;
    });
    const chains = 8;
    const post = await infer(coin, { method: 'mh', samples: 1000, warmup: 200, chains, seed: 4 });
    const est = acrossChains(post as never, (p) => p as number, chains);
    expect(Math.abs(est.mean - 8 / 12)).toBeLessThan(4 * est.se);
    const acc = post.diagnostics.acceptance as number[];
    expect(acc.every((x) => x > 0.2 && x < 1)).toBe(true);
  });

  it('is reproducible for a seed', async () => {
    const a = await infer(switching, { method: 'mh', samples: 50, seed: 9 });
    const b = await infer(switching, { method: 'mh', samples: 50, seed: 9 });
    expect(a.draws.map((d) => d.returnValue)).toEqual(b.draws.map((d) => d.returnValue));
  });

  it('keeps tf.memory flat over long runs with tensor-valued sites, MH and Gibbs (only kept draws hold tensors)', async () => {
    const plated = model(async ({ sample, plate }) => {
      const mu = await sample('mu', Normal(0, 1));
      const z = await sample('z', Bernoulli(0.5));
      await plate('data', 3, async (_i, p) => {
        const x = await p.sample('x', Normal(mu, 1));
        await p.observe('y', Normal(z ? x : mu, 0.5), [0.1, 0.5, -0.3]);
      });
    });
    for (const gibbs of [false, true]) {
      const growth: number[] = [];
      for (const warmup of [100, 1600]) {
        const before = tf.memory().numTensors;
        const post = await infer(plated, { method: 'mh', samples: 20, warmup, seed: 3, gibbs });
        growth.push(tf.memory().numTensors - before);
        expect(post.draws.length).toBe(20);
      }
      // 1500 more steps add no tensors (before the fix: ~1.4 per step); what stays is at most the kept draws' own
      expect(growth[1]! - growth[0]!, `gibbs ${gibbs}`).toBeLessThan(20);
      expect(growth[1]!, `gibbs ${gibbs}`).toBeLessThan(3 * 20);
    }
  });
});
