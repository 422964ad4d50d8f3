/**
 * NEWCOMER, session 6, slow tier (TYCHE_SLOW=1): the engines that accept a
 * model whose structure depends on earlier choices, against exact answers:
 * a continuous choice (MH with 4 chains, SMC over independent runs) by 2-d
 * quadrature, and a discrete one (how many coins are flipped) by a sum by
 * hand (enumeration exact; importance, SMC and MH within 4 MCSE). Each check
 * has a planted wrong answer that the same check rejects.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import type { Model } from '../../src/core/model.js';
import { Bernoulli, Categorical, Poisson, infer, model, toNumber } from '../../src/index.js';
import { quadratureStructure, structureModel, zScore } from './newcomer-session6-helpers.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const Z = 4;
type AnyModel = Model<never[], unknown>;

beforeAll(async () => {
  await initBackend('cpu');
});

/** Mean over independent runs and its standard error (the spread of the runs): no trust in one run's resampled ESS. */
async function overRuns(runs: number, run: (seed: number) => Promise<number>): Promise<{ mean: number; se: number }> {
  const xs: number[] = [];
  for (let s = 0; s < runs; s++) xs.push(await run(100 + s));
  const mean = xs.reduce((a, b) => a + b, 0) / runs;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (runs - 1);
  return { mean, se: Math.sqrt(v / runs) };
}

describe.skipIf(!SLOW)('structure chosen by an earlier continuous value (slow tier)', () => {
  const ys = [0.8, -0.3, 1.9];
  const m = structureModel(ys);
  const exact = quadratureStructure(ys, true);
  const planted = quadratureStructure(ys, false);

  it('MH, 4 chains: E[mu] within 4 MCSE of quadrature; planted (branch always taken) rejected', async () => {
    const post = await infer(m, { method: 'mh', chains: 4, warmup: 1000, samples: 5000, seed: 6 });
    expect(zScore(post, 'mu', exact.mean)).toBeLessThan(Z);
    expect(zScore(post, 'mu', planted.mean)).toBeGreaterThan(Z);
  }, 600_000);

  it('SMC, 10 independent runs of 1000 particles: E[mu] within 4 standard errors of quadrature; planted rejected', async () => {
    const r = await overRuns(10, async (seed) => (await infer(m, { method: 'smc', particles: 1000, seed })).moments('mu').mean);
    expect(Math.abs(r.mean - exact.mean) / r.se).toBeLessThan(Z);
    expect(Math.abs(r.mean - planted.mean) / r.se).toBeGreaterThan(Z);
  }, 600_000);
});

describe.skipIf(!SLOW)('structure chosen by an earlier discrete value: how many coins are flipped (slow tier)', () => {
  // n - 1 ~ Categorical(0.2, 0.5, 0.3); n coins with P(heads) = 0.6; 3 ~ Poisson(1 + heads)
  const m = model(async ({ sample, observe }) => {
    const n = toNumber(await sample('n', Categorical([0.2, 0.5, 0.3]))) + 1;
    let heads = 0;
    for (let i = 0; i < n; i++) heads += toNumber(await sample(`c${i}`, Bernoulli(0.6)));
    await observe('k', Poisson(1 + heads), 3);
  }) as AnyModel;
  /** E[n - 1 | k = 3] and log Z, summed by hand over n (prior `prior`) and the number of heads. */
  function byHand(pHeads: number, prior: readonly number[]): { mean: number; logZ: number } {
    const pois3 = (l: number): number => (Math.exp(-l) * l ** 3) / 6;
    const choose = (n: number, h: number): number => (n === 3 && (h === 1 || h === 2) ? 3 : n === 2 && h === 1 ? 2 : 1);
    let z = 0;
    let s = 0;
    prior.forEach((p, j) => {
      const n = j + 1;
      for (let h = 0; h <= n; h++) {
        const w = p * choose(n, h) * pHeads ** h * (1 - pHeads) ** (n - h) * pois3(1 + h);
        z += w;
        s += w * j;
      }
    });
    return { mean: s / z, logZ: Math.log(z) };
  }
  const exact = byHand(0.6, [0.2, 0.5, 0.3]);
  // planted: the Categorical's probabilities read the other way round (E[n - 1] 0.995 against 1.184)
  const planted = byHand(0.6, [0.3, 0.5, 0.2]);

  it('enumeration equals the hand sum to 1e-9 (mean and log Z); the planted sum differs', async () => {
    const post = await infer(m, { method: 'enumerate' });
    expect(Math.abs(post.moments('n').mean - exact.mean)).toBeLessThan(1e-9);
    expect(Math.abs(post.logZ - exact.logZ)).toBeLessThan(1e-9);
    expect(Math.abs(post.moments('n').mean - planted.mean)).toBeGreaterThan(1e-3);
  }, 600_000);

  it('importance (Kish ESS) and MH (4 chains) within 4 MCSE, SMC within 4 standard errors over 10 runs; planted rejected', async () => {
    const imp = await infer(m, { method: 'importance', particles: 20000, seed: 4 });
    const mh = await infer(m, { method: 'mh', chains: 4, warmup: 500, samples: 5000, seed: 4 });
    for (const post of [imp, mh]) {
      expect(zScore(post, 'n', exact.mean)).toBeLessThan(Z);
      expect(zScore(post, 'n', planted.mean)).toBeGreaterThan(Z);
    }
    const r = await overRuns(10, async (seed) => (await infer(m, { method: 'smc', particles: 1000, seed })).moments('n').mean);
    expect(Math.abs(r.mean - exact.mean) / r.se).toBeLessThan(Z);
    expect(Math.abs(r.mean - planted.mean) / r.se).toBeGreaterThan(Z);
  }, 600_000);
});
