/**
 * NEWPPL, session 11: models and calls written as a newcomer would, on ground
 * the earlier sessions had not covered, checked against exact answers with
 * Monte Carlo standard-error tolerances. Each test fails on the code before
 * its fix (the old figures are in the titles); each statistical check
 * rejects a planted wrong answer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Normal, Uniform, infer, mask, model, ops } from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** |estimate - exact| within 4 standard errors. */
const within = (estimate: number, exact: number, se: number) => Math.abs(estimate - exact) <= 4 * se;
/** A posterior mean and its MCSE: importance by its Kish ESS, MCMC by the site's bulk ESS. */
function meanAndSe(post: { ess: number; method: string; moments(n: string): { mean: number; sd: number }; summary(): { rows: { name: string; ess_bulk?: number | string }[] } }, site: string): { mean: number; se: number } {
  const { mean, sd } = post.moments(site);
  const ess = post.method === 'importance' ? post.ess : (post.summary().rows.find((r) => r.name === site)!.ess_bulk as number);
  return { mean, se: sd / Math.sqrt(ess) };
}

describe('mask(model, booleanTensor) over a model with a scalar prior (found: the mask broadcast the prior\'s log density to its shape, counting it once per true element: E[mu] 1.00, sd 0.50 on importance, nuts, mh, smc and vi against the exact 1.333, 0.577)', () => {
  // y = [1, (missing), 3] with the middle value masked out; mu ~ N(0, 1), y ~ N(mu, 1): mu | y ~ N(4/3, 1/3)
  const m = model(async ({ sample, observe }, y: number[]) => {
    const mu = await sample('mu', Normal(0, 1));
    await observe('y', Normal(mu, 1), y);
    return mu;
  });
  const exact = 4 / 3;
  const wrong = 1; // the prior counted twice: mu | y ~ N(4/4, 1/4)

  it('a mask that would broadcast beyond a site\'s log density is refused, naming the site, both shapes and the way out; every engine', async () => {
    const observedMask = tf.tensor1d([1, 0, 1], 'bool');
    for (const method of ['importance', 'nuts', 'mh', 'vi'] as const) {
      await expect(infer(mask(m, observedMask), { method, seed: 1 }, [1, 99, 3])).rejects.toThrow(/site "mu": a mask of shape \[3\] does not fit this site's log density of shape \[\].*mask\(m, value, \['y'\]\)/);
    }
    observedMask.dispose();
  });

  it('mask(m, value, [\'y\']) masks the observation only: importance and NUTS within 4 MCSE of the exact 4/3; planted: the prior-counted-twice answer 1 is rejected', async () => {
    const observedMask = tf.tensor1d([1, 0, 1], 'bool');
    for (const method of ['importance', 'nuts'] as const) {
      const post = await infer(mask(m, observedMask, ['y']), { method, seed: 1, ...(method === 'importance' ? { particles: 20000 } : {}) }, [1, 99, 3]);
      const { mean, se } = meanAndSe(post, 'mu');
      expect(within(mean, exact, se), `${method}: ${mean} +- ${se}`).toBe(true);
      expect(within(wrong, mean, se), `${method}: planted`).toBe(false);
      post.dispose();
    }
    observedMask.dispose();
  });
});

describe('data far from 0 on its own scale (found: readings near 1e6 with noise sd 1 were refused by nuts, hmc and vi as "the model branches on a tensor comparison": float32\'s rounding of the data, tenths of a nat per site, read as a branch)', () => {
  const y = [1000003.2, 1000001.9, 1000004.1, 1000002.6, 1000003.7, 1000002.2, 1000003.0, 1000001.4];
  const m = model(async ({ sample, observe }, y: number[]) => {
    const mu = await sample('mu', Normal(1e6, 10));
    for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(mu, 1), y[i]!);
    return mu;
  });

  it('NUTS runs (the compiled density is float64) and E[mu] is within 4 MCSE of the exact conjugate mean; planted: the prior mean is rejected; a real branch is still refused', async () => {
    const n = y.length;
    const ybar = y.reduce((a, b) => a + b) / n;
    const exact = (1e6 / 100 + n * ybar) / (1 / 100 + n); // 1e6 + 2.759, sd 0.353
    const post = await infer(m, { method: 'nuts', seed: 1 }, y);
    const { mean, se } = meanAndSe(post, 'mu');
    expect(within(mean, exact, se), `${mean - 1e6} +- ${se}`).toBe(true);
    expect(within(1e6, mean, se)).toBe(false);
    expect(post.warnings).toEqual([]);
    post.dispose();
    // the same data, a model that does branch on a tensor: still refused
    const branching = model(async ({ sample, observe }, y: number[]) => {
      const mu = await sample('mu', Normal(1e6, 10));
      for (let i = 0; i < y.length; i++) await observe(`y${i}`, Normal(mu, ops.gt(mu, 1e6) ? 1 : 2), y[i]!);
      return mu;
    });
    await expect(infer(branching, { method: 'nuts', seed: 1 }, y)).rejects.toThrow(/branches on a tensor comparison/);
  });
});

describe('a wide uniform prior, Uniform(-1e8, 1e8) (found: NUTS reported every draw as float32 of lower + width * sigmoid(u), a grid 12 wide in the middle: E[mu] -0.004, sd 0.179 against the exact 0.5, 1.0, no warning; at 1e10 every draw was 0)', () => {
  // one observation y = 0.5 with sd 1: mu | y ~ N(0.5, 1) (the bounds are 1e8 sds away)
  const m = model(async ({ sample, observe }, y: number) => {
    const mu = await sample('mu', Uniform(-1e8, 1e8));
    await observe('y', Normal(mu, 1), y);
    return mu;
  });

  it('NUTS: mean and sd within 4 MCSE of the exact 0.5 and 1 (draws mapped in float64); planted: the float32 grid\'s answer (sd 0.179) is rejected', async () => {
    const post = await infer(m, { method: 'nuts', seed: 1 }, 0.5);
    const row = post.summary().rows.find((r) => r.name === 'mu')! as unknown as { mean: number; sd: number; mcse_mean: number; mcse_sd: number };
    expect(within(row.mean, 0.5, row.mcse_mean), `mean ${row.mean} +- ${row.mcse_mean}`).toBe(true);
    expect(within(row.sd, 1, row.mcse_sd), `sd ${row.sd} +- ${row.mcse_sd}`).toBe(true);
    expect(within(0.179, row.sd, row.mcse_sd)).toBe(false);
    post.dispose();
  });

  it('beyond float64\'s reach (Uniform(-1e20, 1e20): every draw 0, R-hat and ESS NaN) NUTS warns that the site never moved (it said only "an efficiency warning ..., not a sign of a wrong answer")', async () => {
    const wide = model(async ({ sample, observe }, y: number) => {
      const mu = await sample('mu', Uniform(-1e20, 1e20));
      await observe('y', Normal(mu, 1), y);
      return mu;
    });
    const post = await infer(wide, { method: 'nuts', seed: 1, warmup: 200, samples: 200 }, 0.5);
    expect(post.moments('mu').sd).toBe(0);
    expect(post.warnings.join('\n')).toMatch(/every draw of mu is the same value in every chain: the sampler never moved it/);
    post.dispose();
    // planted: a run that moves has no such warning
    const ok = await infer(m, { method: 'nuts', seed: 1, warmup: 200, samples: 200 }, 0.5);
    expect(ok.warnings.join('\n')).not.toMatch(/never moved/);
    ok.dispose();
  });
});
