/**
 * NEWCOMER, session 6: models written as a newcomer would, run on every engine
 * that accepts them and checked against exact answers (conjugacy, quadrature,
 * sums by hand) with Monte Carlo standard-error tolerances, or against the
 * same clear error from every engine: wrong shapes of observed data,
 * impossible data, a typo between model and guide, a model reused with new
 * data (arguments, a closed-over array mutated, a top-level tensor
 * reassigned), JS `Math.*` on a value read with `toNumber`, structure that
 * depends on an earlier choice, discrete and continuous sites mixed.
 * Each statistical check has a planted wrong answer that the same check
 * rejects. Slower checks: newcomer-session6.slow.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import type { Model } from '../../src/core/model.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { Bernoulli, Binomial, Categorical, Gamma, HalfNormal, Normal, Poisson, infer, model, ops, toNumber } from '../../src/index.js';
import { type Exact, conjugateNormal, mixedExact, quadrature1d, quadratureStructure, structureModel, zScore } from './newcomer-session6-helpers.js';

beforeAll(async () => {
  await initBackend('cpu');
});

type AnyModel = Model<never[], unknown>;
const Z = 4;

/** Every engine, with small settings: only how each one fails is compared. */
const ENGINES: Record<string, Record<string, unknown>> = {
  enumerate: { method: 'enumerate' },
  importance: { method: 'importance', particles: 200 },
  smc: { method: 'smc', particles: 100 },
  mh: { method: 'mh', samples: 100 },
  nuts: { method: 'nuts', chains: 2, warmup: 20, samples: 20 },
  vi: { method: 'vi', steps: 20 },
};

async function errorOf(m: AnyModel, options: Record<string, unknown>): Promise<string> {
  try {
    await infer(m, { seed: 1, ...options } as never);
    return 'no error';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('wrong shapes of observed data: the same error, naming the site and both shapes, from every engine', () => {
  const x = [0.5, 1, 1.5, 2];
  const cases: { name: string; m: AnyModel; discrete: boolean; expected: RegExp }[] = [
    {
      name: '[3] mean, 2 values',
      m: model(async ({ sample, observe }) => {
        const mu = await sample('mu', Normal(0, 1));
        await observe('y', Normal(tf.mul(mu, tf.ones([3])), 1), [0.1, 0.2]);
      }) as AnyModel,
      discrete: false,
      expected: /site "y": observed value of shape \[2\] does not match Normal of shape \[3\]/,
    },
    {
      name: 'a column [4, 1] mean against [4] data (would broadcast to [4, 4])',
      m: model(async ({ sample, observe }) => {
        const b = await sample('b', Normal(0, 1));
        await observe('y', Normal(tf.mul(b, tf.tensor2d(x, [4, 1])), 1), [1.1, 2.1, 2.9, 4.2]);
      }) as AnyModel,
      discrete: false,
      expected: /site "y": observed value of shape \[4\] does not match Normal of shape \[4, 1\]/,
    },
    {
      name: '[4] mean against [4, 1] data',
      m: model(async ({ sample, observe }) => {
        const b = await sample('b', Normal(0, 1));
        await observe('y', Normal(tf.mul(b, tf.tensor1d(x)), 1), tf.tensor2d([1.1, 2.1, 2.9, 4.2], [4, 1]));
      }) as AnyModel,
      discrete: false,
      expected: /site "y": observed value of shape \[4, 1\] does not match Normal of shape \[4\]/,
    },
    {
      name: 'discrete latent, [3] Bernoulli observed with 2 values',
      m: model(async ({ sample, observe }) => {
        const k = await sample('k', Bernoulli(0.5));
        await observe('y', Bernoulli(ops.mul(ops.add(k, 0.2), tf.tensor1d([0.5, 0.6, 0.7]))), [1, 0]);
      }) as AnyModel,
      discrete: true,
      expected: /site "y": observed value of shape \[2\] does not match Bernoulli of shape \[3\]/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      for (const [engine, o] of Object.entries(ENGINES)) {
        if (engine === 'enumerate' && !c.discrete) {
          expect(await errorOf(c.m, o)).toMatch(/is continuous; exact enumeration needs/);
          continue;
        }
        if (c.discrete && (engine === 'nuts' || engine === 'vi')) continue; // they refuse the discrete latent first
        expect(`${engine}: ${await errorOf(c.m, o)}`).toMatch(new RegExp(`^${engine}: ${c.expected.source}`));
      }
    });
  }
});

describe('impossible data: every engine names the site and the support', () => {
  const cases: { name: string; m: AnyModel; discrete: boolean; expected: RegExp }[] = [
    {
      name: 'Poisson count 2.5',
      m: model(async ({ sample, observe }) => {
        const l = await sample('l', Gamma(2, 1));
        await observe('k', Poisson(l), [1, 2.5]);
      }) as AnyModel,
      discrete: false,
      expected: /site "k": the observed value \[1, 2\.5\] is outside the support of Poisson \(nonnegativeInteger\)/,
    },
    {
      name: 'a NaN among the data',
      m: model(async ({ sample, observe }) => {
        const mu = await sample('mu', Normal(0, 1));
        await observe('y', Normal(mu, 1), [0.1, NaN]);
      }) as AnyModel,
      discrete: false,
      expected: /site "y": log density of Normal is NaN at value \[0\.1\d*, NaN\]/,
    },
    {
      name: 'Categorical index 3 of 3 categories, discrete latent',
      m: model(async ({ sample, observe }) => {
        const z = await sample('z', Bernoulli(0.5));
        await observe('c', Categorical(toNumber(z) ? [0.2, 0.3, 0.5] : [0.5, 0.3, 0.2]), 3);
      }) as AnyModel,
      discrete: true,
      expected: /site "c": the observed value 3 is outside the support of Categorical \(integerInterval\(0, 2\)\)/,
    },
    {
      name: 'Binomial 11 successes of 10',
      m: model(async ({ sample, observe }) => {
        const l = await sample('p', Gamma(2, 4));
        await observe('k', Binomial(10, ops.div(l, ops.add(l, 1))), 11);
      }) as AnyModel,
      discrete: false,
      expected: /site "k": the observed value 11 is outside the support of Binomial \(integerInterval\(0, 10\)\)/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      for (const [engine, o] of Object.entries(ENGINES)) {
        if (engine === 'enumerate' && !c.discrete) continue;
        if (c.discrete && (engine === 'nuts' || engine === 'vi')) continue;
        expect(`${engine}: ${await errorOf(c.m, o)}`).toMatch(new RegExp(`^${engine}: ${c.expected.source}`));
      }
    });
  }
});

describe('a typo between model and guide names the site', () => {
  const m = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 1));
    const s = await sample('sigma', HalfNormal(1));
    await observe('y', Normal(mu, s), [0.1, 0.5, -0.3]);
  }) as AnyModel;
  const guide = model(async ({ sample, param }) => {
    const loc = await param('loc', 0);
    await sample('mu', Normal(loc, 1));
    await sample('sigam', HalfNormal(1));
  });
  it('vi: the model site the guide lacks; importance: the guide site the model lacks', async () => {
    expect(await errorOf(m, { method: 'vi', guide, steps: 5 })).toMatch(/site "sigma": latent site has no value in the guide/);
    expect(await errorOf(m, { method: 'importance', guide, particles: 10 })).toMatch(/site "sigam": the guide samples this address but the model has no such site/);
  });
});

describe('a model reused with new data: no answer is kept from the previous call', () => {
  const A = [1, 2, 3, 1.5];
  const B = [-4, -3, -5, -2];
  const nuts = { method: 'nuts', chains: 2, warmup: 200, samples: 500, seed: 1 };
  it('data as an argument, a closed-over array mutated in place, a top-level tensor reassigned: each call within 4 MCSE of its exact posterior', async () => {
    const byArg = model(async ({ sample, observe }, ys: number[]) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), ys);
    }) as unknown as Model<[number[]], unknown>;
    const data = [...A];
    const closure = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), data);
    }) as AnyModel;
    let T = tf.tensor1d(A);
    const topLevel = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), T);
    }) as AnyModel;
    const zs: number[] = [];
    let firstA: Posterior<never[], unknown> | undefined;
    for (const ys of [A, B]) {
      data.splice(0, data.length, ...ys);
      T.dispose();
      T = tf.tensor1d(ys);
      const exact = conjugateNormal(ys);
      const a = await infer(byArg, nuts as never, ys);
      const b = await infer(closure, nuts as never);
      const c = await infer(topLevel, nuts as never);
      expect(a.diagnostics.compiled).toBe(true);
      for (const p of [a, b, c]) zs.push(zScore(p as Posterior<never[], unknown>, 'mu', exact.mean));
      firstA ??= a as unknown as Posterior<never[], unknown>;
    }
    T.dispose();
    expect(Math.max(...zs)).toBeLessThan(Z);
    // planted: the first call's posterior (data A) judged against data B's exact answer
    expect(zScore(firstA!, 'mu', conjugateNormal(B).mean)).toBeGreaterThan(Z);
  });
});

describe("JS Math.max on a value read with toNumber (the compiled record would freeze it)", () => {
  const ys = [0.8, -0.3, 1.9];
  const m = model(async ({ sample, observe }) => {
    const mu = await sample('mu', Normal(0, 1));
    const s = Math.max(toNumber(mu), 0);
    await observe('y', Normal(ops.add(mu, s), 1), ys);
  }) as AnyModel;
  const lnorm = (y: number, mu: number): number => -0.5 * (y - mu) ** 2;
  const exact = quadrature1d((mu) => ys.reduce((a, y) => a + lnorm(y, mu + Math.max(mu, 0)), 0));
  // planted: the same model without the Math.max term (what a frozen branch s = 0 would give)
  const wrong = quadrature1d((mu) => ys.reduce((a, y) => a + lnorm(y, mu), 0));
  it('NUTS leaves the compiled path (says why) and matches quadrature within 4 MCSE; the planted answer is rejected', async () => {
    const post = await infer(m, { method: 'nuts', chains: 2, warmup: 150, samples: 400, seed: 3 });
    expect(String(post.diagnostics.compiled)).toMatch(/not traceable: the code reads a float32 value that depends on the parameters/);
    expect(zScore(post, 'mu', exact.mean)).toBeLessThan(Z);
    expect(zScore(post, 'mu', wrong.mean)).toBeGreaterThan(Z);
  });
});

describe('structure that depends on an earlier continuous choice', () => {
  const ys = [0.8, -0.3, 1.9];
  const m = structureModel(ys);
  it('importance matches 2-d quadrature within 4 MCSE (planted: the model with the branch always taken is rejected); NUTS and VI refuse, naming the site', async () => {
    const exact = quadratureStructure(ys, true);
    const planted = quadratureStructure(ys, false);
    const post = await infer(m, { method: 'importance', particles: 5000, seed: 2 });
    expect(zScore(post, 'mu', exact.mean)).toBeLessThan(Z);
    expect(zScore(post, 'mu', planted.mean)).toBeGreaterThan(Z);
    // the probe run (which fixes the layout) lands on either branch depending on the seed: nuts seed 2 and vi seed 2
    // probe mu <= 0 (no "a"), nuts seed 1 and vi seed 7 probe mu > 0, and later runs skip "a". Found: those ran to the
    // end with "a" a flat, unbounded direction wherever mu <= 0 (NUTS seed 1, 1 chain x (200 + 1000): mu -0.224 +- 0.180
    // against 0.579 +- 0.608 by quadrature; 1 chain x (10 + 10): 1.151 +- 0.555; no warning); now each run checks that it
    // met every site of the layout
    for (const o of [{ method: 'nuts', chains: 1, warmup: 10, samples: 10, seed: 2 }, { method: 'vi', steps: 10, seed: 2 }]) {
      expect(await errorOf(m, o)).toMatch(/site "a": this latent site was not present in the probe run/);
    }
    for (const o of [{ method: 'nuts', chains: 1, warmup: 10, samples: 10, seed: 1 }, { method: 'vi', steps: 200, seed: 7 }]) {
      expect(await errorOf(m, o)).toMatch(/site "a": this latent site was present in the probe run but not in this run/);
    }
  });
});

describe('discrete and continuous sites mixed', () => {
  const ys = [1.2, 0.4, 1.9];
  const m = model(async ({ sample, observe }) => {
    const z = await sample('z', Bernoulli(0.3));
    const mu = await sample('mu', Normal(ops.sub(ops.mul(z, 3), 1), 1));
    await observe('y', Normal(mu, 1), ys);
  }) as AnyModel;
  it('hmc-gibbs: P(z = 1) and E[mu] within 4 MCSE of the exact sums (planted: the exact answer with prior 0.5); NUTS says to use hmc-gibbs', async () => {
    const exact: Exact = mixedExact(ys, 0.3);
    const planted = mixedExact(ys, 0.5);
    const post = await infer(m, { method: 'hmc-gibbs', chains: 2, warmup: 300, samples: 1500, seed: 5 });
    expect(zScore(post, 'z', exact.pz1!)).toBeLessThan(Z);
    expect(zScore(post, 'mu', exact.mean)).toBeLessThan(Z);
    expect(zScore(post, 'z', planted.pz1!)).toBeGreaterThan(Z);
    expect(await errorOf(m, { method: 'nuts', chains: 1, warmup: 5, samples: 5 })).toMatch(/site "z": Bernoulli is discrete; gradient-based samplers need continuous latent sites \(use method 'hmc-gibbs'/);
  });
});

describe('VI stopped early on a conjugate normal (found: a silently wrong answer with clean diagnostics)', () => {
  // FOUND, fixed by src/infer/vi/location-check.ts (the PSIS-weighted mean against the guide's, below): mu ~ N(0, 1), y = [-4, -3, -5, -2] ~ N(mu, 1), exact
  // posterior N(-2.8, 0.447^2). With steps: 500 (seed 1) the AutoNormal's mean is -2.479 (0.72 posterior sds off),
  // yet k-hat is 0.01 (a shifted Gaussian guide gives light-tailed p/q: k-hat cannot see a location error) and the
  // loss-trend check is quiet (last two windows of 50 steps differ by 0.047 +- 0.196 nats): no warning at all. At the
  // default 1000 steps the mean is -2.806; with y = [-8, -9, -10, -7] the same early stop is caught by both checks.
  // A check that would catch it: the PSIS-weighted mean of each scalar against the guide's mean, in MCSE units.
  it('the reported mean is within 4 MCSE of the exact one, or a warning says it may not be', async () => {
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), [-4, -3, -5, -2]);
    }) as AnyModel;
    const post = await infer(m, { method: 'vi', steps: 500, seed: 1 });
    const exact = conjugateNormal([-4, -3, -5, -2]);
    const { mean } = post.moments('mu');
    const ok = Math.abs(mean - exact.mean) < Z * (exact.sd / Math.sqrt(post.size)) || post.warnings.length > 0;
    expect(ok).toBe(true);
    expect(post.warnings.join('\n')).toMatch(/mean of "mu" .* reweighted by p\/q/);
    // converged (1000 steps, the default): the mean is right and no location warning is given
    const done = await infer(m, { method: 'vi', seed: 1 });
    expect(Math.abs(done.moments('mu').mean - exact.mean)).toBeLessThan(Z * (exact.sd / Math.sqrt(done.size)));
    expect(done.warnings.join('\n')).not.toMatch(/reweighted by p\/q/);
  });
});
