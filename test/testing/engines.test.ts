/**
 * Every engine passes SBC on small models (fast tier) and agrees with
 * enumeration on a discrete model; fixed seeds. HMC, VI, SVGD and NeuTra:
 * gradient-engines.test.ts. Heavier runs: engines.slow.test.ts.
 *
 * Design error rate: each SBC run at family-wise alpha 0.001 (Bonferroni
 * over its quantities and tests), so the 12 runs together falsely fail a
 * correct engine with probability at most about 1.2%; oracle tolerances
 * are 4 sigma per probability.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model, ops } from '../../src/core/index.js';
import { Bernoulli, Categorical, Normal } from '../../src/distributions/index.js';
import { betaBernoulli, compareWithEnumeration, normalNormal, priorPredictive, sbc, type EngineSpec, type Simulator } from '../../src/testing/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const normal = normalNormal(0, 1, 1);
const beta = betaBernoulli(2, 2);

/** A small discrete model: a latent regime and a class drive coin flips. */
const regimes = model(async ({ sample, observe }, flips: number[]) => {
  const biased = await sample('biased', Bernoulli(0.3));
  const k = await sample('k', Categorical([0.2, 0.5, 0.3]));
  const p = biased ? 0.8 : 0.2 + 0.2 * k;
  for (let i = 0; i < flips.length; i++) await observe(`f${i}`, Bernoulli(p), flips[i]);
});

/** Linear regression with two coefficients (tensor-polymorphic arithmetic, so gradients work). */
const regression = model(async ({ sample, observe }, xs: number[], ys: number[]) => {
  const a = await sample('a', Normal(0, 1));
  const b = await sample('b', Normal(0, 1));
  for (let i = 0; i < xs.length; i++) await observe(`y${i}`, Normal(ops.add(a, ops.mul(b, xs[i])), 0.5), ys[i]);
});

/** A mixed discrete/continuous model for hmc-gibbs: a switch picks the mean of x. */
const switched = model(async ({ sample, observe }, ys: number[]) => {
  const b = await sample('b', Bernoulli(0.3));
  const x = await sample('x', Normal(b === 1 ? 1.5 : -1, 1));
  for (let i = 0; i < ys.length; i++) await observe(`y${i}`, Normal(x, 0.7), ys[i]);
});

interface Case {
  readonly engine: string;
  readonly model: string;
  readonly simulator: Simulator<never[], unknown>;
  readonly spec: EngineSpec<never[], unknown>;
  readonly simulations: number;
  readonly draws: number;
}

const models = {
  'normal-normal': normal.simulator(3) as unknown as Simulator<never[], unknown>,
  'beta-bernoulli': beta.simulator(5) as unknown as Simulator<never[], unknown>,
  regimes: priorPredictive(regimes, [[0, 0, 0, 0]]) as unknown as Simulator<never[], unknown>,
  regression: priorPredictive(regression, [[-1, 0, 1, 2], [0, 0, 0, 0]]) as unknown as Simulator<never[], unknown>,
  switched: priorPredictive(switched, [[0, 0, 0]]) as unknown as Simulator<never[], unknown>,
};

const nuts = { method: 'nuts', chains: 1, warmup: 60, samples: 60, vectorize: false };
const cases: Case[] = [
  { engine: 'enumerate', model: 'regimes', spec: { method: 'enumerate' }, simulations: 100, draws: 19 },
  { engine: 'importance', model: 'normal-normal', spec: { method: 'importance', particles: 500 }, simulations: 50, draws: 19 },
  { engine: 'importance', model: 'beta-bernoulli', spec: { method: 'importance', particles: 500 }, simulations: 50, draws: 19 },
  { engine: 'smc', model: 'normal-normal', spec: { method: 'smc', particles: 300 }, simulations: 50, draws: 19 },
  { engine: 'smc', model: 'regimes', spec: { method: 'smc', particles: 300 }, simulations: 50, draws: 19 },
  { engine: 'tempered', model: 'normal-normal', spec: { method: 'tempered', particles: 100 }, simulations: 30, draws: 19 },
  { engine: 'tempered', model: 'beta-bernoulli', spec: { method: 'tempered', particles: 100 }, simulations: 30, draws: 19 },
  { engine: 'mh', model: 'normal-normal', spec: { method: 'mh', samples: 400, warmup: 100 }, simulations: 40, draws: 19 },
  { engine: 'mh', model: 'regimes', spec: { method: 'mh', gibbs: true, samples: 300, warmup: 100 }, simulations: 40, draws: 19 },
  // NUTS is the costly one: a smoke-level SBC here, 100+ simulations in the slow tier
  { engine: 'nuts', model: 'normal-normal', spec: nuts, simulations: 30, draws: 19 },
  { engine: 'nuts', model: 'regression', spec: nuts, simulations: 25, draws: 19 },
  { engine: 'hmc-gibbs', model: 'switched', spec: { method: 'hmc-gibbs', chains: 1, warmup: 60, samples: 60 }, simulations: 30, draws: 19 },
].map((c) => ({ ...c, simulator: models[c.model as keyof typeof models] }));

describe('SBC: every engine on two small models', () => {
  it.each(cases)('$engine on $model', async (c) => {
    const t = performance.now();
    const r = await sbc({ simulator: c.simulator, engine: c.spec, simulations: c.simulations, draws: c.draws, seed: 1, alpha: 0.001 });
    console.log(`${c.engine} on ${c.model}: ${(performance.now() - t).toFixed(0)} ms`);
    expect(r.pass, r.toString()).toBe(true);
  });
});

describe('engines agree with enumeration on a discrete model', () => {
  it.each([
    { method: 'importance', particles: 3000 },
    { method: 'smc', particles: 3000 },
    { method: 'tempered', particles: 1000 },
    { method: 'mh', gibbs: true, samples: 3000, warmup: 300, chains: 2 },
  ])('$method', async (spec) => {
    const r = await compareWithEnumeration(regimes, [[1, 1, 0, 1]], { ...spec, seed: 3 });
    expect(r.pass, r.toString()).toBe(true);
  });
});
