/**
 * Slow tier of `newcomer-session5.test.ts` (TYCHE_SLOW=1): the statistical checks of the session's
 * new fast paths on newcomer models, against exact answers, each with a planted wrong answer that
 * fails:
 *
 * - compiled tempered SMC (population HMC) and float64 importance weights: log Z and posterior
 *   means of a Beta-Bernoulli model (a constrained site, observations in a JS loop over a closed-over
 *   array) and of a normal-normal model with tensor data, over replicate seeds, within 4 standard
 *   errors of the closed forms; a model mixing a discrete and a continuous site falls back and stays
 *   right;
 * - NUTS on an `odeSolve` model (rhs closing over data), on Uniform(0, theta) data (a support that
 *   depends on the parameter) and on observations of Truncated(Normal) with a latent location:
 *   posterior means within 4 MCSE of quadrature on a grid.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Bernoulli, Beta, Gamma, Normal, Truncated, Uniform, infer, model, odeSolve, ops } from '../../src/index.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { meanSE, zOf as z } from '../stats.js';

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;


/** z-score of a posterior mean (summary row) against an exact value, using the row's MCSE. */
function zOf(post: Posterior<never[], unknown>, name: string, exact: number): number {
  const row = post.summary().rows.find((r) => r.name === name);
  if (!row) throw new Error(`no summary row ${name}`);
  return (row.mean - exact) / Number(row.mcse_mean);
}

/** Posterior mean of a scalar by a fine grid (trapezoid) over its log density. */
function gridMean(logp: (x: number) => number, lo: number, hi: number, n = 20000): number {
  const xs = Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
  const lp = xs.map(logp);
  const m = Math.max(...lp);
  let w = 0; let s = 0;
  xs.forEach((x, i) => { const e = Math.exp(lp[i]! - m) * (i === 0 || i === n ? 0.5 : 1); w += e; s += e * x; });
  return s / w;
}

const lgamma = (x: number): number => { // Lanczos, double precision
  const g = 7; const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lgamma(1 - x);
  x -= 1; let a = c[0]!; const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
};
const lbeta = (a: number, b: number): number => lgamma(a) + lgamma(b) - lgamma(a + b);

slow('compiled tempered SMC and float64 importance: replicate log Z and means vs closed forms', () => {
  const flips = [1, 0, 1, 1, 1, 0, 1, 1];
  const bb = model(async ({ sample, observe }) => {
    const p = await sample('p', Beta(2, 3));
    for (let k = 0; k < flips.length; k++) await observe(`f${k}`, Bernoulli(p), flips[k]!);
  });
  const h = flips.filter((f) => f === 1).length;
  const n = flips.length;
  const exactBB = (a: number, b: number): { logZ: number; mean: number } => ({ logZ: lbeta(a + h, b + n - h) - lbeta(a, b), mean: (a + h) / (a + b + n) });
  const ys = [0.9, 1.4, 0.2, 1.1, 0.7];
  const nn = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 1));
    await observe('y', Normal(mu, 0.5), tf.tensor1d(ys));
  });
  const exactNN = (data: number[]): { logZ: number; mean: number } => {
    const s2 = 0.25; const m = data.length;
    const sum = data.reduce((a, b) => a + b, 0); const ss = data.reduce((a, b) => a + b * b, 0);
    const logdet = m * Math.log(s2) + Math.log(1 + m / s2);
    const quad = ss / s2 - (sum * sum) / (s2 * s2) / (1 + m / s2);
    return { logZ: -0.5 * (m * Math.log(2 * Math.PI) + logdet + quad), mean: sum / s2 / (1 + m / s2) };
  };
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];

  for (const method of ['tempered', 'importance'] as const) {
    const opts = method === 'tempered' ? { method, particles: 256 } : { method, particles: 4000 };
    it(`${method}: Beta-Bernoulli and normal-normal, compiled path, 8 seeds within 4 SE; planted wrong prior fails`, async () => {
      for (const [m, site, ex, wrong] of [[bb, 'p', exactBB(2, 3), exactBB(3, 2)], [nn, 'mu', exactNN(ys), exactNN(ys.slice(1))]] as const) {
        const lz: number[] = []; const mean: number[] = [];
        for (const seed of seeds) {
          const post = await infer(m as typeof bb, { ...opts, seed });
          expect(String(method === 'tempered' ? post.diagnostics.path : post.diagnostics.weights)).toBe(method === 'tempered' ? 'compiled' : 'float64');
          lz.push(post.logZ);
          mean.push(post.moments(site).mean);
          post.dispose();
        }
        console.log(method, site, 'logZ', meanSE(lz), ex.logZ, 'mean', meanSE(mean), ex.mean);
        expect(Math.abs(z(lz, ex.logZ))).toBeLessThan(4);
        expect(Math.abs(z(mean, ex.mean))).toBeLessThan(4);
        // planted: the closed form of another prior (or one observation dropped) is rejected
        expect(Math.abs(z(lz, wrong.logZ)) > 4 || Math.abs(z(mean, wrong.mean)) > 4).toBe(true);
      }
    });
  }

  it('tempered: a discrete site next to a continuous one falls back (reason names the site) and stays right', async () => {
    const mixed = model(async ({ sample, observe }) => {
      const k = await sample('k', Bernoulli(0.5));
      const mu = await sample('mu', Normal(ops.mul(k, 2), 1));
      await observe('y', Normal(mu, 1), 1.5);
    });
    const np = (x: number, m: number, v: number): number => Math.exp((-0.5 * (x - m) ** 2) / v) / Math.sqrt(2 * Math.PI * v);
    const exact = Math.log(0.5 * np(1.5, 0, 2) + 0.5 * np(1.5, 2, 2));
    const lz: number[] = [];
    for (const seed of seeds.slice(0, 6)) {
      const post = await infer(mixed, { method: 'tempered', particles: 256, seed });
      expect(String(post.diagnostics.notCompiled)).toMatch(/site "k": Bernoulli is discrete/);
      lz.push(post.logZ);
      post.dispose();
    }
    console.log('mixed logZ', meanSE(lz), exact);
    expect(Math.abs(z(lz, exact))).toBeLessThan(4);
    expect(Math.abs(z(lz, Math.log(np(1.5, 0, 2))))).toBeGreaterThan(4); // planted: the k = 0 component alone
  });
});

slow('NUTS (compiled, vectorised) on custom-op models vs quadrature', () => {
  it('odeSolve decay model: posterior mean of k within 4 MCSE; planted: the quadrature from a wrong initial value (2.2) fails', { timeout: 180_000 }, async () => {
    const ts = [0.5, 1, 2, 3];
    const yObs = [1.2, 0.75, 0.27, 0.12];
    const decay = model(async ({ sample, observe }, data: number[]) => {
      const k = await sample('k', Gamma(2, 2));
      const rhs = (_t: number, y: Float64Array, th: Float64Array): number[] => [-th[0]! * y[0]!];
      // maxSteps: far warmup proposals (k ~ 1e7) otherwise run rk45 to its default 1e6 steps (~5 s each)
      const zz = odeSolve(rhs, [2], 0, ts, tf.reshape(k as unknown as tf.Tensor, [1]), { maxSteps: 20000 });
      await observe('y', Normal(tf.reshape(zz, [ts.length]), 0.1), tf.tensor1d(data));
    });
    const logp = (k: number, y0 = 2): number => Math.log(k) - 2 * k + ts.reduce((s, t, i) => s - 0.5 * ((yObs[i]! - y0 * Math.exp(-k * t)) / 0.1) ** 2, 0);
    const post = await infer(decay, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 2 }, yObs);
    expect(post.diagnostics.compiled).toBe(true);
    const exact = gridMean((k) => logp(k), 1e-6, 3);
    console.log('ode k', post.moments('k'), exact, zOf(post as never, 'k', exact));
    expect(Math.abs(zOf(post as never, 'k', exact))).toBeLessThan(4);
    expect(Math.abs(zOf(post as never, 'k', gridMean((k) => logp(k, 2.2), 1e-6, 3)))).toBeGreaterThan(4);
    post.dispose();
  });

  it('NUTS (compiled) on Uniform(0, theta) data: posterior mean within 4 MCSE of quadrature; planted: the quadrature bounded by the wrong datum (1.2) fails', { timeout: 180_000 }, async () => {
    const xsU = [0.5, 1.2, 0.9, 1.6];
    const m = model(async ({ sample, observe }) => {
      const theta = await sample('theta', Gamma(2, 1));
      await observe('x', Uniform(0, theta), tf.tensor1d(xsU));
    });
    // p(theta | x) proportional to theta e^-theta theta^-4 on theta > max x
    const mean = (lo: number): number => {
      let w = 0; let m1 = 0;
      for (let i = 0; i < 200000; i++) { const t = lo + (i + 0.5) * 1e-4; const e = t ** -3 * Math.exp(-t); w += e; m1 += e * t; }
      return m1 / w;
    };
    const post = await infer(m, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 8 });
    expect(post.diagnostics.compiled).toBe(true);
    console.log('uniform theta', post.moments('theta'), mean(1.6), zOf(post as never, 'theta', mean(1.6)), JSON.stringify(post.diagnostics.compileStats));
    expect(Math.abs(zOf(post as never, 'theta', mean(1.6)))).toBeLessThan(4);
    expect(Math.abs(zOf(post as never, 'theta', mean(1.2)))).toBeGreaterThan(4); // planted: a bound from the wrong datum
    post.dispose();
  });
  it('Truncated(Normal(mu, 1), low 0) observations: posterior mean of mu within 4 MCSE; planted: the untruncated likelihood fails', async () => {
    const data = [0.05, 0.3, 0.12, 0.8, 0.02, 0.4];
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 2));
      await observe('y', Truncated(Normal(mu, 1), { low: 0 }), tf.tensor1d(data));
    });
    // log Phi(mu) by erfc in double precision (complementary error function, Numerical Recipes' erfcc)
    const erfc = (x: number): number => { const zz = Math.abs(x); const t = 1 / (1 + 0.5 * zz); const r = t * Math.exp(-zz * zz - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))); return x >= 0 ? r : 2 - r; };
    const logPhi = (x: number): number => Math.log(0.5 * erfc(-x / Math.SQRT2));
    const logp = (mu: number, truncated = true): number => -mu * mu / 8 + data.reduce((s, y) => s - 0.5 * (y - mu) ** 2 - (truncated ? logPhi(mu) : 0), 0);
    const post = await infer(m, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 5 });
    expect(post.diagnostics.compiled).toBe(true);
    const exact = gridMean((mu) => logp(mu), -12, 6);
    console.log('trunc mu', post.moments('mu'), exact, zOf(post as never, 'mu', exact));
    expect(Math.abs(zOf(post as never, 'mu', exact))).toBeLessThan(4);
    expect(Math.abs(zOf(post as never, 'mu', gridMean((mu) => logp(mu, false), -12, 6)))).toBeGreaterThan(4);
    post.dispose();
  });
});
