/**
 * Fast-tier SBC of the gradient-based and variational engines (HMC, VI,
 * SVGD, NeuTra) on two small continuous models each, and TARP for VI from
 * the same runs; fixed seeds. The slow tier (engines.slow.test.ts, via
 * check-models.ts) runs them at full size on every continuous check model.
 *
 * VI is approximate: SBC can pass only where the guide family contains the
 * exact posterior. Here it does: AutoNormal on Normal-Normal (a Gaussian
 * posterior for one mean) and AutoMultivariateNormal on the two-coefficient
 * regression (a correlated bivariate Gaussian posterior). Where it does not
 * (mean-field AutoNormal on a strongly correlated regression), SBC must
 * fail, and does. SVGD's particles approximate the posterior; NeuTra and
 * HMC are exact MCMC.
 *
 * Design error rate: each SBC run and each TARP test at 0.001, so the 10
 * passing checks together falsely fail a correct engine with probability at most
 * about 1%. These are smoke-level sizes (8-16 simulations): they catch
 * gross miscalibration (an engine returning the prior, a wrong sign), not a
 * subtle bias; the slow tier and the correctness matrix have the power.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { type EngineSpec, type Simulator, flattenValues, normalNormal, priorPredictive, sbc, tarp } from '../../src/testing/index.js';
import { regression } from './check-models.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const models = {
  'normal-normal': normalNormal(0, 1, 1).simulator(3) as unknown as Simulator<never[], unknown>,
  regression: priorPredictive(regression, [[-1, 0, 1, 2], [0, 0, 0, 0]]) as unknown as Simulator<never[], unknown>,
  // x far from 0: the intercept and slope are strongly anti-correlated a posteriori (about -0.9)
  'correlated regression': priorPredictive(regression, [[1, 2, 3, 4], [0, 0, 0, 0]]) as unknown as Simulator<never[], unknown>,
};

interface Case {
  readonly engine: string;
  readonly model: keyof typeof models;
  readonly spec: EngineSpec<never[], unknown>;
  readonly simulations: number;
  /** Also test TARP coverage from the same draws. */
  readonly tarp?: boolean;
}

// static HMC with a fixed, short trajectory (8 leapfrog steps) to keep the tier fast
const hmc = { method: 'hmc', chains: 1, warmup: 50, samples: 50, numSteps: 8, vectorize: false };
const vi = { method: 'vi', steps: 200, particles: 16, samples: 100, optimizer: { name: 'adam', lr: 0.05 } };
const svgd = { method: 'svgd', particles: 40, steps: 200 };
const neutra = { method: 'neutra', guide: 'mvn', viSteps: 150, chains: 1, warmup: 40, samples: 40, vectorize: false };

const cases: Case[] = [
  { engine: 'hmc', model: 'normal-normal', spec: hmc, simulations: 12 },
  { engine: 'hmc', model: 'regression', spec: hmc, simulations: 10 },
  { engine: 'vi (AutoNormal)', model: 'normal-normal', spec: { ...vi, guide: 'normal' }, simulations: 15, tarp: true },
  { engine: 'vi (AutoMultivariateNormal)', model: 'regression', spec: { ...vi, guide: 'mvn' }, simulations: 15, tarp: true },
  { engine: 'svgd', model: 'normal-normal', spec: svgd, simulations: 16 },
  { engine: 'svgd', model: 'regression', spec: svgd, simulations: 12 },
  { engine: 'neutra', model: 'normal-normal', spec: neutra, simulations: 8 },
  { engine: 'neutra', model: 'regression', spec: neutra, simulations: 8 },
];

describe('SBC: gradient-based and variational engines on two small models', () => {
  it.each(cases)('$engine on $model', { timeout: 60_000 }, async (c) => {
    const t = performance.now();
    const samples: number[][][] = [];
    const truths: number[][] = [];
    const r = await sbc({
      simulator: models[c.model],
      engine: c.spec,
      simulations: c.simulations,
      draws: 19,
      seed: 1,
      alpha: 0.001,
      onSimulation: (sim, _post, draws) => {
        if (!c.tarp) return;
        const truth = flattenValues(sim.params);
        const keys = [...truth.keys()];
        truths.push(keys.map((k) => truth.get(k) as number));
        samples.push(draws.map((d) => {
          const f = flattenValues(d.values);
          return keys.map((k) => f.get(k) as number);
        }));
      },
    });
    console.log(`${c.engine} on ${c.model}: ${(performance.now() - t).toFixed(0)} ms`);
    expect(r.pass, r.toString()).toBe(true);
    if (c.tarp) {
      const tr = tarp(samples, truths, { seed: 1, alpha: 0.001 });
      expect(tr.pass, `TARP max deviation ${tr.maxDeviation} vs ${tr.critical}`).toBe(true);
    }
  });
});

describe('SBC sees what a guide family cannot represent', () => {
  it('mean-field VI (AutoNormal) on a strongly correlated posterior is over-confident; AutoMultivariateNormal passes', { timeout: 60_000 }, async () => {
    const run = (guide: string) => sbc({ simulator: models['correlated regression'], engine: { ...vi, guide }, simulations: 15, draws: 19, seed: 1, alpha: 0.001 });
    const meanField = await run('normal');
    console.log(meanField.toString());
    expect(meanField.pass).toBe(false);
    // the marginals are too narrow (by about sqrt(1 - rho^2)): U-shaped parameter ranks
    for (const name of ['a', 'b']) expect(meanField.quantities.find((q) => q.name === name)?.varianceRatio).toBeGreaterThan(1.3);
    const full = await run('mvn');
    expect(full.pass, full.toString()).toBe(true);
  });
});
