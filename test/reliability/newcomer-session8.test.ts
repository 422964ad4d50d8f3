/**
 * NEWCOMER, session 8: models written as a newcomer would, checked against
 * exact answers (conjugacy, quadrature, sums by hand) with MCSE tolerances.
 * Each statistical check has a planted wrong answer that the same check
 * rejects.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import * as tf from '@tensorflow/tfjs-core';
import { Bernoulli, Categorical, Gamma, Normal, Poisson, infer, model, ops, scale, toNumber } from '../../src/index.js';
import { maskHandler, scaleHandler } from '../../src/core/handlers.js';
import { numbersVersusTensors } from '../../src/infer/branch-check.js';
import { SVGD_FOUND_COUNTS, svgdCounts } from './newcomer-session8-fixtures.js';
import { PARTICLE_ESS_THRESHOLD, distinctValueEss, particleWarnings } from '../../src/infer/particle-warnings.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** |estimate - exact| within 4 standard errors. */
const within = (estimate: number, exact: number, se: number) => Math.abs(estimate - exact) <= 4 * se;

describe('importance and SMC whose weights collapse onto a few particles (found: a wrong posterior, sd 0, no warning)', () => {
  // FOUND: Poisson counts near 10^4 under a Gamma(2, 0.01) prior (prior mean 200). Importance (20000 particles, seed 1)
  // put all weight on one draw: lam 1214.55, sd 0, ess 1; SMC (4000 particles) resampled it into 4000 copies: lam 921.03,
  // sd 0, ess 4000. Exact: Gamma(40274, 4.01), mean 10043.39, sd 50.05. Neither engine warned (MH and VI did).
  const ys = [10234, 9876, 10112, 10050];
  const counts = model(async ({ sample, observe }, y: number[], rate: number = 0.01) => {
    const lam = await sample('lam', Gamma(2, rate));
    for (let i = 0; i < y.length; i++) await observe(`y${i}`, Poisson(lam), y[i]);
  });
  it('both engines warn, naming the ESS and where it fell', async () => {
    const imp = await infer(counts, { method: 'importance', particles: 2000, seed: 1 }, ys);
    expect(imp.ess).toBeLessThan(2);
    expect(imp.warnings.join('\n')).toMatch(/^ESS 1\.\d of 2000 draws is below 100: the weights rest on a few draws/);
    const smc = await infer(counts, { method: 'smc', particles: 1000, seed: 1 }, ys);
    expect(smc.ess).toBeGreaterThan(900); // (the final weights are equal: the copies look like draws)
    expect(smc.warnings.join('\n')).toMatch(/^the ESS fell to \d\.\d of 1000 particles at step 0 \(below 100; see diagnostics\.essHistory\)/);
    imp.dispose();
    smc.dispose();
  });
  it('small counts under a Gamma(2, 1) prior (weights that do not collapse): no warning, and importance is within 4 MCSE of the exact mean; planted: the prior mean is rejected', async () => {
    const small = [3, 1, 4];
    const a = 2 + 8, b = 1 + 3; // Gamma(2, 1) x Poisson: exact posterior Gamma(10, 4)
    const exact = a / b;
    const imp = await infer(counts, { method: 'importance', particles: 4000, seed: 2 }, small, 1);
    const smc = await infer(counts, { method: 'smc', particles: 2000, seed: 2 }, small, 1);
    expect(imp.warnings).toEqual([]);
    expect(smc.warnings).toEqual([]);
    const { mean, sd } = imp.moments('lam');
    const se = sd / Math.sqrt(imp.ess);
    expect(within(mean, exact, se)).toBe(true);
    expect(within(mean, 2 / 1, se)).toBe(false);
    imp.dispose();
    smc.dispose();
  });
  it('the rule: importance by its Kish ESS, SMC by the least ESS of its history (resampling hides it in the final weights)', () => {
    const at = (method: string, ess: number, essHistory?: number[]) => particleWarnings({ method, ess, size: 1000, diagnostics: essHistory ? { essHistory } : {}, draws: [], weights: new Float64Array(0) });
    expect(at('importance', PARTICLE_ESS_THRESHOLD)).toEqual([]);
    expect(at('importance', 42.4)[0]).toMatch(/^ESS 42 of 1000 draws is below 100/);
    expect(at('smc', 1000, [800, 500, 900])).toEqual([]);
    expect(at('smc', 1000, [800, 37, 900, 60])[0]).toMatch(/^the ESS fell to 37 of 1000 particles at step 1 /);
    expect(at('nuts', 3)).toEqual([]);
  });
});

describe('SMC on a static parameter: copies of a few early draws (found: ess 2000 reported, an ESS near 20 in fact, no warning)', () => {
  // FOUND: a Poisson switchpoint over 24 counts (tau uniform, rates Gamma(2, 1)), SMC at 2000 particles: every step's
  // ESS stayed above 284, the final ess read 2000, yet the rates had ~143 distinct values; over seeds 1-20 the mean of
  // l1 was 2.9126 +- 0.0233 (exact 2.9201: unbiased), a spread of 0.104 per run against the posterior sd ~0.47: an
  // ESS near 20. One run (seed 1, 4000 particles) read 2.9745 +- 0.0078 by its final ess: z 7.0. SMC now also warns
  // by the ESS over each continuous site's distinct values (15 for l1 and l2 at 2000 particles).
  const ys = [4, 5, 4, 1, 0, 4, 3, 4, 0, 6, 3, 3, 1, 1, 0, 1, 0, 1, 0, 0, 2, 1, 0, 1];
  const switchpoint = model(async ({ sample, observe }, y: number[]) => {
    const tau = toNumber(await sample('tau', Categorical(new Array(y.length).fill(1 / y.length))));
    const l1 = await sample('l1', Gamma(2, 1));
    const l2 = await sample('l2', Gamma(2, 1));
    for (let t = 0; t < y.length; t++) await observe(`y${t}`, Poisson(t < tau ? l1 : l2), y[t]);
  });
  it('the warning names the rates and their ESS over distinct values (tau, a discrete site, is left out)', async () => {
    const post = await infer(switchpoint, { method: 'smc', particles: 1000, seed: 1 }, ys);
    expect(Math.min(...(post.diagnostics.essHistory as number[]))).toBeGreaterThan(PARTICLE_ESS_THRESHOLD);
    expect(post.warnings.join('\n')).toMatch(/^ESS over distinct values below 100 of 1000 particles \(l[12] \d+(\.\d)?, l[12] \d+(\.\d)?\): most particles carry copies of a few values/);
    post.dispose();
  });
  it('distinctValueEss: copies merged; integer-valued and single-valued sites left out', () => {
    const w = new Float64Array(1000).fill(1 / 1000);
    const draws = Array.from({ length: 1000 }, (_, i) => ({ values: { a: (i % 10) + 0.5, b: i + 0.25, k: i % 3, c: 0.5 }, returnValue: undefined, logWeight: 0 }));
    const e = distinctValueEss(draws, w);
    expect(e.get('a')).toBeCloseTo(10, 9);
    expect(e.get('b')).toBeCloseTo(1000, 6);
    expect(e.has('k')).toBe(false);
    expect(e.has('c')).toBe(false);
  });
  it('distinctValueEss with a threshold: exactly the sites under it, with their exact values, also with unequal weights (the bound only rules sites out)', () => {
    const n = 2000;
    const w = Float64Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % 13)); // unequal, unnormalised
    // site sK: n / K distinct values (K copies each); ESS about n / K, so those with K >= 20 fall under 100
    const ks = [1, 5, 10, 19, 20, 40, 400];
    const draws = Array.from({ length: n }, (_, i) => ({ values: Object.fromEntries(ks.map((k) => [`s${k}`, Math.floor(i / k) + 0.5])), returnValue: undefined, logWeight: 0 }));
    const all = distinctValueEss(draws, w);
    const under = distinctValueEss(draws, w, 100);
    const expected = [...all].filter(([, e]) => e < 100);
    expect(expected.length).toBeGreaterThan(1);
    expect(expected.length).toBeLessThan(ks.length);
    expect([...under].sort()).toEqual(expected.sort());
  });
});

describe('scale and mask handlers on latent sites under importance and SMC (found: both ignored them, MCMC and VI did not)', () => {
  // FOUND: mu ~ N(0, 1), y ~ N(mu, 1), y = 1, under scale(m, 2) (target p(mu, y)^2: mu ~ N(0.5, 0.5^2)). NUTS, MH and VI
  // gave 0.508, 0.492, 0.500; importance (20000 particles, seed 1) gave 0.6656 +- 0.0054 (z 30.6) and SMC (4000) 0.6571,
  // the answer with the prior left unscaled (N(2/3, 1/3)): draws from the prior were weighed by the likelihood alone. Now a latent site drawn
  // from its prior adds its scaled-and-masked log density minus the one it was drawn from (core/trace priorDrawCorrection),
  // on the number path and the compiled float64 path alike, in SMC's general runtime (the batched one hands such a
  // site to it), and in tempered's per-particle path (the compiled one hands it over; tempered gave 0.6572 before).
  const numbers = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 1));
    await observe('y', Normal(mu, 1), 1);
  });
  const tensors = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(tf.scalar(0), 1));
    await observe('y', Normal(mu, 1), tf.scalar(1));
  });
  const cases = [
    { name: 'scale(m, 2)', wrap: (m: typeof numbers) => scale(m, 2), exact: 0.5, unscaledPrior: 2 / 3 },
    { name: "scale 3 on 'mu' alone", wrap: (m: typeof numbers) => m.withHandler(scaleHandler(3, ['mu'])), exact: 0.25, unscaledPrior: 0.5 },
    { name: "mask false on 'mu' (flat prior)", wrap: (m: typeof numbers) => m.withHandler(maskHandler(false, ['mu'])), exact: 1, unscaledPrior: 0.5 },
  ];
  it('importance, SMC and tempered, numbers and tensors: each within 4 MCSE of the exact mean; planted: the answer with the prior unscaled is rejected', async () => {
    for (const method of ['importance', 'smc', 'tempered'] as const) {
      for (const [kind, m] of [['numbers', numbers], ['tensors', tensors]] as const) {
        for (const c of cases) {
          const post = await infer(c.wrap(m), { method, particles: 1000, seed: 3 });
          const { mean, sd } = post.moments('mu');
          // SMC's and tempered's steps: the least ESS of their weights, plus the multinomial resampling's own variance
          const history = post.diagnostics.essHistory as number[] | undefined;
          const se = method === 'importance' ? sd / Math.sqrt(post.ess) : sd * Math.sqrt(1 / Math.min(...history!) + 1 / post.size);
          expect(within(mean, c.exact, se), `${method}, ${kind}, ${c.name}: ${mean} +- ${se}`).toBe(true);
          expect(within(mean, c.unscaledPrior, se), `${method}, ${kind}, ${c.name}: planted`).toBe(false);
          post.dispose();
        }
      }
    }
  });
});

describe('a plate with a random subsample under VI (found: "the model branches on a tensor comparison", which it does not)', () => {
  // FOUND: y_i ~ N(mu, 1) for 200 points in plate('data', 200, ..., { subsample: 20 }): VI and NUTS stopped with the
  // branch-on-tensor error at site "y". The check ran the model twice (numbers, tensors) on one advancing stream, so the
  // two runs drew different subsamples and scored different data. Each run now starts the model's own stream alike.
  // With the fix VI (seed 1) gave mu 1.5717, then read as right against an "exact 1.5730 +- 0.0707"; the exact posterior
  // mean is 1.4986 (sum(y) / (200 + 1/100)). Session 9 (SUBSAMPLE, subsample-session9.test.ts): 1.4751 +- 0.0743.
  const ys = Array.from({ length: 200 }, (_, i) => 1.5 + Math.sin(i * 1.7) * 1.2);
  const yT = tf.tensor1d(ys);
  const sub = model(async ({ sample, plate }, size: number | undefined) => {
    const mu = await sample('mu', Normal(0, 10));
    await plate('data', ys.length, async (idx, p) => {
      await p.observe('y', Normal(mu, 1), tf.gather(yT, tf.tensor1d(idx, 'int32')));
    }, { subsample: size });
  });
  // planted: a model that does branch on a tensor (a tensor is always truthy) still disagrees
  const branches = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 10));
    await observe('y', Normal(ops.gt(mu, 0) ? 1 : 0, 1), 0.3);
  });
  it('NUTS, HMC and hmc-gibbs refuse a subsampled plate, naming it and pointing to VI (found: "the step size fell to 0 while searching for a start; is the gradient correct?")', async () => {
    for (const method of ['nuts', 'hmc'] as const) {
      await expect(infer(sub, { method, chains: 1, warmup: 10, samples: 10, seed: 1 }, 20)).rejects.toThrow(
        new RegExp(`^${method}: plate "data" takes a subsample \\(20 of 200\\), so the log density is a subsample's .* or use method 'vi'`),
      );
    }
    const withLabel = model(async ({ sample, plate }) => {
      const z = toNumber(await sample('z', Bernoulli(0.5)));
      const mu = await sample('mu', Normal(z, 10));
      await plate('data', ys.length, async (idx, p) => {
        await p.observe('y', Normal(mu, 1), tf.gather(yT, tf.tensor1d(idx, 'int32')));
      }, { subsample: 20 });
    });
    await expect(infer(withLabel, { method: 'hmc-gibbs', chains: 1, warmup: 10, samples: 10, seed: 1 })).rejects.toThrow(/^hmc-gibbs: plate "data" takes a subsample \(20 of 200\)/);
    const full = await infer(sub, { method: 'nuts', chains: 1, warmup: 10, samples: 10, seed: 1 }, undefined);
    expect(full.size).toBe(10);
    full.dispose();
  });
  it('the numbers-versus-tensors check finds no disagreement with a subsample; a real branch is still found', async () => {
    expect((await numbersVersusTensors(sub, [20], { seed: 1 })).disagreement).toBeUndefined();
    expect((await numbersVersusTensors(sub, [undefined], { seed: 1 })).disagreement).toBeUndefined();
    expect((await numbersVersusTensors(branches, [], { seed: 1 })).disagreement?.site).toBe('y');
  });
});

describe('SVGD stopped far from the posterior (found: lam 311 against the exact 10043, no warning)', () => {
  // FOUND: Poisson counts near 1e4, lam ~ Gamma(2, 0.01): SVGD at lr 0.01 and its default 500 steps ended with lam
  // 311 +- 301 (exact 10043.39 +- 50.05) and no warning; its mean log density was still rising by ~1e5 nats. SVGD now
  // warns, as VI does, when the last window of steps still improved on the one before (vi/convergence.ts lossTrend).
  // The planted run at the found scale (2000 steps, ~20 s) is in newcomer-session8.slow.test.ts; here the same model
  // on counts near 10 settles in 200 steps at lr 0.05 (lam 10.92, exact Gamma(44, 4.01) mean 10.97).
  it('a run still climbing warns; planted: a run that has settled (counts near 10, lr 0.05, 200 steps) does not', async () => {
    const short = await infer(svgdCounts, { method: 'svgd', particles: 50, steps: 300, lr: 0.01, seed: 1 }, SVGD_FOUND_COUNTS);
    expect(short.warnings.join('\n')).toMatch(/^svgd: the particles' mean log density was still rising when the 300 steps ended \(by [0-9.e+]+ ± [0-9.e+]+ nats between the last two windows of 30 steps\)/);
    expect(Math.abs(short.moments('lam').mean - 10043.39)).toBeGreaterThan(1000);
    const settled = await infer(svgdCounts, { method: 'svgd', particles: 50, steps: 200, lr: 0.05, seed: 1 }, [10, 9, 12, 11]);
    expect(settled.warnings).toEqual([]);
    short.dispose();
    settled.dispose();
  });
});
