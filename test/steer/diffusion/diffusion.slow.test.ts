/**
 * The full sampler x schedule matrix on the analytic mixture (slow tier,
 * TYCHE_SLOW=1): every sampler, at enough steps, draws the mixture's mean,
 * covariance and component masses within Monte Carlo error from exact
 * samples of the prior (the noised mixture at the first time); the flow SDE
 * keeps the marginals at every intermediate time; the interpolant -> VP
 * conversion samples the same law. The planted bugs are in
 * diffusion.test.ts (same check, same mixture).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../src/backend/select.js';
import { Rng } from '../../../src/core/rng.js';
import * as D from '../../../src/steer/diffusion/index.js';
import { checkMixtureSamples } from '../../../src/testing/diffusion.js';
import { MIX, SCHEDULES } from './fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// each case is a few seconds alone but minutes on a loaded 2-core machine
vi.setConfig({ testTimeout: 1_200_000 });

const N = 3000;

/**
 * Each sampler and the steps it needs for its discretisation bias to sit well
 * below the Monte Carlo error at N = 3000. Measured: DDPM on the linear
 * interpolant at 250 steps under-disperses cov[1,1] by 0.033 (N = 20000,
 * z = -1.9), 0.7 of the N = 3000 standard error, so first-order samplers get
 * 400 steps.
 */
const SAMPLERS: [D.Sampler, number][] = [
  [D.ddpm(), 400],
  [D.ddim(), 400],
  [D.ddim({ eta: 0.5 }), 400],
  [D.eulerMaruyama(), 400],
  [D.probabilityFlow('euler'), 400],
  [D.probabilityFlow('heun'), 60],
  [D.flowOde('euler'), 400],
  [D.flowOde('heun'), 60],
  [D.flowSde({ diffusion: 1 }), 400],
];

describe.each(Object.entries(SCHEDULES))('schedule %s', (name, sch) => {
  // the linear interpolant's SDE drift f = -1/(1-t) is infinite at t = 1: the SDE and probability-flow samplers start at 0.999
  const model = MIX.model(sch, sch.kind === 'interpolant' ? 'velocity' : 'epsilon');
  it.each(SAMPLERS.map(([s, k]) => [s.name, s, k] as const))('%s draws the mixture', async (_n, sampler, steps) => {
    const from = sch.kind === 'interpolant' && /euler-maruyama|probability-flow/.test(sampler.name) ? 0.999 : sch.tMax;
    const rng = new Rng(`${name}/${sampler.name}`);
    const x = MIX.sampleAt(N, sch, from, rng);
    const r = await D.sampleDiffusion(model, { sampler, times: D.timeGrid(sch, steps, from), x, rng });
    const c = checkMixtureSamples(r.x, MIX.marginal(sch, sch.tMin));
    tf.dispose([x, r.x]);
    expect(c.pass, `${name} ${sampler.name}: ${c.summary}`).toBe(true);
  });
});

describe('conversions', () => {
  it('the flow SDE keeps the marginals at every intermediate time (g = 0.5, 1.5)', async () => {
    const sch = SCHEDULES.interpolant;
    const model = MIX.model(sch, 'velocity');
    for (const g of [0.5, 1.5]) {
      const rng = new Rng(`fsde-${g}`);
      const x = MIX.sampleAt(N, sch, 1, rng);
      const keep = [50, 100, 150, 200, 250];
      const r = await D.sampleDiffusion(model, { sampler: D.flowSde({ diffusion: g }), steps: 250, x, rng, keep });
      for (const snap of r.trajectory) {
        const c = checkMixtureSamples(snap.x, MIX.marginal(sch, snap.t));
        expect(c.pass, `g=${g} t=${snap.t}: ${c.summary}`).toBe(true);
      }
      tf.dispose([x, r.x]);
    }
  });

  it('the interpolant -> VP conversion samples the mixture with DDPM and with the probability flow', async () => {
    const vp = D.vpLinear();
    const conv = D.interpolantToVp(MIX.model(SCHEDULES.interpolant, 'velocity'), vp);
    for (const sampler of [D.ddpm(), D.probabilityFlow('heun')]) {
      const rng = new Rng(`i2vp/${sampler.name}`);
      const x = MIX.sampleAt(N, vp, vp.tMax, rng);
      const r = await D.sampleDiffusion(conv, { sampler, steps: sampler.stochastic ? 250 : 60, x, rng, keep: [30] });
      const mid = r.trajectory[0]!;
      const cm = checkMixtureSamples(mid.x, MIX.marginal(vp, mid.t));
      expect(cm.pass, `${sampler.name} at t=${mid.t}: ${cm.summary}`).toBe(true);
      const c = checkMixtureSamples(r.x, MIX.marginal(vp, vp.tMin));
      expect(c.pass, `${sampler.name}: ${c.summary}`).toBe(true);
      tf.dispose([x, r.x]);
    }
  });
});
