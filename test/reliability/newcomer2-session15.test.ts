/**
 * NEWUSER2, session 15: the engines beyond NUTS/HMC/importance, probed as a
 * newcomer writes models. These probes found the answers right or the errors
 * clear; the tests keep them so.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Bernoulli, Gamma, Normal, Poisson, infer, model } from '../../src/index.js';
import { compareWithEnumeration } from '../../src/testing/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('impossible data: every engine stops with an error naming the observed site', () => {
  const m = model(async ({ sample, observe }) => {
    const r = await sample('r', Gamma(2, 1));
    await observe('count', Poisson(r), -1);
  });
  const engines = [
    { method: 'mh', samples: 50, warmup: 50 },
    { method: 'importance', particles: 100 },
    { method: 'smc', particles: 100 },
    { method: 'vi', steps: 20 },
    { method: 'nuts', samples: 20, warmup: 20, chains: 1 },
    { method: 'svgd', steps: 20, particles: 10 },
  ] as const;
  for (const o of engines) {
    it(`${o.method}: 'site "count"' and the support, not a NaN posterior`, async () => {
      await expect(infer(m, { seed: 1, ...o })).rejects.toThrow(/site "count": the observed value -1 is outside the support of Poisson/);
    });
  }
});

describe("compareWithEnumeration on a user's own two-state HMM: a right engine passes, a planted wrong one fails", () => {
  const ys = [0.1, 2.2, 1.9, -0.1];
  const hmm = (sd: number) =>
    model(async ({ sample, observe }) => {
      let s = (await sample('s0', Bernoulli(0.5))) as number;
      await observe('y0', Normal(s ? 2 : 0, sd), ys[0]!);
      for (let t = 1; t < ys.length; t++) {
        s = (await sample(`s${t}`, Bernoulli(s ? 0.8 : 0.2))) as number;
        await observe(`y${t}`, Normal(s ? 2 : 0, sd), ys[t]!);
      }
    });
  const right = hmm(0.8);
  it('smc on the model passes; smc on the model with the emission sd 1.2 instead of 0.8 (planted) fails, naming s0', async () => {
    const good = await compareWithEnumeration(right, [], { method: 'smc', particles: 2000, seed: 1 });
    expect(good.pass, good.toString()).toBe(true);
    const wrong = await infer(hmm(1.2), { method: 'smc', particles: 2000, seed: 1 });
    const bad = await compareWithEnumeration(right, [], wrong);
    expect(bad.pass).toBe(false);
    expect(bad.toString()).toContain('s0');
  });
});
