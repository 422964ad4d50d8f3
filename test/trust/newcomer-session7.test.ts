/**
 * NEWCOMER, session 7: models written as a newcomer would, checked against
 * exact answers (conjugacy, quadrature, sums by hand) with MCSE tolerances,
 * or against the same clear error from every engine. This session: data
 * given by `condition` under a misspelt name, a support bound that depends on
 * another parameter and meets the other bound in float32 (posteriordb's
 * garch11), discrete and continuous latents mixed, one model reused with new
 * data and arguments across engines, models that mutate outer state, and
 * deterministic sites with posterior predictive runs at new arguments.
 * Each statistical check has a planted wrong answer that the same check
 * rejects. Slower checks: newcomer-session7.slow.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import type { Model } from '../../src/core/model.js';
import { Bernoulli, Flat, Independent, InvalidParameterError, Normal, condition, infer, model, rejectsPoint, toNumber } from '../../src/index.js';
import { layoutOf, logDensityFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import { arma11, armaData } from '../../models/posteriordb/arma11.js';
import { garch11, garchData } from '../../models/posteriordb/garch11.js';
import { kilpisjarvi, kilpisjarviData } from '../../models/posteriordb/kilpisjarvi.js';
import { psis } from '../../src/diagnostics/psis.js';
import { mcseMean } from '../../src/diagnostics/mcse.js';

beforeAll(async () => {
  await initBackend('cpu');
});

type AnyModel = Model<never[], unknown>;

async function errorOf(m: AnyModel, options: Record<string, unknown>, ...args: unknown[]): Promise<string> {
  try {
    await infer(m, { seed: 1, ...options } as never, ...(args as never[]));
    return 'no error';
  } catch (e) {
    return (e as Error).message;
  }
}

/** Short runs of the engines whose errors are compared (the same options in each comparison). */
const QUICK_RUNS: Record<string, Record<string, unknown>> = {
  importance: { method: 'importance', particles: 50 },
  smc: { method: 'smc', particles: 50 },
  mh: { method: 'mh', samples: 50 },
  nuts: { method: 'nuts', chains: 1, warmup: 10, samples: 10 },
  vi: { method: 'vi', steps: 10 },
  tempered: { method: 'tempered', particles: 50 },
};

describe('condition() with a misspelt site name (found: silently ignored, the posterior was the prior)', () => {
  // FOUND, fixed in core (Handler.finish, conditionHandler): condition(m, { yy: 2 }) for a model whose site is "y"
  // ran on every engine with "y" left latent: NUTS (1 x (100 + 200), seed 1) gave mu -0.085 +- 1.002 (the prior)
  // instead of N(1, 0.707^2), importance, mh, smc and vi likewise, no warning. Now each run checks that every
  // conditioned address is one of its sites.
  const continuous = model(async ({ sample }) => {
    const mu = await sample('mu', Normal(0, 1));
    await sample('y', Normal(mu, 1));
  }) as AnyModel;
  const discrete = model(async ({ sample }) => {
    const z = await sample('z', Bernoulli(0.3));
    await sample('y', Bernoulli(toNumber(z) ? 0.8 : 0.2));
  }) as AnyModel;
  const mixed = model(async ({ sample }) => {
    const z = await sample('z', Bernoulli(0.3));
    await sample('y', Normal(z, 1));
  }) as AnyModel;
  const engines: Record<string, Record<string, unknown>> = {
    ...QUICK_RUNS,
    hmc: { method: 'hmc', chains: 1, warmup: 10, samples: 10 },
    svgd: { method: 'svgd', particles: 5, steps: 5 },
  };
  // (since minor-session8: only an address that no run of the inference reached is an error; a run on a branch without
  // the site is simply not conditioned there)
  const expected = /^site "yy": condition was given data for this address, but no run of the model reached a site there \(the sites of its last run: [a-z]+, y\); a typo, or a site on a branch no run took\?/;
  it('every engine stops with the same error naming the address and the sites there are', async () => {
    for (const [name, o] of Object.entries(engines)) expect(`${name}: ${await errorOf(condition(continuous, { yy: 2 }), o)}`).toMatch(new RegExp(`^${name}: ${expected.source.slice(1)}`));
    expect(`enumerate: ${await errorOf(condition(discrete, { yy: 1 }), { method: 'enumerate' })}`).toMatch(new RegExp(`^enumerate: ${expected.source.slice(1)}`));
    const gibbs = { method: 'hmc-gibbs', chains: 1, warmup: 5, samples: 5 };
    expect(`hmc-gibbs: ${await errorOf(condition(mixed, { yy: 2 }), gibbs)}`).toMatch(new RegExp(`^hmc-gibbs: ${expected.source.slice(1)}`));
  });
  it('the right name still conditions (exact: mu | y = 2 is N(1, 1/2)); an undefined entry is no data', async () => {
    const post = await infer(condition(continuous, { y: 2, nothing: undefined as never }), { method: 'importance', particles: 4000, seed: 3 } as never);
    const { mean } = post.moments('mu');
    expect(Math.abs(mean - 1) / (Math.SQRT1_2 / Math.sqrt(post.ess))).toBeLessThan(4);
    // planted: the prior mean (what the misspelt name gave) is rejected by the same check
    expect(Math.abs(mean - 0) / (Math.SQRT1_2 / Math.sqrt(post.ess))).toBeGreaterThan(4);
  });
});

describe('a support bound that depends on another parameter meets the other bound in float32 (found: NUTS stopped with a RangeError)', () => {
  // FOUND on posteriordb garch11 (models/posteriordb/garch11.ts, beta1 ~ Flat on (0, 1 - alpha1)): NUTS at its defaults,
  // seed 700, stopped after 16 s with 'RangeError: Interval: lower must be below upper, got lower 0 and upper tensor of
  // shape []': a warm-up trajectory took alpha1's unconstrained value past ~17, where float32's sigmoid is exactly 1, so
  // 1 - alpha1 = 0. Stan rejects such a point (a domain error in the constrain); here Flat now checks tensor bounds as
  // Uniform does (InvalidParameterError), so the samplers reject it. Same run since: max z 1.18 / 1.88, R-hat <= 1.0016.
  it('Flat with collapsed tensor bounds raises the error samplers treat as a rejected point', () => {
    let err: unknown;
    try {
      Flat({ low: 0, high: tf.sub(1, tf.scalar(1)) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidParameterError);
    expect(rejectsPoint(err)).toBe(true);
    expect((err as Error).message).toMatch(/^Flat: parameter high must be/);
    // planted: what the bijector threw before (a plain RangeError) is not a rejection, it stops the sampler
    expect(rejectsPoint(new RangeError('Interval: lower must be below upper'))).toBe(false);
  });
  it("garch11's log density is -Infinity where alpha1 rounds to 1, finite at an ordinary point", async () => {
    const { layout } = await layoutOf(garch11 as AnyModel, [garchData] as never, rngFrom(1));
    const f = logDensityFn(garch11 as AnyModel, [garchData] as never, layout);
    const at = (alpha1: number): Float64Array => Float64Array.from(layout.names.map((n) => (n === 'alpha1' ? alpha1 : 0)));
    expect((await f(at(20))).logp).toBe(-Infinity);
    expect(Number.isFinite((await f(at(0.3))).logp)).toBe(true);
  });
});

describe('VI on posteriordb kilpisjarvi (found: a wrong posterior with k-hat 0.06 and no warning)', () => {
  // FOUND: VI at its defaults (AutoNormal, 1000 steps, seed 1) on kilpisjarvi (alpha and beta correlated at -0.99999)
  // reported alpha 2.15 +- 0.10 against the reference -60.7 +- 30.0, beta's sd 8.4 times too wide, sigma 3.1 sds off,
  // ELBO -938658, yet k-hat 0.057 and no warning. The log ratios p/q spanned ~1e5 nats: PSIS's tail exceedances
  // exp(log w - max) underflowed to 0 but the largest, and the GPD fit of [0, ..., 0, 1], shrunk towards 0.5, gave
  // 0.057. Fixed in diagnostics/psis.ts: a tail wider than float64's range has k-hat Infinity (nothing smoothed).
  it('psis: log ratios spread by 1000 nats have k-hat Infinity, not a small number; a spread of 1 still gives an ordinary k-hat', () => {
    const rng = rngFrom(1);
    const spread = (s: number): Float64Array => Float64Array.from({ length: 1000 }, () => -938658 + s * rng.normal());
    expect(psis(spread(1000)).khat).toBe(Infinity);
    const ordinary = psis(spread(1)).khat;
    expect(ordinary).toBeGreaterThan(0);
    expect(ordinary).toBeLessThan(0.7);
  });
  it('VI at its defaults on kilpisjarvi warns by k-hat (its alpha is more than 2 reference sds off, so a warning is due)', async () => {
    const post = await infer(kilpisjarvi as AnyModel, { method: 'vi', seed: 1 }, kilpisjarviData as never);
    // the reference (posteriordb, 10 x 1000 Stan draws): alpha -60.71 +- 29.96; planted: VI's own answer is far off it
    expect(Math.abs(post.moments('alpha').mean - -60.71) / 29.96).toBeGreaterThan(1);
    expect(post.warnings.join('\n')).toMatch(/Pareto k-hat Infinity > 0\.7/);
  });
});

describe('a prior draw the model rejects at the probe run (found: NUTS on posteriordb arma11 stopped for half the seeds)', () => {
  // FOUND: NUTS on arma11 (models/posteriordb/arma11.ts, theta ~ N(0, 2) in an MA recursion over 200 steps) stopped at
  // seeds 2, 5 and 6 (of 1-6) with 'Normal: parameter loc must be finite, got tensor of shape [200]': the layout's
  // probe run draws from the prior, and |theta| > 1 makes the errors overflow float32. Stan retries a rejected initial
  // point (100 times); the probe run now redraws a point the model rejects the same way (potential.ts, probeRun).
  it('NUTS runs on arma11 at a seed whose first prior draw overflows; a model that rejects every draw still names its error', async () => {
    const post = await infer(arma11 as AnyModel, { method: 'nuts', chains: 1, warmup: 30, samples: 30, seed: 2 }, armaData as never);
    expect(post.size).toBe(30);
    const always = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(tf.mul(mu, Infinity), 1), [0.5]);
    }) as AnyModel;
    expect(await errorOf(always, { method: 'nuts', chains: 1, warmup: 5, samples: 5 })).toMatch(/^Normal: parameter loc must be finite/);
  });
});

describe('condition() with data of the wrong shape (found: a [4, 1] column broadcast silently against a [4] site)', () => {
  // FOUND: observe checks its data's shape against the distribution ('observed value of shape [4, 1] does not match
  // Normal of shape [4]'), but a site made observed by condition() skipped that check: a [4, 1] column broadcast to a
  // [4, 4] log density, so importance (20000 particles, seed 1) gave b = 1.665 +- 0.177 against the exact 1.812 +- 0.343
  // (each point counted four times), no warning; a [2] value for a [3] site failed inside tfjs ('Operands could not be
  // broadcast'). Now such a site gets observe's check, so the message is the same as observe's on every engine.
  const x = [0.5, 1, 1.5, 2];
  const m = model(async ({ sample }) => {
    const b = await sample('b', Normal(0, 1));
    await sample('y', Normal(tf.mul(b, tf.tensor1d(x)), 1));
  }) as AnyModel;
  const engines = QUICK_RUNS;
  it('a column and a short vector: every engine names the site and both shapes, as observe does', async () => {
    for (const [name, o] of Object.entries(engines)) {
      expect(`${name}: ${await errorOf(condition(m, { y: tf.tensor2d([1.1, 2.1, 2.9, 4.2], [4, 1]) }), o)}`).toMatch(new RegExp(`^${name}: site "y": observed value of shape \\[4, 1\\] does not match Normal of shape \\[4\\]`));
      expect(`${name}: ${await errorOf(condition(m, { y: [1.1, 2.1] }), o)}`).toMatch(new RegExp(`^${name}: site "y": observed value of shape \\[2\\] does not match Normal of shape \\[4\\]`));
    }
  });
  it('the right shape: importance within 4 MCSE of the exact posterior; planted: the four-times-counted answer is rejected', async () => {
    const y = [1.1, 2.1, 2.9, 4.2];
    const exact = (k: number): number => (k * x.reduce((a, v, i) => a + v * y[i]!, 0)) / (k * x.reduce((a, v) => a + v * v, 0) + 1);
    const sd = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) + 1);
    const post = await infer(condition(m, { y }), { method: 'importance', particles: 5000, seed: 1 });
    const z = (target: number): number => Math.abs(post.moments('b').mean - target) / (sd / Math.sqrt(post.ess));
    expect(z(exact(1))).toBeLessThan(4);
    expect(z(exact(4))).toBeGreaterThan(4);
  });
});

describe('a model that caches a tensor in an outer object (found: a bare tfjs TypeError from every engine)', () => {
  // FOUND: `cache.X ??= tf.tensor1d(x)` inside the model: the first run's tensors are freed when that run ends, so the
  // next run read a freed tensor and every engine stopped with 'TypeError: Cannot read properties of undefined (reading
  // 'backend')' and nothing more. The model error now says what happened and the two ways out (checked: tf.keep works
  // on every engine: nuts, hmc, vi, importance, smc, mh, tempered, svgd).
  const x = [1, 2, 3];
  const y = [1.1, 2.3, 2.8];
  const cached = (keep: boolean): AnyModel => {
    const cache: { X?: tf.Tensor } = {};
    return model(async ({ sample, observe }) => {
      cache.X ??= keep ? tf.keep(tf.tensor1d(x)) : tf.tensor1d(x);
      const b = await sample('b', Normal(0, 1));
      await observe('y', Normal(tf.mul(b, cache.X), 1), y);
    }) as AnyModel;
  };
  it('every engine names the freed tensor and the way out', async () => {
    for (const o of [{ method: 'nuts', chains: 1, warmup: 5, samples: 5 }, { method: 'vi', steps: 5 }, { method: 'importance', particles: 10 }, { method: 'smc', particles: 10 }, { method: 'mh', samples: 10 }]) {
      expect(`${o.method}: ${await errorOf(cached(false), o)}`).toMatch(new RegExp(`^${o.method}: model "model" threw after site "b": .*\\(a tensor used here was freed: .* must be made outside the model, or wrapped in tf\\.keep\\)`));
    }
  });
  it('with tf.keep: NUTS within 4 MCSE of the exact posterior mean (b | y ~ N(0.94, 0.258^2)); planted: the prior mean is rejected', async () => {
    const post = await infer(cached(true), { method: 'nuts', chains: 2, warmup: 200, samples: 500, seed: 4 });
    const chains = post.chainColumns()!.get('b')!;
    const { mean } = post.moments('b');
    expect(Math.abs(mean - 14.1 / 15) / mcseMean(chains)).toBeLessThan(4);
    expect(Math.abs(mean - 0) / mcseMean(chains)).toBeGreaterThan(4);
  });
});

describe('one model reused with new data shapes and arguments across engines in one process', () => {
  // checked, no bug found: compiled records and caches are not reused across calls with other data lengths, other
  // number arguments (a prior scale), a closed-over number reassigned, or one data object mutated between calls
  const m = model(async ({ sample, observe }, ys: number[], s0: number) => {
    const mu = await sample('mu', Normal(0, s0));
    await observe('y', Normal(mu, 1), ys);
  }) as unknown as Model<[number[], number], unknown>;
  /** mu ~ N(0, s0^2), y_i ~ N(mu, 1): the posterior mean and sd. */
  const exact = (ys: number[], s0: number): { mean: number; sd: number } => {
    const prec = 1 / (s0 * s0) + ys.length;
    return { mean: ys.reduce((a, b) => a + b, 0) / prec, sd: Math.sqrt(1 / prec) };
  };
  it('nuts on 3 points, nuts and vi on 6 points with a tighter prior, nuts on 3 points again: each within 4 MCSE of its exact mean; planted: the previous call\'s answer is rejected', async () => {
    const calls: [number[], number][] = [[[1, 2, 3], 1], [[5, 6, 7, 8, 9, 10], 0.1], [[1, 2, 3], 1]];
    let previous: number | undefined;
    for (const [ys, s0] of calls) {
      const e = exact(ys, s0);
      const nuts = await infer(m, { method: 'nuts', chains: 2, warmup: 200, samples: 500, seed: 2 }, ys, s0);
      const chains = nuts.chainColumns()!.get('mu')!;
      const { mean } = nuts.moments('mu');
      expect(Math.abs(mean - e.mean) / mcseMean(chains)).toBeLessThan(4);
      if (previous !== undefined) expect(Math.abs(mean - previous) / mcseMean(chains)).toBeGreaterThan(4);
      previous = e.mean;
      if (ys.length === 3) continue;
      // vi between two nuts calls on other data shapes
      const vi = await infer(m, { method: 'vi', seed: 2 }, ys, s0);
      // the guide's mean against the exact one, with the guide's own draws' MCSE (independent draws)
      expect(Math.abs(vi.moments('mu').mean - e.mean) / (e.sd / Math.sqrt(vi.size))).toBeLessThan(4);
    }
  });
});

describe('deterministic sites and posterior predictive runs at new arguments', () => {
  // b ~ N(0, 1), y_i ~ N(b x_i, 1) for x = [1, 2, 3]: b | y ~ N(14.1 / 15, 1 / 15); yhat = b x is deterministic
  const reg = model(async ({ sample, observe, deterministic }, x: number[], y: number[] | undefined) => {
    const b = await sample('b', Normal(0, 1));
    const mean = tf.mul(b, tf.tensor1d(x));
    deterministic('yhat', mean);
    if (y) await observe('y', Normal(mean, 1), y);
    else await sample('y', Normal(mean, 1));
  }) as unknown as Model<[number[], number[] | undefined], unknown>;
  const x = [1, 2, 3];
  const y = [1.1, 2.3, 2.8];
  const bMean = 14.1 / 15;
  const bVar = 1 / 15;
  it('yhat equals b x in every draw of nuts, importance and mh; predictive y at x = 10 has the exact mean (planted: the fit\'s x = 3 is rejected)', async () => {
    for (const o of [{ method: 'nuts', chains: 2, warmup: 100, samples: 200, seed: 1 }, { method: 'importance', particles: 500, seed: 1 }, { method: 'mh', samples: 400, seed: 1 }]) {
      const post = await infer(reg, o as never, x, y);
      let worst = 0;
      for (const d of post.draws) {
        const b = toNumber(d.values.b as never);
        const yhat = (d.values.yhat as tf.Tensor).dataSync();
        x.forEach((xi, i) => (worst = Math.max(worst, Math.abs(yhat[i]! - b * xi))));
      }
      expect(worst).toBeLessThan(1e-5);
    }
    const post = await infer(reg, { method: 'importance', particles: 5000, seed: 5 }, x, y);
    const n = 1500;
    const pred = await post.predictive(n, { seed: 6, args: [[10], undefined] as never });
    const ys = pred.map((p) => toNumber(p.values.y as never));
    expect(pred.every((p) => (p.values.yhat as tf.Tensor).shape[0] === 1)).toBe(true);
    const mean = ys.reduce((a, b) => a + b, 0) / n;
    // resampled draws: an effective count of 1 / (1 / n + 1 / ess)
    const se = Math.sqrt((100 * bVar + 1) * (1 / n + 1 / post.ess));
    expect(Math.abs(mean - 10 * bMean) / se).toBeLessThan(4);
    expect(Math.abs(mean - 3 * bMean) / se).toBeGreaterThan(4);
  });
});

describe('infer without a method (a newcomer expecting a default)', () => {
  it('says a method is needed and which fits which model, not \'unknown method "undefined"\'', async () => {
    const m = model(async ({ sample }) => {
      await sample('z', Bernoulli(0.5));
    }) as AnyModel;
    await expect(infer(m, {} as never)).rejects.toThrow(/^infer: options need a method, e\.g\. \{ method: 'nuts' \}.*'enumerate' \(finite discrete\), 'hmc-gibbs' \(both\); available: .*enumerate/);
  });
});

describe('VI on posteriordb arma11 at its defaults', () => {
  // KNOWN BUG (not fixed here, src/infer/vi/svi.ts): at seed 3 VI stops at step 0. Its one draw of the first step lands
  // where the MA recursion overflows (the AutoNormal starts at the probe's prior draw), the loss is Infinity at step 0,
  // svi.step throws a ZeroDensityError, and infer's explanation re-runs the model from the prior and reports that run's
  // error instead: 'Normal: parameter loc must be finite, got tensor of shape [200] (in model "arma11", after site
  // "sigma")', which does not say that VI's first draw was rejected. Stan's ADVI drops rejected draws (it stops only when
  // all of its ELBO draws fail). Seeds 1, 2, 4, 5, 6 run, and their diagnostics tell the truth: 2 and 6 are far off
  // (theta 6.1 and 14.5 reference sds) and warned by k-hat 2.18 and 20.6; 1, 4, 5 are within 0.6 sds, each with a
  // location warning. Reproduce: `npx tsx` a script calling infer(arma11, { method: 'vi', seed: 3 }, armaData).
  // FIXED (message): the error now says that the model rejected VI's step-0 draw and what to try; the prior run's error
  // that explains it comes first (the site), as for every engine (diagnose.ts). Rejected draws are not dropped: see
  // docs/design.md ("VI: a rejected draw stops the fit").
  it('VI (seed 3) stops with an error saying its first draw was rejected, naming the site and what to try', async () => {
    const msg = await errorOf(arma11 as AnyModel, { method: 'vi', seed: 3 }, armaData);
    expect(msg).toMatch(/^Normal: parameter loc must be finite.*after site "sigma".*vi: the model rejected the AutoNormal's draw at step 0.*try init: 'zero'/s);
  });
});

describe('data read from JSON: null for a missing value, strings, holes, ragged rows (found: null read as 0 silently)', () => {
  // FOUND: observe('y', Normal(mu, 1), [1.1, null, 2.8]) (JSON writes a missing value as null) ran on every engine with
  // the null read as 0: NUTS gave mu 0.84 +- 0.47 where dropping the missing value gives N(1.3, 0.577^2); ragged rows
  // [[1, 2], [3]] were flattened silently too; strings failed inside tfjs ('must be numeric tensor, but got string').
  // Plain arrays are now checked once when converted (core/value.ts) and the error names the site and the element.
  const mk = (data: unknown): AnyModel =>
    model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), data as never);
    }) as AnyModel;
  const cases: [string, unknown, RegExp][] = [
    ['null', [1.1, null, 2.8], /^site "y": element \[1\] is null \(a missing value\?\): a null would be read as 0; drop the entry/],
    ['a hole', [1.1, , 2.8], /^site "y": element \[1\] is undefined \(a hole in the array\?\), not a number/], // eslint-disable-line no-sparse-arrays
    ['strings', ['1.1', '2.3'], /^site "y": element \[0\] is the string "1\.1" \(parse the data with Number first\), not a number/],
    ['ragged rows', [[1, 2], [3]], /^site "y": the array is ragged: element \[1\] has length 1, element \[0\] has length 2/],
    ['null in a row', [[1, 2], [3, null]], /^site "y": element \[1\]\[1\] is null/],
  ];
  it('every engine names the site and the element', async () => {
    const all = [{ method: 'nuts', chains: 1, warmup: 5, samples: 5 }, { method: 'vi', steps: 5 }, { method: 'importance', particles: 10 }, { method: 'smc', particles: 10 }, { method: 'mh', samples: 10 }];
    for (const [name, data, expected] of cases) {
      // every engine for the null case; the check is in the conversion every engine shares, so two suffice for the rest
      for (const o of name === 'null' ? all : all.slice(1, 3)) {
        expect(`${name}, ${o.method}: ${await errorOf(mk(data), o)}`).toMatch(new RegExp(`^${name}, ${o.method}: ${expected.source.slice(1)}`));
      }
    }
  });
  it('the data with the missing value dropped: importance within 4 MCSE of the exact mean 1.3; planted: the null-as-0 answer 0.975 is rejected', async () => {
    const post = await infer(mk([1.1, 2.8]), { method: 'importance', particles: 5000, seed: 8 });
    const se = Math.sqrt(1 / 3) / Math.sqrt(post.ess);
    expect(Math.abs(post.moments('mu').mean - 3.9 / 3) / se).toBeLessThan(4);
    expect(Math.abs(post.moments('mu').mean - 3.9 / 4) / se).toBeGreaterThan(4);
  });
});

describe('hmc-gibbs on a vector of discrete labels written as one Independent site', () => {
  it('says to declare the elements in a plate (which it runs) instead of "does not have a finite support"', async () => {
    // was: 'Independent(Bernoulli) does not have a finite support to enumerate' (its support is finite: 2^5 values)
    const vec = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 3));
      const z = await sample('z', Independent(Bernoulli(0.4).expand([5]), 1));
      await observe('y', Normal(tf.add(mu, tf.mul(z as tf.Tensor, 2)), 1), [0.3, 2.9, 2.2, -0.4, 3.1]);
    }) as AnyModel;
    expect(await errorOf(vec, { method: 'hmc-gibbs', chains: 1, warmup: 5, samples: 5 })).toMatch(/^site "z": hmc-gibbs: Independent\(Bernoulli\) is one event of shape \[5\], whose joint values Gibbs does not enumerate; declare its elements as independent in a plate/);
  });
});

describe('condition() on a deterministic or factor site (found: the data was ignored silently)', () => {
  // FOUND: condition(m, { yhat: [...] }) for yhat = deterministic('yhat', b x) passed the missing-site check (the address
  // exists) and the data was dropped: the posterior was the prior. Now it is an error naming the site and its kind.
  it('every engine names the site and says it is not a sample site', async () => {
    const m = model(async ({ sample, deterministic, factor }) => {
      const b = await sample('b', Normal(0, 1));
      deterministic('yhat', tf.mul(b, tf.tensor1d([1, 2])));
      await factor('penalty', tf.mul(-0.5, tf.square(b)));
    }) as AnyModel;
    for (const o of [{ method: 'nuts', chains: 1, warmup: 5, samples: 5 }, { method: 'vi', steps: 5 }, { method: 'importance', particles: 10 }, { method: 'smc', particles: 10 }, { method: 'mh', samples: 10 }]) {
      expect(`${o.method}: ${await errorOf(condition(m, { yhat: [1, 2] }), o)}`).toMatch(new RegExp(`^${o.method}: site "yhat": condition was given data for this address, but it is a deterministic site, not a sample site`));
    }
    expect(await errorOf(condition(m, { penalty: 0 }), { method: 'importance', particles: 10 })).toMatch(/^site "penalty": condition was given data for this address, but it is a factor site/);
  });
});
