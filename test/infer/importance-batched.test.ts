/**
 * Importance sampling batched over particles (`importance.ts` on program
 * SMC's batched runtime, never resampling) against the per-particle path
 * and exact answers: a Dirichlet–Categorical (tensor parameters) and a
 * conjugate linear regression. Each check is on Monte Carlo error, with a
 * planted bug that fails it. Also: the ESS warning on collapsed weights,
 * the fallbacks (a guide, `scale` on a latent site, a value that mixes
 * particles), the options, an abort, and tensors held after a run.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Categorical, Dirichlet, Normal, infer, model, ops, scale } from '../../src/index.js';
import type { Posterior } from '../../src/infer/posterior.js';
import type { Model } from '../../src/core/model.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const COUNTS = [3, 7, 1, 9];
const K = COUNTS.length;
const CATS = COUNTS.flatMap((c, k) => Array<number>(c).fill(k));
const NOBS = CATS.length;

/** p ~ Dirichlet(1), y_i ~ Categorical(p): tensor parameters, one vector observation. */
const dirCat = model(async ({ sample, observe }) => {
  const p = await sample('p', Dirichlet(tf.ones([K])));
  await observe('y', Categorical(p), tf.tensor1d(CATS, 'int32'));
  return p;
});

function lgamma(x: number): number {
  // ln (x - 1)! for the integers used here
  let s = 0;
  for (let k = 2; k < x; k++) s += Math.log(k);
  return s;
}

/** Exact log Z and E[p_0 | y], sd[p_0 | y] of the Dirichlet–Categorical (posterior Dirichlet(1 + counts)). */
const DIRCAT = (() => {
  const logZ = lgamma(K) - lgamma(K + NOBS) + COUNTS.reduce((s, c) => s + lgamma(1 + c), 0);
  const a = 1 + COUNTS[0];
  const b = K + NOBS - a;
  return { logZ, mean: a / (a + b), sd: Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1))) };
})();

const XS = [-1, -0.5, 0, 0.5, 1];
const YS = [-1.2, -0.1, 0.4, 1.3, 1.9];
/** a, b ~ N(0, 2^2), y_i ~ N(a + b x_i, 1). */
const regression = model(async ({ sample, observe }) => {
  const a = await sample('a', Normal(0, 2));
  const b = await sample('b', Normal(0, 2));
  await observe('y', Normal(ops.add(a, ops.mul(b, tf.tensor1d(XS))), 1), tf.tensor1d(YS));
  return b;
});

/** Exact log Z and the posterior mean and sd of b (Gaussian, 2 x 2 algebra). */
const REGRESSION = (() => {
  const n = XS.length;
  const sx = XS.reduce((s, x) => s + x, 0);
  const sxx = XS.reduce((s, x) => s + x * x, 0);
  const sy = YS.reduce((s, y) => s + y, 0);
  const sxy = XS.reduce((s, x, i) => s + x * YS[i], 0);
  const syy = YS.reduce((s, y) => s + y * y, 0);
  // posterior precision L = X'X + I/4, mean L^-1 X'y
  const [l11, l12, l22] = [n + 0.25, sx, sxx + 0.25];
  const det = l11 * l22 - l12 * l12;
  const ma = (l22 * sy - l12 * sxy) / det;
  const mb = (l11 * sxy - l12 * sy) / det;
  // log Z: y ~ N(0, I + 4 X X'); det by the lemma det(I_2 + 4 X'X) = 16 det(L); y' S^-1 y by Woodbury
  const logDet = Math.log(16 * det);
  const quad = syy - (sy * ma + sxy * mb);
  return { logZ: -0.5 * (n * Math.log(2 * Math.PI) + logDet + quad), mean: mb, sd: Math.sqrt(l11 / det) };
})();

const first = (v: unknown): number => (typeof v === 'number' ? v : (v as tf.Tensor).dataSync()[0]);

/**
 * Over seeds: Z/Z* averaged (unbiased: within 4 standard errors of 1, the
 * standard error from the spread across seeds) and each run's posterior
 * mean within 4 of its own standard errors (sd / sqrt(ESS)) of the exact
 * one, pooled as a z-score over the runs. `weigh` may rewrite the draws'
 * log weights (the planted bugs).
 */
function check(posts: Posterior<[], unknown>[], exact: { logZ: number; mean: number; sd: number }, site: string, weigh?: (logWeights: number[], values: number[]) => number[]): { zZ: number; zMean: number } {
  const ratios: number[] = [];
  let zSum = 0;
  for (const post of posts) {
    const values = post.draws.map((d) => first(d.values[site]));
    let lw = post.draws.map((d) => d.logWeight);
    if (weigh) lw = weigh(lw, values);
    const top = Math.max(...lw);
    const w = lw.map((l) => Math.exp(l - top));
    const total = w.reduce((s, x) => s + x, 0);
    const logZ = top + Math.log(total / post.draws.length);
    ratios.push(Math.exp(logZ - exact.logZ));
    const mean = w.reduce((s, x, i) => s + x * values[i], 0) / total;
    const ess = total ** 2 / w.reduce((s, x) => s + x * x, 0);
    zSum += (mean - exact.mean) / (exact.sd / Math.sqrt(ess));
  }
  const m = ratios.reduce((s, r) => s + r, 0) / ratios.length;
  const sd = Math.sqrt(ratios.reduce((s, r) => s + (r - m) ** 2, 0) / (ratios.length - 1));
  return { zZ: (m - 1) / (sd / Math.sqrt(ratios.length)), zMean: zSum / Math.sqrt(posts.length) };
}

async function runs(m: Model<[], unknown>, batched: boolean, seeds: number, particles: number): Promise<Posterior<[], unknown>[]> {
  const out: Posterior<[], unknown>[] = [];
  for (let s = 1; s <= seeds; s++) {
    const post = (await infer(m, { method: 'importance', particles, seed: s, batched })) as Posterior<[], unknown>;
    expect(post.diagnostics.execution).toBe(batched ? 'batched' : 'per-particle');
    out.push(post);
  }
  return out;
}

describe('importance batched over particles: the same answers as per particle', () => {
  it.each([
    ['Dirichlet–Categorical', dirCat, DIRCAT, 'p'],
    ['linear regression', regression, REGRESSION, 'b'],
  ] as const)('%s: log Z unbiased and posterior means within Monte Carlo error, batched and per particle; planted: weights shuffled against their draws, and the likelihood counted 1.5 times', async (_name, m, exact, site) => {
    const batched = await runs(m, true, 8, 2000);
    const single = await runs(m, false, 4, 300);
    const z = [batched, single].map((posts) => check(posts, exact, site));
    for (const { zZ, zMean } of z) {
      expect(Math.abs(zZ)).toBeLessThan(4);
      expect(Math.abs(zMean)).toBeLessThan(4);
    }
    // the batched draws are weighed by the float64 record of the model
    expect(batched[0].diagnostics.weights).toBe('float64');
    // planted: each weight paired with another particle's draw (a row misaligned), and a likelihood counted 1.5 times
    const shuffled = check(batched, exact, site, (lw, values) => {
      const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
      const out = new Array<number>(lw.length);
      order.forEach(([, i], k) => (out[i] = lw[order[order.length - 1 - k][1]]));
      return out;
    });
    expect(Math.abs(shuffled.zMean)).toBeGreaterThan(4);
    const tempered = check(batched, exact, site, (lw) => lw.map((l) => 1.5 * l));
    expect(Math.abs(tempered.zZ)).toBeGreaterThan(4);
    const f = (x: number) => x.toFixed(2);
    console.log(`${_name}: z of mean Z/Z* and of the ${site} means, batched ${f(z[0].zZ)}, ${f(z[0].zMean)}; per particle ${f(z[1].zZ)}, ${f(z[1].zMean)}; planted: shuffled weights z ${f(shuffled.zMean)}, likelihood x1.5 z ${f(tempered.zZ)}`);
    for (const p of [...batched, ...single]) p.dispose();
  }, 120_000);

  it('warns when its weights collapse (ESS below 100), as the per-particle path does', async () => {
    // 20 observations far in the tail of the prior: one particle holds the weight
    const far = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(ops.mul(mu, tf.ones([20])), 0.1), tf.fill([20], 3));
      return mu;
    });
    for (const batched of [true, false]) {
      const post = await infer(far, { method: 'importance', particles: 500, seed: 3, batched });
      expect(post.diagnostics.execution).toBe(batched ? 'batched' : 'per-particle');
      expect(post.ess).toBeLessThan(100);
      expect(post.warnings.join('\n')).toMatch(/^ESS .* of \d+ draws is below 100/);
      post.dispose();
    }
  });
});

describe('importance: what runs per particle, and why', () => {
  // (the observation a tensor: a model whose log densities are all JS numbers runs per particle anyway)
  const normal = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 1));
    await observe('y', Normal(mu, 1), tf.tensor1d([1]));
    return mu;
  });

  it('a model whose log densities are JS numbers runs per particle (float64 there, float32 tensors batched); batched: true runs it batched', async () => {
    const numbers = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), 1);
      return mu;
    });
    const post = await infer(numbers, { method: 'importance', particles: 50, seed: 1 });
    expect(post.diagnostics).toMatchObject({ execution: 'per-particle', weights: 'float64', notBatched: expect.stringMatching(/JS numbers.*per particle/) });
    const forced = await infer(numbers, { method: 'importance', particles: 50, seed: 1, batched: true });
    expect(forced.diagnostics).toMatchObject({ execution: 'batched', weights: 'float32' });
  });

  it('scale on a latent site runs per particle and stays right (E[mu] = 0.5 under scale(m, 2))', async () => {
    const post = await infer(scale(normal, 2), { method: 'importance', particles: 4000, seed: 1 });
    expect(post.diagnostics.execution).toBe('per-particle');
    expect(String(post.diagnostics.notBatched)).toMatch(/scale or mask on a latent site/);
    const m = post.expectation((d) => d.values.mu as number);
    const sd = Math.sqrt(post.expectation((d) => (d.values.mu as number) ** 2) - m * m);
    expect(Math.abs(m - 0.5)).toBeLessThan((4 * sd) / Math.sqrt(post.ess));
  });

  it('a guide runs per particle; batched: true with a guide, or a batched option that is not one, is an error', async () => {
    const guide = model(async ({ sample }) => sample('mu', Normal(0.5, 0.8)));
    const post = await infer(normal, { method: 'importance', particles: 50, seed: 1, guide });
    expect(post.diagnostics).toMatchObject({ execution: 'per-particle', notBatched: 'a guide runs per particle' });
    await expect(infer(normal, { method: 'importance', particles: 50, guide, batched: true })).rejects.toThrow(/a guide runs per particle; it cannot be combined with batched: true/);
    await expect(infer(normal, { method: 'importance', particles: 50, batched: 'yes' as never })).rejects.toThrow(/batched must be .*true, false or 'auto', got '?yes'?/);
  });

  it('a program whose control flow depends on a draw runs per particle (batched: true throws why)', async () => {
    const branch = model(async ({ sample, observe }) => {
      const z = await sample('z', Normal(0, 1));
      if (ops.toNumber(z) > 0) await observe('y', Normal(z, 1), 1);
      return z;
    });
    const post = await infer(branch, { method: 'importance', particles: 100, seed: 1 });
    expect(post.diagnostics.execution).toBe('per-particle');
    await expect(infer(branch, { method: 'importance', particles: 100, seed: 1, batched: true })).rejects.toThrow();
  });
});

describe('a value that mixes particles (found: batched SMC returned the sum over all particles)', () => {
  // FOUND: `return tf.sum(shifted)` reduces over the particle axis too; program SMC's batched run returned
  // 31.38 as every particle's value where the particle's own was 0.31 (importance batched would have too)
  const sums = model(async ({ sample, observe, deterministic }) => {
    const mu = await sample('mu', Normal(tf.zeros([3]), 1));
    const shifted = tf.add(mu, 1);
    await observe('y', Normal(shifted, 1), [0.5, 1, 1.5]);
    await deterministic('total', tf.sum(shifted, -1));
    return tf.sum(shifted);
  });

  it.each(['smc', 'importance'] as const)('%s: runs per particle saying why, and each draw returns its own sum', async (method) => {
    const post = await infer(sums, { method, particles: 20, seed: 2 });
    expect(post.diagnostics.execution).toBe('per-particle');
    expect(String(post.diagnostics.notBatched)).toMatch(/returns .* where its row of the batched run holds .*mixes particles/);
    for (const d of post.draws.slice(0, 5)) {
      const own = Array.from((d.values.mu as tf.Tensor).dataSync()).reduce((s, x) => s + x + 1, 0);
      expect(first(d.returnValue)).toBeCloseTo(own, 4);
      expect(first(d.values.total)).toBeCloseTo(own, 4);
    }
    post.dispose();
  });

  it('a deterministic site that mixes particles is named', async () => {
    const det = model(async ({ sample, observe, deterministic }) => {
      const mu = await sample('mu', Normal(tf.zeros([3]), 1));
      await deterministic('mean', tf.mean(mu));
      await observe('y', Normal(mu, 1), [0.5, 1, 1.5]);
      return 0;
    });
    await expect(infer(det, { method: 'importance', particles: 20, seed: 1, batched: true })).rejects.toThrow(/deterministic site "mean": particle 0 run on its own has .*mixes particles/);
  });
});

describe('importance batched: abort and memory', () => {
  const long = model(async ({ sample, observe }) => {
    let x = await sample('x0', Normal(tf.zeros([2]), 1));
    for (let t = 1; t < 3000; t++) {
      x = await sample(`x${t}`, Normal(x, 1));
      await observe(`y${t}`, Normal(x, 1), [0, 0]);
    }
    return x;
  });

  it('an abort stops a batched run mid-way and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error('stop here')), 300);
    const t0 = Date.now();
    // (compile: false: recording the float64 weights of this 6000-site model takes ~36 s before any particle runs, and is not abortable)
    await expect(infer(long, { method: 'importance', particles: 200, seed: 1, batched: true, compile: false, signal: ctl.signal })).rejects.toThrow('stop here');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('holds only the draws: the same tensors after runs of 100 and 400 particles once disposed, one per draw kept', async () => {
    const before = tf.memory().numTensors;
    for (const particles of [100, 400]) {
      const post = await infer(dirCat, { method: 'importance', particles, seed: 1 });
      expect(post.diagnostics.execution).toBe('batched');
      // each draw keeps its value of p (the return value is the same tensor)
      expect(tf.memory().numTensors - before).toBe(post.size);
      post.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
