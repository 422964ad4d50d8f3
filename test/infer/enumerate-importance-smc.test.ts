import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model, ops } from '../../src/core/index.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Beta } from '../../src/distributions/beta.js';
import { Categorical } from '../../src/distributions/categorical.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/index.js';
import '../../src/infer/smc/program.js';
import { discreteHmm, geometric, geometricExact, meanAndSe } from './fixtures.js';
import '../../src/infer/smc/tempered.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const die = () => Categorical([1, 1, 1, 1, 1, 1].map((x) => x / 6));

/** n dice conditioned on their sum. */
const dice = model(async ({ sample, factor }, n: number, total: number) => {
  let sum = 0;
  const first = (await sample('d0', die())) + 1;
  sum += first;
  for (let i = 1; i < n; i++) sum += (await sample(`d${i}`, die())) + 1;
  await factor('sum', sum === total ? 0 : -Infinity);
  return first;
});

/** Pearl's burglary network, conditioned on both calls. */
const burglary = model(async ({ sample, observe }) => {
  const b = await sample('burglary', Bernoulli(0.001));
  const e = await sample('earthquake', Bernoulli(0.002));
  const pA = b ? (e ? 0.95 : 0.94) : e ? 0.29 : 0.001;
  const a = await sample('alarm', Bernoulli(pA));
  await observe('john', Bernoulli(a ? 0.9 : 0.05), 1);
  await observe('mary', Bernoulli(a ? 0.7 : 0.01), 1);
  return b;
});

/** Exact P(burglary | john, mary) by brute-force sum, independent of the engine. */
function burglaryExact(): { p: number; z: number } {
  let z = 0;
  let zb = 0;
  for (const b of [0, 1])
    for (const e of [0, 1])
      for (const a of [0, 1]) {
        const pA = b ? (e ? 0.95 : 0.94) : e ? 0.29 : 0.001;
        const w = (b ? 0.001 : 0.999) * (e ? 0.002 : 0.998) * (a ? pA : 1 - pA) * (a ? 0.9 : 0.05) * (a ? 0.7 : 0.01);
        z += w;
        if (b) zb += w;
      }
  return { p: zb / z, z };
}

describe('enumerate', () => {
  it('dice conditioned on their sum match the exact answer to 1e-9', async () => {
    // P(first = k | sum of 4 dice = 20): count completions by dynamic programming
    const ways = (n: number, s: number): number => (n === 0 ? (s === 0 ? 1 : 0) : [1, 2, 3, 4, 5, 6].reduce((a, k) => a + ways(n - 1, s - k), 0));
    const post = await infer(dice, { method: 'enumerate' }, 4, 20);
    const total = ways(4, 20);
    const marg = post.marginal((d) => d.returnValue);
    for (let k = 1; k <= 6; k++) expect(Math.abs(marg.prob(k) - ways(3, 20 - k) / total)).toBeLessThan(1e-9);
    expect(Math.abs(post.logZ - Math.log(total / 6 ** 4))).toBeLessThan(1e-9);
    expect(post.exact).toBe(true);
  });

  it('burglary matches the brute-force posterior to 1e-9', async () => {
    const post = await infer(burglary, { method: 'enumerate' });
    const { p, z } = burglaryExact();
    expect(Math.abs(post.marginal('burglary').prob(1) - p)).toBeLessThan(1e-9);
    expect(Math.abs(post.logZ - Math.log(z))).toBeLessThan(1e-9);
  });

  it('a bounded geometric (recursion, varying addresses) matches to 1e-9', async () => {
    const post = await infer(geometric, { method: 'enumerate' });
    const exact = geometricExact();
    const m = post.marginal((d) => d.returnValue);
    for (let n = 0; n <= 6; n++) expect(Math.abs(m.prob(n) - exact[n])).toBeLessThan(1e-9);
  });

  it('parallel strategy matches sequential to 1e-9 (dice written with tensor-aware ops)', async () => {
    const { add, eq, where } = ops;
    const diceOps = model(async ({ sample, factor }, n: number, total: number) => {
      const first = add(await sample('d0', die()), 1);
      let sum = first;
      for (let i = 1; i < n; i++) sum = add(sum, add(await sample(`d${i}`, die()), 1));
      await factor('sum', where(eq(sum, total), 0, -Infinity));
      return first;
    });
    const seq = await infer(dice, { method: 'enumerate' }, 4, 20);
    const par = await infer(diceOps, { method: 'enumerate', strategy: 'parallel' }, 4, 20);
    expect(par.diagnostics.paths).toBe(6 ** 4);
    expect(par.size).toBe(seq.size);
    expect(Math.abs(par.logZ - seq.logZ)).toBeLessThan(1e-9);
    const a = seq.marginal((d) => d.returnValue);
    const b = par.marginal((d) => d.returnValue);
    for (let k = 1; k <= 6; k++) expect(Math.abs(a.prob(k) - b.prob(k))).toBeLessThan(1e-9);
    // the burglary network written with ops.where agrees as well
    const burglaryOps = model(async ({ sample, observe }) => {
      const b = await sample('burglary', Bernoulli(0.001));
      const e = await sample('earthquake', Bernoulli(0.002));
      const pA = where(eq(b, 1), where(eq(e, 1), 0.95, 0.94), where(eq(e, 1), 0.29, 0.001));
      const a = await sample('alarm', Bernoulli(pA));
      await observe('john', Bernoulli(where(eq(a, 1), 0.9, 0.05)), 1);
      await observe('mary', Bernoulli(where(eq(a, 1), 0.7, 0.01)), 1);
      return b;
    });
    const pb = await infer(burglaryOps, { method: 'enumerate', strategy: 'parallel' });
    expect(Math.abs(pb.marginal('burglary').prob(1) - burglaryExact().p)).toBeLessThan(1e-9);
  });

  it('parallel strategy explains what went wrong when a model uses JS arithmetic on draws', async () => {
    // JS arithmetic on a tensor draw fails at the draw's site, naming the ops to use instead
    await expect(infer(dice, { method: 'enumerate', strategy: 'parallel' }, 3, 12)).rejects.toThrow(/site "d0": this draw is a tensor.*ops\.add/);
  });

  it('names a continuous site it cannot enumerate', async () => {
    const bad = model(async ({ sample }) => sample('x', Normal(0, 1)));
    await expect(infer(bad, { method: 'enumerate' })).rejects.toThrow(/site "x": Normal is continuous/);
  });

  it('rejects unknown methods and options clearly', async () => {
    await expect(infer(burglary, { method: 'nope' })).rejects.toThrow(/unknown method "nope"; available: .*enumerate/);
    await expect(infer(burglary, { method: 'enumerate', particles: 3 } as never)).rejects.toThrow(/unknown option "particles"/);
  });

  it('is identical across runs', async () => {
    const a = await infer(dice, { method: 'enumerate' }, 3, 12);
    const b = await infer(dice, { method: 'enumerate' }, 3, 12);
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
  });
});

/** Mean and standard error of a statistic over seeds. */
async function overSeeds(seeds: number, f: (seed: number) => Promise<number>): Promise<{ mean: number; se: number }> {
  const xs: number[] = [];
  for (let s = 0; s < seeds; s++) xs.push(await f(s));
  return meanAndSe(xs);
}

describe('importance sampling', () => {
  const flips = [1, 1, 0, 1, 1, 1, 0, 1];
  const coin = model(async ({ sample, observe }) => {
    const p = await sample('p', Beta(2, 2));
    for (let i = 0; i < flips.length; i++) await observe(`f${i}`, Bernoulli(p), flips[i]);
    return p;
  });
  const heads = flips.reduce((a, b) => a + b, 0);
  const tails = flips.length - heads;
  const a = 2 + heads;
  const b = 2 + tails;
  // log B(a, b) - log B(2, 2), by exact factorials
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  const beta = (x: number, y: number) => (fact(x - 1) * fact(y - 1)) / fact(x + y - 1);
  const logZ = Math.log(beta(a, b) / beta(2, 2));

  it('recovers the Beta-Bernoulli posterior mean within MCSE', async () => {
    const post = await infer(coin, { method: 'importance', particles: 4000, seed: 7 });
    const mean = a / (a + b);
    const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
    expect(Math.abs(post.moments('p').mean - mean)).toBeLessThan((4 * sd) / Math.sqrt(post.ess));
  });

  it('gives an unbiased Z estimate (over seeds) matching the exact marginal likelihood', async () => {
    const { mean, se } = await overSeeds(20, async (s) => Math.exp((await infer(coin, { method: 'importance', particles: 200, seed: s })).logZ - logZ));
    expect(Math.abs(mean - 1)).toBeLessThan(4 * se + 1e-12);
  });

  it('uses a guide as proposal: Normal-Normal with the exact posterior as guide has constant weights', async () => {
    const nn = model(async ({ sample, observe }, y: number) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), y);
    });
    // posterior N(y/2, 1/2); log Z = log N(y; 0, 2)
    const guide = model(async ({ sample }, y: number) => {
      await sample('mu', Normal(y / 2, Math.sqrt(0.5)));
    });
    const post = await infer(nn, { method: 'importance', particles: 50, guide, seed: 1 }, 1.3);
    const exact = -0.5 * Math.log(2 * Math.PI * 2) - (1.3 * 1.3) / 4;
    expect(Math.abs(post.logZ - exact)).toBeLessThan(1e-9);
    expect(post.ess).toBeCloseTo(50, 6);
  });
});

describe('memory', () => {
  it('importance sampling frees the tensors a model makes, keeping the draws', async () => {
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(tf.zeros([3]), 1));
      const shifted = tf.add(mu, tf.scalar(1)); // user intermediates
      await observe('y', Normal(shifted, 1), [0.5, 1, 1.5]);
      return tf.sum(shifted);
    });
    const first = await infer(m, { method: 'importance', particles: 10, seed: 1 });
    const before = tf.memory().numTensors;
    const post = await infer(m, { method: 'importance', particles: 10, seed: 2 });
    // each draw keeps its value of mu and its return value
    expect(tf.memory().numTensors - before).toBe(2 * post.size);
    expect(first.draws[0].values.mu).toBeDefined();
  });
});

describe('SMC over programs', () => {
  it('agrees with enumeration on a model with stochastic control flow', async () => {
    const exact = geometricExact();
    const exactPost = await infer(geometric, { method: 'enumerate' });
    // P(n = 3) and log Z: mean over seeds within 4 standard errors
    const p3 = await overSeeds(12, async (s) => (await infer(geometric, { method: 'smc', particles: 300, seed: s })).marginal((d) => d.returnValue).prob(3));
    expect(Math.abs(p3.mean - exact[3])).toBeLessThan(4 * p3.se);
    const z = await overSeeds(12, async (s) => Math.exp((await infer(geometric, { method: 'smc', particles: 300, seed: s })).logZ - exactPost.logZ));
    expect(Math.abs(z.mean - 1)).toBeLessThan(4 * z.se);
  });

  it('resamples (replaying copies) and matches enumeration on a discrete HMM', async () => {
    const hmm = discreteHmm;
    const exact = await infer(hmm, { method: 'enumerate' });
    const pLast = exact.marginal((d) => d.returnValue).prob(1);
    const runs = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => infer(hmm, { method: 'smc', particles: 200, seed: s, essThreshold: 1 })));
    expect(runs.every((r) => (r.diagnostics.replays as number) > 0)).toBe(true);
    const p = meanAndSe(runs.map((r) => r.marginal((d) => d.returnValue).prob(1)));
    expect(Math.abs(p.mean - pLast)).toBeLessThan(4 * p.se);
    const z = meanAndSe(runs.map((r) => Math.exp(r.logZ - exact.logZ)));
    expect(Math.abs(z.mean - 1)).toBeLessThan(4 * z.se);
  });

  it('keeps tf.memory flat for tensor-valued observations', async () => {
    // data tensors belong to the user: made once, outside the model
    const data = Array.from({ length: 5 }, (_, t) => tf.tensor1d([0.1 * t, 0.2]));
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      for (let t = 0; t < 5; t++) await observe(`y${t}`, Normal(mu, 1), data[t]);
    });
    await infer(m, { method: 'smc', particles: 20, seed: 1 });
    const before = tf.memory().numTensors;
    await infer(m, { method: 'smc', particles: 20, seed: 2 });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('reproducibility', () => {
  it('the same seed gives identical draws and log Z for importance, smc and tempered', async () => {
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      const c = await sample('c', Bernoulli(0.3));
      await observe('y', Normal(c ? mu : -mu, 1), 0.7);
    });
    for (const options of [
      { method: 'importance', particles: 50 },
      { method: 'smc', particles: 50 },
      { method: 'tempered', particles: 30, moves: 2 },
    ] as const) {
      const a = await infer(m, { ...options, seed: 'r' });
      const b = await infer(m, { ...options, seed: 'r' });
      const c = await infer(m, { ...options, seed: 's' });
      expect(a.logZ).toBe(b.logZ);
      expect(a.draws.map((d) => d.values.mu)).toEqual(b.draws.map((d) => d.values.mu));
      expect(a.draws.map((d) => d.values.mu)).not.toEqual(c.draws.map((d) => d.values.mu));
    }
  });
});
