/**
 * NEWCOMER, session 7, slow tier (TYCHE_SLOW=1): a normal mixture with one
 * discrete label per observation, written as a newcomer would (a loop of
 * sites, or a plate), under the engines that take discrete and continuous
 * latents together (hmc-gibbs, mh, importance), against the exact posterior
 * summed by hand over all 2^5 labellings. Each check has a planted wrong
 * answer that the same check rejects.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import type { Model } from '../../src/core/model.js';
import { Bernoulli, Normal, infer, model, ops } from '../../src/index.js';
import { zScore } from './newcomer-session6-helpers.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const Z = 4;
type AnyModel = Model<never[], unknown>;

beforeAll(async () => {
  await initBackend('cpu');
});

const ys = [0.3, 2.9, 2.2, -0.4, 3.1];

/**
 * mu ~ N(0, 3^2), z_i ~ Bernoulli(p), y_i ~ N(mu + 2 z_i, 1): E[mu | y] and
 * P(z_i = 1 | y), summed over every labelling with mu integrated in closed
 * form (given z, y_i - 2 z_i are N(mu, 1) with mu ~ N(0, 9)).
 */
function exactMixture(p: number): { mu: number; pz: number[] } {
  const n = ys.length;
  let total = 0;
  let mu = 0;
  const pz = new Array<number>(n).fill(0);
  for (let mask = 0; mask < 1 << n; mask++) {
    const z = ys.map((_, i) => (mask >> i) & 1);
    const d = ys.map((y, i) => y - 2 * z[i]!);
    const s = d.reduce((a, b) => a + b, 0);
    const ss = d.reduce((a, b) => a + b * b, 0);
    const w = Math.exp(-0.5 * (ss - (9 * s * s) / (1 + 9 * n))) * z.reduce((a, zi) => a * (zi ? p : 1 - p), 1);
    total += w;
    mu += w * (s / (1 / 9 + n));
    z.forEach((zi, i) => (pz[i]! += w * zi));
  }
  return { mu: mu / total, pz: pz.map((v) => v / total) };
}

const P = 0.4;
const loop = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 3));
  for (let i = 0; i < ys.length; i++) {
    const z = await sample(`z${i}`, Bernoulli(P));
    await observe(`y${i}`, Normal(ops.add(mu, ops.mul(z, 2)), 1), ys[i]!);
  }
}) as AnyModel;
const plated = model(async ({ sample, plate }) => {
  const mu = await sample('mu', Normal(0, 3));
  await plate('obs', ys.length, async (_i, pl) => {
    const z = await pl.sample('z', Bernoulli(P));
    await pl.observe('y', Normal(ops.add(mu, ops.mul(z, 2)), 1), ys);
  });
}) as AnyModel;

describe.skipIf(!SLOW)('a mixture with a discrete label per observation (slow tier)', () => {
  const exact = exactMixture(P);
  const planted = exactMixture(0.5);
  const runs: [string, AnyModel, Record<string, unknown>][] = [
    ['loop, hmc-gibbs', loop, { method: 'hmc-gibbs', chains: 4, warmup: 500, samples: 2000, seed: 11 }],
    ['plate, hmc-gibbs', plated, { method: 'hmc-gibbs', chains: 4, warmup: 500, samples: 2000, seed: 12 }],
    ['loop, mh', loop, { method: 'mh', chains: 4, warmup: 2000, samples: 10000, seed: 13 }],
    ['plate, importance', plated, { method: 'importance', particles: 50000, seed: 14 }],
  ];
  for (const [name, m, o] of runs) {
    it(`${name}: E[mu] and P(z_1 = 1) within ${Z} MCSE of the sum over labellings; planted (p = 0.5) rejected`, async () => {
      const post = await infer(m, o as never);
      const z1 = post.addresses().includes('z1') ? 'z1' : undefined;
      expect(zScore(post, 'mu', exact.mu)).toBeLessThan(Z);
      if (z1) {
        expect(zScore(post, z1, exact.pz[1]!)).toBeLessThan(Z);
        expect(zScore(post, z1, planted.pz[1]!)).toBeGreaterThan(Z);
      } else {
        // the plate's z is one vector site: its second element by the draws' marginal
        const got = post.expectation((d) => Array.from((d.values.z as { dataSync(): ArrayLike<number> }).dataSync())[1]!);
        const se = Math.sqrt((exact.pz[1]! * (1 - exact.pz[1]!)) / Math.min(post.ess, post.size));
        expect(Math.abs(got - exact.pz[1]!) / se).toBeLessThan(Z);
        expect(Math.abs(got - planted.pz[1]!) / se).toBeGreaterThan(Z);
      }
    }, 600_000);
  }
});
