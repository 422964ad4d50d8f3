/**
 * SUBSAMPLE, session 9: a subsampled plate (`plate('data', 1000, fn, { subsample: 100 })`,
 * as in Pyro's `subsample_size`) on every engine, written as a user would: y_i ~ Normal(mu, 1)
 * for 1000 points, mu ~ Normal(0, 10), whose exact posterior is Normal. VI and SVGD fit with it
 * and score, complete and predict on the full data; every other engine refuses it with one
 * wording (`src/infer/subsample.ts`), naming the plate.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Bernoulli, Normal, infer, model, toNumber } from '../../src/index.js';
import { SVI } from '../../src/infer/vi/svi.js';
import { adagradStepper, robbinsMonro, steinDirection } from '../../src/infer/vi/svgd.js';
import { subsampleRefusal } from '../../src/infer/subsample.js';
import { rngFrom } from '../../src/core/rng.js';
import { execute } from '../../src/core/model.js';
import { conditionHandler } from '../../src/core/handlers.js';
import { priorPredictive, sbc } from '../../src/testing/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const N = 1000;
const ys = Array.from({ length: N }, (_, i) => 1.5 + Math.sin(i * 1.7) * 1.2 + 0.3 * Math.cos(i * 0.37));
const yT = tf.tensor1d(ys);
/** The user's model: `size` undefined is the full plate. */
const regression = model(async ({ sample, plate }, size: number | undefined) => {
  const mu = await sample('mu', Normal(0, 10));
  await plate('data', N, async (idx, p) => {
    await p.observe('y', Normal(mu, 1), tf.gather(yT, tf.tensor1d(idx, 'int32')));
  }, { subsample: size });
  return mu;
});
// exact posterior: precision 1/100 + N, mean sum(y) / precision
const exactSd = 1 / Math.sqrt(1 / 100 + N);
const exactMean = ys.reduce((a, b) => a + b, 0) * exactSd ** 2;

describe('engines that need the log density refuse a subsampled plate, all in one wording', () => {
  // FOUND (the same model, subsample 100, seed 1): mh stuck (R-hat 1.47, sd 0.178 against 0.0316), importance 1.6703
  // (ESS 1; exact 1.5007), smc 1.2242 (ESS 1), tempered 1.4871 with sd 0.1011 and no warning, neutra "the step size
  // fell to 0". A subsample's exp(scaled log likelihood) is a biased likelihood estimate, so none can be right.
  const mixed = model(async ({ sample, plate }, size: number | undefined) => {
    const z = toNumber(await sample('z', Bernoulli(0.5)));
    const mu = await sample('mu', Normal(z, 10));
    await plate('data', N, async (idx, p) => {
      await p.observe('y', Normal(mu, 1), tf.gather(yT, tf.tensor1d(idx, 'int32')));
    }, { subsample: size });
  });
  const labelOnly = model(async ({ sample, plate }, size: number | undefined) => {
    const z = toNumber(await sample('z', Bernoulli(0.5)));
    await plate('data', N, async (idx, p) => {
      await p.observe('y', Normal(1 + z, 1), tf.gather(yT, tf.tensor1d(idx, 'int32')));
    }, { subsample: size });
  });
  const cases: [string, Record<string, unknown>, typeof regression | typeof mixed][] = [
    ['mh', { samples: 20 }, regression],
    ['mh', { samples: 20, gibbs: true }, mixed],
    ['importance', { particles: 20 }, regression],
    ['smc', { particles: 20 }, regression],
    ['tempered', { particles: 20 }, regression],
    ['nuts', { chains: 1, warmup: 5, samples: 5 }, regression],
    ['hmc', { chains: 1, warmup: 5, samples: 5 }, regression],
    ['hmc-gibbs', { chains: 1, warmup: 5, samples: 5 }, mixed],
    ['neutra', { viSteps: 5 }, regression],
    ['enumerate', {}, labelOnly],
  ];
  it.each(cases)('%s %j refuses, naming the plate and pointing to vi/svgd', async (method, options, m) => {
    const expected = subsampleRefusal(method, 'data', N, 100).message;
    expect(expected).toMatch(new RegExp(`^${method}: plate "data" takes a subsample \\(100 of 1000\\), .* or use method 'vi' or 'svgd', which are made for subsampling$`));
    await expect(infer(m as typeof regression, { method, seed: 1, ...options } as never, 100)).rejects.toThrow(expected);
  });
  it('a bad subsample option is its own error on every engine, not quoted in a refusal', async () => {
    for (const method of ['mh', 'vi'] as const) {
      await expect(infer(regression, { method, seed: 1 } as never, 0)).rejects.toThrow('plate "data": subsample size must be an integer in 1..1000, got 0');
      await expect(infer(regression, { method, seed: 1 } as never, 2.5)).rejects.toThrow('plate "data": subsample size must be an integer in 1..1000, got 2.5');
    }
  });
  it('explicit subsample indices are refused too; a subsample of the whole plate is no subsample', async () => {
    const explicit = model(async ({ sample, plate }, idx: number[]) => {
      const mu = await sample('mu', Normal(0, 10));
      await plate('data', N, async (i, p) => p.observe('y', Normal(mu, 1), tf.gather(yT, tf.tensor1d(i, 'int32'))), { subsample: idx });
    });
    await expect(infer(explicit, { method: 'importance', particles: 10, seed: 1 }, [0, 5, 9])).rejects.toThrow(subsampleRefusal('importance', 'data', N, 3).message);
    const post = await infer(regression, { method: 'importance', particles: 10, seed: 1 }, N);
    expect(post.size).toBeGreaterThan(0);
    post.dispose();
  });
});

describe('VI on a subsampled plate: the post-fit checks score the draws on the full data', () => {
  // FOUND: the checks scored each draw on a subsample. Run once per draw (vectorize: false, seed 1, 1000 steps) every
  // draw met another subsample: k-hat 8.64 and a k-hat warning on a fit at mu 1.497 (exact 1.5007). Run batched, the
  // draws shared one subsample: "reweighted by p/q (PSIS) put it at 1.552 (1.81 posterior sds)", on a guide at 1.496.
  it('batched: no false location warning, and the reweighted mean is the full-data posterior mean', async () => {
    const post = await infer(regression, { method: 'vi', steps: 2000, particles: 4, seed: 1 }, 100);
    const d = post.diagnostics as { khat: number; subsampled?: { plate: string }; compiled: true | string };
    expect(post.warnings).toEqual([]);
    expect(d.subsampled?.plate).toBe('data');
    expect(d.compiled).toBe('plate "data" takes a subsample, which a compiled record would freeze');
    expect(d.khat).toBeLessThan(0.5);
    // the guide's mean: within 0.25 posterior sds (an optimisation error, not Monte Carlo: 1000 draws give MCSE 0.002)
    expect(Math.abs(post.moments('mu').mean - exactMean)).toBeLessThan(0.25 * exactSd);
    // posterior predictive and return values come from full-data runs: y has all 1000 points, in the data's order
    const [pred] = await post.predictive(1, { seed: 2 });
    expect((pred!.values.y as tf.Tensor).shape).toEqual([N]);
    post.dispose();
  });
  it('a fit stopped while its scale was still settling warns that the guide is too wide (the reweighted sd is the exact one); the settled fit above does not', async () => {
    // FOUND: 1000 steps at the default lr, subsample 100: guide sd 0.068 against the exact 0.0316, no warning (a wide
    // guide's ratios have light tails, so k-hat is quiet, and the subsample's noise hides the loss trend)
    const post = await infer(regression, { method: 'vi', steps: 300, seed: 1 }, 100);
    const [w] = post.warnings.filter((x) => x.includes('is wider than the posterior'));
    const m = /sd of "mu" is ([0-9.]+), but its draws reweighted by p\/q \(PSIS\) put it at ([0-9.]+)/.exec(w ?? '');
    expect(m, post.warnings.join('\n')).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(1.5 * exactSd);
    // the reweighted sd from 1000 draws: within 15% of the exact sd (its relative MC error is about 1/sqrt(2 * ESS))
    expect(Math.abs(Number(m![2]) - exactSd)).toBeLessThan(0.15 * exactSd);
    expect(w).toMatch(/plate "data"'s subsample \(100 of 1000\)/);
    post.dispose();
  });
  it('per draw: k-hat of the full-data ratios is small; planted, the same fit scored on a subsample (as the checks were) gives k-hat > 0.7', async () => {
    const svi = new SVI(regression, 'normal', { seed: 1, vectorize: false });
    try {
      for (let k = 0; k < 1000; k++) await svi.step([100]);
      const full = await svi.sample([100], 500, { fullData: true });
      const noisy = await svi.sample([100], 500);
      expect(full.khat).toBeLessThan(0.5);
      expect(noisy.khat).toBeGreaterThan(0.7);
      for (const s of [full, noisy]) for (const dr of s.draws) for (const v of Object.values(dr.values)) if (v instanceof tf.Tensor) v.dispose();
    } finally {
      svi.dispose();
    }
  });
});

describe('VI with local latents in a subsampled plate', () => {
  // FOUND: a guide model with the same plate drew its own subsample, so its z for data points I met the model's
  // observations of other points J (silently); an autoguide's parameters for z took the subsample's shape [20], so
  // each step paired them with other points, and the fit ended in 'shapes [1000, 20] and [1000, 200] do not broadcast'.
  const n200 = 200;
  const y200 = tf.tensor1d(Array.from({ length: n200 }, (_, i) => 1.5 + Math.sin(i * 1.7) * 1.2));
  const modelIdx: number[][] = [];
  const guideIdx: number[][] = [];
  const local = model(async ({ sample, plate }, size: number | undefined) => {
    const mu = await sample('mu', Normal(0, 10));
    await plate('data', n200, async (idx, p) => {
      modelIdx.push(idx);
      const z = await p.sample('z', Normal(mu, 1));
      await p.observe('y', Normal(z, 0.5), tf.gather(y200, tf.tensor1d(idx, 'int32')));
    }, { subsample: size });
  });
  const guide = model(async ({ sample, plate, param }, size: number | undefined) => {
    await sample('mu', Normal(await param('a', 0), 0.1));
    const loc = (await param('zloc', tf.zeros([n200]))) as tf.Tensor;
    await plate('data', n200, async (idx, p) => {
      guideIdx.push(idx);
      await p.sample('z', Normal(tf.gather(loc, tf.tensor1d(idx, 'int32')), 0.1));
    }, { subsample: size });
  });
  it('a guide model and the model take the same subsample in each step (as Pyro shares a plate between them), and the final draws cover all the data', async () => {
    const svi = new SVI(local, guide, { seed: 1, particles: 1 });
    try {
      await svi.init([20]);
      const taken: string[] = [];
      for (let k = 0; k < 3; k++) {
        modelIdx.length = guideIdx.length = 0;
        await svi.step([20]);
        expect(guideIdx.map((i) => i.join(','))).toEqual(modelIdx.map((i) => i.join(',')));
        expect(modelIdx[0]!.length).toBe(20);
        taken.push(modelIdx[0]!.join(','));
      }
      expect(new Set(taken).size).toBe(3);
      const drawn = await svi.sample([20], 2, { fullData: true });
      expect((drawn.draws[0]!.values.z as tf.Tensor).shape).toEqual([n200]);
      for (const dr of drawn.draws) for (const v of Object.values(dr.values)) if (v instanceof tf.Tensor) v.dispose();
    } finally {
      svi.dispose();
    }
  });
  it('an autoguide refuses a latent site in a subsampled plate, naming the site and the plate', async () => {
    await expect(infer(local, { method: 'vi', steps: 3, seed: 1 }, 20)).rejects.toThrow(/^vi: latent site "z" is inside plate "data", which takes a subsample \(20 of 200\): the AutoNormal's parameters .* give a guide model whose parameters for it have the plate's full size/);
  });
});

describe('SVGD on a subsampled plate: a Robbins–Monro step size, a fresh seeded subsample per step', () => {
  // FOUND: 200 points, subsample 20, 50 particles, seed 1..8: every seed gave 1.558 (exact 1.4986 ± 0.0707): the
  // subsamples came from one stream whatever the seed, and the fixed AdaGrad step left the particles where the last
  // few subsamples pushed them. Seeded but undecayed, the means spread by 0.062 (1.377 .. 1.553). Now, with the step
  // decaying over the second half, 8 seeds: mean 1.4909, spread 0.0109 (0.15 posterior sds).
  const n200 = 200;
  const ys200 = Array.from({ length: n200 }, (_, i) => 1.5 + Math.sin(i * 1.7) * 1.2);
  const y200 = tf.tensor1d(ys200);
  const small = model(async ({ sample, plate }, size: number | undefined) => {
    const mu = await sample('mu', Normal(0, 10));
    await plate('data', n200, async (idx, p) => p.observe('y', Normal(mu, 1), tf.gather(y200, tf.tensor1d(idx, 'int32'))), { subsample: size });
  });
  const sd200 = 1 / Math.sqrt(1 / 100 + n200);
  const mean200 = ys200.reduce((a, b) => a + b, 0) * sd200 ** 2;
  it('4 seeds: their means agree with the exact mean within 4 standard errors and spread by under 0.25 posterior sds', async () => {
    const means: number[] = [];
    for (let seed = 1; seed <= 4; seed++) {
      const post = await infer(small, { method: 'svgd', particles: 50, seed }, 20);
      expect(post.warnings).toEqual([]);
      means.push(post.moments('mu').mean);
      post.dispose();
    }
    const avg = means.reduce((a, b) => a + b, 0) / means.length;
    const spread = Math.sqrt(means.reduce((a, b) => a + (b - avg) ** 2, 0) / (means.length - 1));
    expect(spread).toBeLessThan(0.25 * sd200);
    expect(Math.abs(avg - mean200)).toBeLessThan(4 * (spread / Math.sqrt(means.length)) + 0.05 * sd200);
  });
  it("optimizer 'coin' has no step size to decay: it warns, naming the plate", async () => {
    const post = await infer(small, { method: 'svgd', particles: 20, steps: 50, optimizer: 'coin', seed: 1 }, 20);
    expect(post.warnings.join('\n')).toMatch(/svgd: plate "data" takes a subsample \(20 of 200\) and optimizer 'coin' has no step size to decay/);
    post.dispose();
  });
  it('the mechanism, planted: noisy gradients with a fixed step leave the particles off; the decaying step does not', () => {
    // target N(0, 1) in one dimension; each step's gradient carries one shared noise term of sd 20 (a subsample's)
    const run = (decay: boolean, seed: number): number => {
      const rng = rngFrom(seed);
      const n = 20;
      const steps = 500;
      const x = Float64Array.from({ length: n }, () => 4 * rng.uniform() - 2);
      const stepper = adagradStepper(0.05);
      for (let t = 0; t < steps; t++) {
        const noise = 20 * rng.normal();
        const grad = Float64Array.from(x, (v) => -v + noise);
        const h = 1;
        stepper.step(x, steinDirection(x, grad, n, 1, h), decay ? robbinsMonro(t, steps) : 1);
      }
      return x.reduce((a, b) => a + b, 0) / n;
    };
    const rms = (decay: boolean) => Math.sqrt([1, 2, 3, 4, 5, 6, 7, 8].reduce((a, s) => a + run(decay, s) ** 2, 0) / 8);
    expect(rms(true)).toBeLessThan(0.25);
    expect(rms(false)).toBeGreaterThan(0.25);
  });
});

describe('SBC and condition() with a subsampled plate', () => {
  // FOUND: priorPredictive simulated y only at one run's 100 random indices; `condition` then handed those 100 values
  // to every run, whatever its subsample (so they met other points' covariates), and VI's full-data checks failed on
  // their shape; SBC's logLik rank compared the truth and the draws on different random subsamples.
  it('condition() given the full data cuts it to each run\'s subsample (planted: the same values uncut do not fit the plate)', async () => {
    const conditioned = regression.withHandler(conditionHandler({ y: yT }));
    const { trace } = await execute(conditioned, { rng: rngFrom(3) }, 10);
    const site = trace.get('y')!;
    const idx = site.plates[0]!.indices;
    expect(idx.length).toBe(10);
    expect(Array.from((site.value as tf.Tensor).dataSync())).toEqual(idx.map((i) => Math.fround(ys[i]!)));
    const uncut = model(async ({ sample, plate }, size: number) => {
      const mu = await sample('mu', Normal(0, 10));
      await plate('data', N, async (_idx, p) => p.observe('y', Normal(mu, 1), yT), { subsample: size });
    });
    await expect(execute(uncut, { rng: rngFrom(3) }, 10)).rejects.toThrow(/does not fit plate "data" of size 10|do not broadcast|shape/);
  });
  it('VI steps on a conditioned subsampled model (full-size data cut per run) hold tf.memory().numTensors flat', async () => {
    const conditioned = regression.withHandler(conditionHandler({ y: yT }));
    const svi = new SVI(conditioned, 'normal', { seed: 1, vectorize: false });
    try {
      await svi.init([50]);
      await svi.step([50]);
      const before = tf.memory().numTensors;
      for (let k = 0; k < 10; k++) await svi.step([50]);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      svi.dispose();
    }
  });
  it('an SBC loop runs VI on the subsampled model (data simulated at full size), and an engine that cannot subsample refuses', async () => {
    const simulator = priorPredictive(regression, [20] as [number | undefined]);
    const sim = await simulator(rngFrom(1), 0);
    expect((sim.data!.y as tf.Tensor).shape).toEqual([N]);
    const r = await sbc({ simulator, engine: { method: 'vi', steps: 50, samples: 20 }, simulations: 2, draws: 9, seed: 1 });
    expect(r.quantities.map((q) => q.name)).toEqual(['mu', 'logLik']);
    await expect(sbc({ simulator, engine: { method: 'importance', particles: 20 }, simulations: 1, draws: 9, seed: 1 })).rejects.toThrow(subsampleRefusal('importance', 'data', N, 20).message);
  });
});
