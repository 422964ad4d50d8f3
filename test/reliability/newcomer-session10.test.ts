/**
 * NEWPPL, session 10: models and calls written as a newcomer would, on ground
 * the earlier sessions had not covered, checked against exact answers
 * (conjugacy, sums by hand) with Monte Carlo standard-error tolerances. Each
 * test fails on the code before its fix (the old figures are in the titles);
 * each statistical check rejects a planted wrong answer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import * as tf from '@tensorflow/tfjs-core';
import { Beta, Categorical, Delta, Dirichlet, Exponential, Gamma, LogNormal, Mixture, MultivariateNormal, NegativeBinomial, Normal, Poisson, Transformed, Uniform, infer, iwae, model, ops } from '../../src/index.js';
import { Affine, Exp } from '../../src/transforms/index.js';
import { SVI } from '../../src/infer/vi/svi.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** |estimate - exact| within 4 standard errors. */
const within = (estimate: number, exact: number, se: number) => Math.abs(estimate - exact) <= 4 * se;
const lnorm = (x: number, m: number, s: number) => -0.5 * ((x - m) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);
/** Posterior means of x and y on a grid, from an unnormalised log density. */
function grid2(logp: (x: number, y: number) => number, [xl, xh]: [number, number], [yl, yh]: [number, number], n = 401): { x: number; y: number; sdY: number } {
  const ls: number[] = [];
  let m = -Infinity;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) ls.push(logp(xl + ((xh - xl) * (i + 0.5)) / n, yl + ((yh - yl) * (j + 0.5)) / n));
  for (const v of ls) if (v > m) m = v;
  let z = 0, sx = 0, sy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const w = Math.exp(ls[i * n + j]! - m);
      const x = xl + ((xh - xl) * (i + 0.5)) / n, y = yl + ((yh - yl) * (j + 0.5)) / n;
      z += w; sx += w * x; sy += w * y; syy += w * y * y;
    }
  }
  return { x: sx / z, y: sy / z, sdY: Math.sqrt(syy / z - (sy / z) ** 2) };
}
/** A posterior mean and its MCSE: importance by its Kish ESS, MCMC by the site's bulk ESS. */
function meanAndSe(post: { ess: number; method: string; moments(n: string): { mean: number; sd: number }; summary(): { rows: { name: string; ess_bulk?: number | string }[] } }, site: string): { mean: number; se: number } {
  const { mean, sd } = post.moments(site);
  const ess = post.method === 'importance' ? post.ess : (post.summary().rows.find((r) => r.name === site)!.ess_bulk as number);
  return { mean, se: sd / Math.sqrt(ess) };
}

describe('zero inflation written as Mixture with a point mass (found: a point mass added to a density, a silently wrong posterior; with counts or a positive density, refused)', () => {
  it('logProb: at the point, the point\'s weight alone; elsewhere the density (was log(0.3 + 0.7 N(0; 0, 1)) at 0); numbers and tensors agree; the weight\'s gradient is finite', () => {
    const d = Mixture(Categorical([0.3, 0.7]), [Delta(0), Normal(0, 1)]);
    expect(d.logProb(0)).toBeCloseTo(Math.log(0.3), 12);
    expect(d.logProb(1.5)).toBeCloseTo(Math.log(0.7) + lnorm(1.5, 0, 1), 12);
    tf.tidy(() => {
      const v = (d.logProb(tf.tensor1d([0, 1.5])) as tf.Tensor).dataSync();
      expect(v[0]).toBeCloseTo(Math.log(0.3), 5);
      expect(v[1]).toBeCloseTo(Math.log(0.7) + lnorm(1.5, 0, 1), 5);
      // beside Gamma(2, 1), whose density is 0 at the point: the gradient in the weight is finite (no NaN from the side not taken)
      const g = tf.grad((p: tf.Tensor) => tf.sum(Mixture(Categorical([p, tf.sub(1, p)]), [Delta(0), Gamma(2, 1)]).logProb(tf.tensor1d([0, 0, 1.5])) as tf.Tensor))(tf.scalar(0.4));
      // d/dp [2 log p + log(1 - p)] at 0.4
      expect(g.dataSync()[0]).toBeCloseTo(2 / 0.4 - 1 / 0.6, 4);
    });
    // a batch of points given as a tensor is a point mass too (it took the mass-plus-density sum)
    tf.tidy(() => {
      const v = (Mixture(Categorical([0.3, 0.7]), [Delta(tf.zeros([3])), Normal(tf.zeros([3]), 1)]).logProb(tf.tensor1d([0, 1, 0])) as tf.Tensor).dataSync();
      expect(Array.from(v).map((x) => Number(x.toFixed(5)))).toEqual([Math.log(0.3), Math.log(0.7) + lnorm(1, 0, 1), Math.log(0.3)].map((x) => Number(x.toFixed(5))));
    });
    expect(() => Mixture(Categorical([0.3, 0.7]), [Delta([0, 0], { eventDim: 1 }), MultivariateNormal([0, 0], { scaleTril: [[1, 0], [0, 1]] })])).toThrow(/only scalar point masses/);
    // a support away from 0 and 1 (the density side is evaluated at a point inside it where the value is an atom)
    tf.tidy(() => {
      const v = (Mixture(Categorical([0.3, 0.7]), [Delta(5), Uniform(4, 6)]).logProb(tf.tensor1d([5, 4.5, 7])) as tf.Tensor).dataSync();
      expect(v[0]).toBeCloseTo(Math.log(0.3), 5);
      expect(v[1]).toBeCloseTo(Math.log(0.35), 5);
      expect(v[2]).toBe(-Infinity);
    });
    // counts: a mass beside masses (zero-inflated Poisson) adds up, as before
    expect(Mixture(Categorical([0.3, 0.7]), [Delta(0), Poisson(2)]).logProb(0)).toBeCloseTo(Math.log(0.3 + 0.7 * Math.exp(-2)), 12);
    expect(() => Mixture(Categorical([0.3, 0.7]), [Delta(-1), Gamma(2, 1)])).toThrow(/components\[0\] is a point mass at -1, outside the support of the other components \(nonnegative\)/);
  });

  it('zero-inflated Normal under importance and NUTS: E[mu] within 4 MCSE of the exact 2.1382 (was 1.974 and 1.961, no warning); planted: the mass-plus-density posterior (quadrature) is rejected', async () => {
    const y = [0, 0, 0, 0, 2.1, 2.5, 1.9];
    const zin = model(async ({ sample, observe }) => {
      const pi = await sample('pi', Beta(1, 1));
      const mu = await sample('mu', Normal(0, 5));
      for (let i = 0; i < y.length; i++) await observe(`y${i}`, Mixture(Categorical([pi, ops.sub(1, pi)]), [Delta(0), Normal(mu, 1)]), y[i]);
    });
    // exact: the zeros inform pi alone, mu | the rest ~ N(sum / (3 + 1/25), 1 / (3 + 1/25))
    const exact = (2.1 + 2.5 + 1.9) / (3 + 1 / 25);
    const old = grid2((pi, mu) => lnorm(mu, 0, 5) + y.reduce((a, v) => a + (v === 0 ? Math.log(pi + (1 - pi) * Math.exp(lnorm(0, mu, 1))) : Math.log(1 - pi) + lnorm(v, mu, 1)), 0), [0, 1], [-4, 8]);
    for (const opts of [{ method: 'importance', particles: 20000, seed: 1 }, { method: 'nuts', chains: 4, warmup: 400, samples: 600, seed: 1 }] as const) {
      const post = await infer(zin, opts);
      expect(post.warnings).toEqual([]);
      const { mean, se } = meanAndSe(post, 'mu');
      expect(within(mean, exact, se)).toBe(true);
      expect(within(mean, old.y, se)).toBe(false);
      post.dispose();
    }
  });

  it('zero-inflated Poisson Mixture([Delta(0), Poisson(lam)]) runs (was refused: "components must share one support, got real, nonnegativeInteger"): importance within 4 MCSE of quadrature; planted: the Poisson-only answer is rejected', async () => {
    const y = [0, 0, 0, 1, 2, 0, 3, 0, 4, 2];
    const zip = model(async ({ sample, observe }) => {
      const pi = await sample('pi', Beta(1, 1));
      const lam = await sample('lam', Gamma(2, 1));
      for (let i = 0; i < y.length; i++) await observe(`y${i}`, Mixture(Categorical([pi, ops.sub(1, pi)]), [Delta(0), Poisson(lam)]), y[i]);
    });
    const lfact = (k: number): number => (k <= 1 ? 0 : Math.log(k) + lfact(k - 1));
    const q = grid2((pi, lam) => Math.log(lam) - lam + y.reduce((a, k) => a + (k === 0 ? Math.log(pi + (1 - pi) * Math.exp(-lam)) : Math.log(1 - pi) + k * Math.log(lam) - lam - lfact(k)), 0), [0, 1], [0, 10]);
    // planted: no zero inflation, lam | y ~ Gamma(2 + sum y, 1 + n)
    const poissonOnly = (2 + y.reduce((a, b) => a + b, 0)) / (1 + y.length);
    const post = await infer(zip, { method: 'importance', particles: 20000, seed: 1 });
    expect(post.warnings).toEqual([]);
    const { mean, se } = meanAndSe(post, 'lam');
    expect(within(mean, q.y, se)).toBe(true);
    expect(within(mean, poissonOnly, se)).toBe(false);
    post.dispose();
  });

  it('zero-inflated Gamma (rain amounts with dry days) under NUTS: the rate within 4 MCSE of its exact conjugate mean (was refused: a point mass at 0 beside Gamma\'s open support); planted: the answer counting the zeros as Gamma data is rejected', async () => {
    const rain = [0, 0, 1.2, 0, 3.4, 0.6, 0, 2.2, 0.9];
    const wet = rain.filter((v) => v > 0);
    const zig = model(async ({ sample, observe }) => {
      const pi = await sample('pi', Beta(1, 1));
      const b = await sample('b', Gamma(2, 1));
      await observe('rain', Mixture(Categorical([pi, ops.sub(1, pi)]), [Delta(0), Gamma(2, b)]), tf.tensor1d(rain));
    });
    // exact: b | wet days ~ Gamma(2 + 2 n, 1 + sum), the dry days inform pi alone
    const exact = (2 + 2 * wet.length) / (1 + wet.reduce((a, v) => a + v, 0));
    const zerosCounted = (2 + 2 * rain.length) / (1 + wet.reduce((a, v) => a + v, 0));
    const post = await infer(zig, { method: 'nuts', chains: 4, warmup: 400, samples: 600, seed: 1 });
    expect(post.warnings).toEqual([]);
    const { mean, se } = meanAndSe(post, 'b');
    expect(within(mean, exact, se)).toBe(true);
    expect(within(mean, zerosCounted, se)).toBe(false);
    expect(within(post.moments('pi').mean, 5 / 11, meanAndSe(post, 'pi').se)).toBe(true);
    post.dispose();
  });
});

describe('a hurdle LogNormal, Mixture([Delta(0), LogNormal(mu, 1)]) (found: refused, 0 outside LogNormal\'s open support)', () => {
  it('the support is [0, inf), 0 scores the point\'s weight; NUTS within 4 MCSE of the exact mean of mu; planted: the prior mean 0 is rejected', async () => {
    const d = Mixture(Categorical([0.3, 0.7]), [Delta(0), LogNormal(0, 1)]);
    expect(d.support.name).toBe('nonnegative');
    expect(d.logProb(0) as number).toBeCloseTo(Math.log(0.3), 12);
    const rain = [0, 0, 1.2, 0, 3.4, 0.6, 0, 2.2, 0.9];
    const hurdle = model(async ({ sample, observe }) => {
      const pi = await sample('pi', Beta(1, 1));
      const mu = await sample('mu', Normal(0, 5));
      await observe('rain', Mixture(Categorical([pi, ops.sub(1, pi)]), [Delta(0), LogNormal(mu, 1)]), tf.tensor1d(rain));
    });
    // exact: mu | log of the wet days ~ N(sum / (n + 1/25), 1 / (n + 1/25))
    const logs = rain.filter((v) => v > 0).map(Math.log);
    const exact = logs.reduce((a, b) => a + b, 0) / (logs.length + 1 / 25);
    const post = await infer(hurdle, { method: 'nuts', chains: 4, warmup: 400, samples: 600, seed: 1 });
    expect(post.warnings).toEqual([]);
    const { mean, se } = meanAndSe(post, 'mu');
    expect(within(mean, exact, se)).toBe(true);
    expect(within(mean, 0, se)).toBe(false);
    post.dispose();
  });
});

describe('a spike-and-slab prior, Mixture([Delta(0), Normal(0, 1)]) on a latent site (found: NUTS and VI never visited the spike, silently: P(b = 0) 0 against the exact 0.5803, E[b] 0.130 against 0.063)', () => {
  const spike = model(async ({ sample, observe }) => {
    const b = await sample('b', Mixture(Categorical([0.5, 0.5]), [Delta(0), Normal(0, 1)]));
    await observe('y', Normal(b, 1), 0.3);
  });
  const n = (x: number, v: number) => Math.exp((-x * x) / (2 * v)) / Math.sqrt(2 * Math.PI * v);
  const exact = n(0.3, 1) / (n(0.3, 1) + n(0.3, 2));

  it('gradient engines (nuts, hmc-gibbs, vi) refuse the site, naming it and what to use', async () => {
    for (const opts of [{ method: 'nuts', chains: 1, warmup: 20, samples: 20, seed: 1 }, { method: 'hmc-gibbs', chains: 1, warmup: 20, samples: 20, seed: 1 }, { method: 'vi', steps: 10, seed: 1 }] as const) {
      await expect(infer(spike, opts)).rejects.toThrow(/site "b": Mixture puts point masses \(at 0\) beside a density; gradient-based samplers and autoguides see only the density/);
    }
  });

  it('importance: P(b = 0 | y) within 4 MCSE of the exact 0.5803; planted: the slab-only answer 0 is rejected', async () => {
    const post = await infer(spike, { method: 'importance', particles: 20000, seed: 1 });
    const p0 = post.expectation((d) => (d.values.b === 0 ? 1 : 0));
    const se = Math.sqrt((exact * (1 - exact)) / post.ess);
    expect(within(p0, exact, se)).toBe(true);
    expect(within(0, exact, se)).toBe(false);
    post.dispose();
  });
});

describe('Gamma at 0 (found: "outside the support of Gamma (positive)" on every engine, while Exponential(lam), the same as Gamma(1, lam), scored it)', () => {
  const t = [0, 0.7, 1.5, 0.2];
  const waits = model(async ({ sample, observe }) => {
    const lam = await sample('lam', Gamma(2, 1));
    for (let i = 0; i < t.length; i++) await observe(`t${i}`, Gamma(1, lam), t[i]);
  });

  it('Gamma(1, lam) waiting times with a 0 under importance and NUTS: within 4 MCSE of the exact Gamma(6, 3.4) mean; planted: the prior mean 2 is rejected; Exponential agrees at 0', async () => {
    expect(Gamma(1, 2.5).logProb(0)).toBeCloseTo(Exponential(2.5).logProb(0) as number, 12);
    const exact = 6 / 3.4;
    for (const opts of [{ method: 'importance', particles: 20000, seed: 1 }, { method: 'nuts', chains: 2, warmup: 300, samples: 500, seed: 1 }] as const) {
      const post = await infer(waits, opts);
      expect(post.warnings).toEqual([]);
      const { mean, se } = meanAndSe(post, 'lam');
      expect(within(mean, exact, se)).toBe(true);
      expect(within(mean, 2, se)).toBe(false);
      post.dispose();
    }
  });

  it('Gamma(0.5, lam) at 0 is an infinite density and Gamma(2, lam) at 0 an impossible one, each named by site (as Beta at its end points)', async () => {
    for (const [a, why] of [[0.5, /site "t0": the density of Gamma\(concentration=0\.5.* at the observed value 0 is infinite/], [2, /site "t0": the observed value 0 has zero probability under Gamma/]] as const) {
      const m = model(async ({ sample, observe }) => {
        const lam = await sample('lam', Gamma(2, 1));
        await observe('t0', Gamma(a, lam), 0);
      });
      await expect(infer(m, { method: 'importance', particles: 100, seed: 1 })).rejects.toThrow(why);
    }
  });
});

describe('Transformed of a bounded base (found: the support was the bijector\'s codomain, the real line for Affine: NUTS 397 divergent transitions, VI refused to start)', () => {
  it('the support is the image of the base\'s bounds (in order for a negative scale); a discrete base is refused by name', () => {
    expect(Transformed(Beta(2, 2), Affine(-1, 2)).support.name).toBe('interval(-1, 1)');
    expect(Transformed(Gamma(2, 1), Affine(3, 1)).support.name).toBe('greaterThan(3)');
    expect(Transformed(Gamma(2, 1), Affine(0, -1)).support.name).toBe('lessThan(0)');
    expect(Transformed(Gamma(2, 1), Exp()).support.name).toBe('greaterThan(1)');
    expect(Transformed(Normal(0, 1), Exp()).support.name).toBe('positive');
    expect(() => Transformed(Poisson(3), Affine(1, 1))).toThrow(/the base Poisson is discrete; a change of variables \(with its Jacobian\) is for densities/);
  });

  it('a Beta(2, 2) prior scaled onto (-1, 1) under NUTS: no divergence, E[x] within 4 MCSE of quadrature (was 397 divergent transitions); planted: the flat prior\'s answer is rejected', async () => {
    const m = model(async ({ sample, observe }) => {
      const x = await sample('x', Transformed(Beta(2, 2), Affine(-1, 2)));
      await observe('y', Normal(x, 0.5), 0.9);
    });
    const quad = (prior: (u: number) => number): number => {
      let z = 0, s1 = 0;
      for (let i = 1; i < 20000; i++) {
        const x = -1 + (2 * i) / 20000;
        const w = prior((x + 1) / 2) * Math.exp(lnorm(0.9, x, 0.5));
        z += w; s1 += w * x;
      }
      return s1 / z;
    };
    const post = await infer(m, { method: 'nuts', chains: 4, warmup: 400, samples: 600, seed: 1 });
    expect(post.warnings).toEqual([]);
    expect(post.diagnostics.divergences).toBe(0);
    const { mean, se } = meanAndSe(post, 'x');
    expect(within(mean, quad((u) => u * (1 - u)), se)).toBe(true);
    expect(within(mean, quad(() => 1), se)).toBe(false);
    post.dispose();
  });
});

describe('data of the wrong length in a plate (found: an array of length 1 against a plate of 5 was counted 5 times, silently: mu sd 0.461 against 1.0 for one observation)', () => {
  const withData = (ys: number | number[]) =>
    model(async ({ sample, plate }) => {
      const mu = await sample('mu', Normal(0, 10));
      await plate('data', 5, (_idx, p) => p.observe('y', Normal(mu, 1), ys));
    });

  it('every engine names the site, both shapes and the count', async () => {
    for (const opts of [{ method: 'importance', particles: 200, seed: 1 }, { method: 'nuts', chains: 1, warmup: 20, samples: 20, seed: 1 }, { method: 'smc', particles: 200, seed: 1 }] as const) {
      await expect(infer(withData([3.2]), opts)).rejects.toThrow(/site "y": observed value of shape \[1\] would be counted 5 times against Normal of shape \[5\].*data of the wrong length/);
    }
  });

  it('a plain number repeats on purpose: importance\'s mean and sd within 4 MCSE of the exact five-observation posterior; planted: the one-observation sd is rejected', async () => {
    const post = await infer(withData(3.2), { method: 'importance', particles: 20000, seed: 1 });
    const prec = 5 + 1 / 100;
    const { mean, se } = meanAndSe(post, 'mu');
    expect(within(mean, (5 * 3.2) / prec, se)).toBe(true);
    // the sd's standard error, sd / sqrt(2 ess) for a normal posterior
    const { sd } = post.moments('mu');
    const seSd = sd / Math.sqrt(2 * post.ess);
    expect(within(sd, Math.sqrt(1 / prec), seSd)).toBe(true);
    expect(within(sd, Math.sqrt(1 / (1 + 1 / 100)), seSd)).toBe(false);
    post.dispose();
  });
});

describe('Stan\'s negative binomials translated as docs/modelling.md says (the same two numbers in NegativeBinomial(r, p) give another model)', () => {
  it('neg_binomial_2, neg_binomial_2_log and neg_binomial equal Stan\'s mass functions; planted: NegativeBinomial(mu, phi) verbatim differs', () => {
    const lfact = (k: number): number => (k <= 1 ? 0 : Math.log(k) + lfact(k - 1));
    // integer r and n: log C(n + r - 1, n) by factorials
    const lchoose = (n: number, r: number) => lfact(n + r - 1) - lfact(n) - lfact(r - 1);
    const [mu, phi, alpha, beta, n] = [5, 2, 3, 0.5, 4];
    const nb2 = lchoose(n, phi) + n * Math.log(mu / (mu + phi)) + phi * Math.log(phi / (mu + phi));
    const nb = lchoose(n, alpha) + alpha * Math.log(beta / (1 + beta)) + n * Math.log(1 / (1 + beta));
    expect(NegativeBinomial(phi, ops.div(mu, ops.add(mu, phi))).logProb(n) as number).toBeCloseTo(nb2, 10);
    expect(NegativeBinomial(phi, { logits: ops.sub(Math.log(mu), ops.log(phi)) }).logProb(n) as number).toBeCloseTo(nb2, 10);
    expect(NegativeBinomial(alpha, ops.div(1, ops.add(1, beta))).logProb(n) as number).toBeCloseTo(nb, 10);
    // planted: Stan's numbers verbatim; its mean is alpha beta / (1 - beta) = 3, Stan's alpha / beta = 6
    const stanNb = (k: number) => lchoose(k, alpha) + alpha * Math.log(beta / (1 + beta)) + k * Math.log(1 / (1 + beta));
    expect(Math.max(...[0, 2, 6, 12].map((k) => Math.abs((NegativeBinomial(alpha, beta).logProb(k) as number) - stanNb(k))))).toBeGreaterThan(0.5);
  });
});

describe('Dirichlet with a plain vector of concentrations keeps its normaliser in float64 (hmc-gibbs over Categorical(w) labels evaluated it by tensor ops at every value of every label)', () => {
  it('the log density equals the hand formula, as with a tensor of concentrations', () => {
    const lg = (k: number): number => (k <= 1 ? 0 : Math.log(k - 1) + lg(k - 1)); // log Gamma of an integer
    const x = [0.2, 0.3, 0.5];
    const hand = lg(9) - lg(2) - lg(3) - lg(4) + Math.log(0.2) + 2 * Math.log(0.3) + 3 * Math.log(0.5);
    tf.tidy(() => {
      expect((Dirichlet([2, 3, 4]).logProb(tf.tensor1d(x)) as tf.Tensor).dataSync()[0]).toBeCloseTo(hand, 5);
      expect((Dirichlet(tf.tensor1d([2, 3, 4])).logProb(tf.tensor1d(x)) as tf.Tensor).dataSync()[0]).toBeCloseTo(hand, 5);
    });
  });
});

describe('SVI.evaluate after a fit on a subsampled plate (found: it scored a fresh subsample, so the bound moved by tens of nats between calls with a stderr of hundredths)', () => {
  // y_i ~ N(mu, 1) for 200 points, mu ~ N(0, 10): log Z exact by conjugacy
  const N = 200;
  const ys = Array.from({ length: N }, (_, i) => 1.5 + Math.sin(i * 12.9898));
  const m = model(async ({ sample, plate }, size?: number) => {
    const mu = await sample('mu', Normal(0, 10));
    await plate('data', N, (idx, p) => p.observe('y', Normal(mu, 1), idx.map((i) => ys[i]!)), { subsample: size });
  });
  const s = ys.reduce((a, b) => a + b, 0);
  const ss = ys.reduce((a, b) => a + b * b, 0);
  const prec = N + 1 / 100;
  const logZ = -0.5 * N * Math.log(2 * Math.PI) - 0.5 * ss + (0.5 * s * s) / prec - 0.5 * Math.log(100 * prec);

  it('three IWAE bounds on the full data: each at most log Z (a lower bound) and within 4 stderr of the others (was -245.69, -236.93, -219.93 +- 0.02-0.04 against log Z -238.77); planted: a bound 1 nat off is rejected', async () => {
    const svi = new SVI(m, 'normal', { particles: 4, optimizer: { lr: 0.05 }, seed: 0 });
    for (let k = 0; k < 800; k++) await svi.step([20]);
    const runs: { bound: number; stderr: number }[] = [];
    for (let r = 0; r < 3; r++) runs.push(await svi.evaluate([20], 1000, iwae(10)));
    svi.dispose();
    const agree = (a: { bound: number; stderr: number }, b: { bound: number; stderr: number }) => Math.abs(a.bound - b.bound) <= 4 * Math.hypot(a.stderr, b.stderr);
    for (const r of runs) expect(r.bound).toBeLessThanOrEqual(logZ + 4 * r.stderr);
    expect(agree(runs[0]!, runs[1]!) && agree(runs[1]!, runs[2]!) && agree(runs[0]!, runs[2]!)).toBe(true);
    // the bound is tight for this conjugate fit: within 4 stderr plus 0.05 nats of log Z
    for (const r of runs) expect(logZ - r.bound).toBeLessThanOrEqual(4 * r.stderr + 0.05);
    // planted: the same agreement check rejects a bound 1 nat off
    expect(agree(runs[0]!, { bound: runs[0]!.bound - 1, stderr: runs[0]!.stderr })).toBe(false);
  });
});
