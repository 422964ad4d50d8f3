/**
 * Session 10, steering (STEER), slow tier (TYCHE_SLOW=1): FK steering towards
 * a region of known mass, against the exact truncated mixture; and the
 * corrector's log Z on a fine grid against the exact Gaussian anneal.
 * Tolerances: 4 Monte Carlo standard errors across independent runs; each
 * check has a planted bug that the same check catches.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../src/backend/gradients.js';
import { initBackend } from '../../src/backend/select.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { normalCdfNumber } from '../../src/math/special.js';
import { gaussianAnnealLogZ } from './steer-session10-fixtures.js';
import { meanSE } from '../stats.js';

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;

beforeAll(async () => {
  await initBackend('cpu');
});


slow('FK steering towards a region of known mass (reward 0 on x0 > 1, -Infinity elsewhere)', () => {
  it('Ẑ is the mass P(x0 > 1) and the weighted mean of x0 the truncated mixture\'s, within 4 MCSE at 400 DDPM steps; planted: the same particles unweighted fail', async () => {
    const comps = [
      { weight: 0.5, mean: [-2, 0], covariance: 0.5 },
      { weight: 0.5, mean: [2, 1], covariance: 0.3 },
    ];
    const MODEL = new D.GaussianMixture(comps).model(D.vpLinear(), 'epsilon');
    // exact: mass and truncated mean of x0 over x0 > 1, component by component
    let mass = 0;
    let first = 0;
    for (const c of comps) {
      const s = Math.sqrt(c.covariance);
      const a = (1 - c.mean[0]!) / s;
      const tail = 1 - normalCdfNumber(a);
      mass += c.weight * tail;
      first += c.weight * (c.mean[0]! * tail + (s * Math.exp(-a * a / 2)) / Math.sqrt(2 * Math.PI));
    }
    const exactMean = first / mass;
    const region: St.Reward = {
      name: 'x0 > 1',
      evaluate: (x) => tf.tidy(() => tf.where(tf.greater(tf.reshape(tf.slice(tf.reshape(x, [x.shape[0]!, 2]), [0, 0], [-1, 1]), [-1]), 1), tf.zeros([x.shape[0]!]), tf.fill([x.shape[0]!], -Infinity))),
    };
    const Z: number[] = [];
    const mean: number[] = [];
    const unweighted: number[] = [];
    for (let r = 0; r < 12; r++) {
      const res = await St.fkSteering(MODEL, { reward: region, lambda: 1, particles: 256, steps: 400, seed: `s10-region-${r}` });
      const x = await res.x.data();
      res.x.dispose();
      let m = 0;
      let u = 0;
      for (let i = 0; i < 256; i++) {
        m += res.weights[i]! * x[2 * i]!;
        u += x[2 * i]! / 256;
      }
      Z.push(Math.exp(res.logZ));
      mean.push(m);
      unweighted.push(u);
    }
    const z = (v: number[], want: number) => {
      const s = meanSE(v);
      return (s.mean - want) / s.se;
    };
    const zs = { Z: z(Z, mass), mean: z(mean, exactMean), planted: z(unweighted, exactMean) };
    if (process.env.TYCHE_REPORT) console.log(`region: mass ${mass.toFixed(4)}, mean ${exactMean.toFixed(4)}; Ẑ ${meanSE(Z).mean.toFixed(4)} ± ${meanSE(Z).se.toFixed(4)}, mean ${meanSE(mean).mean.toFixed(4)} ± ${meanSE(mean).se.toFixed(4)}; z ${JSON.stringify(zs)}`);
    expect(Math.abs(zs.Z)).toBeLessThan(4);
    expect(Math.abs(zs.mean)).toBeLessThan(4);
    expect(Math.abs(zs.planted)).toBeGreaterThan(4);
  });
});

slow('fkCorrector on a fine grid: log Z of the Gaussian anneal to q² (exact 0.255)', () => {
  it('at 800 steps Ẑ = exp(0.255) within 4 MCSE and correctorGridCheck does not say differ; planted: the 50-step grid fails', async () => {
    const G = new D.GaussianMixture([{ weight: 1, mean: [0.5], covariance: 0.6 }]);
    const SCH = D.vpLinear();
    const MODEL = G.model(SCH, 'epsilon');
    const exact = gaussianAnnealLogZ(G, SCH, 2);
    const opts = { terms: St.annealedTerms(MODEL, 2), particles: 512, steps: 800, seed: 's10-fine', checkFinite: false };
    const check = await St.correctorGridCheck({ ...opts, steps: 400 }, { runs: 8, tolerance: 0.3 });
    const Zhat = check.fine.logZ.map(Math.exp);
    const s = meanSE(Zhat);
    const zGood = (s.mean - Math.exp(exact)) / s.se;
    // planted: the coarse grid (50 steps) the warning is about, checked the same way
    const coarse = await St.correctorGridCheck({ ...opts, steps: 50 }, { runs: 8, tolerance: 0.3 });
    const p = meanSE(coarse.coarse.logZ.map(Math.exp));
    const zPlanted = (p.mean - Math.exp(exact)) / p.se;
    if (process.env.TYCHE_REPORT) console.log(`${check.message}; Ẑ at 800 steps ${s.mean.toFixed(4)} ± ${s.se.toFixed(4)} against ${Math.exp(exact).toFixed(4)} (z ${zGood.toFixed(2)}); planted 50 steps Ẑ ${p.mean.toFixed(3)} ± ${p.se.toFixed(3)} (z ${zPlanted.toFixed(1)}), ${coarse.verdict}`);
    expect(Math.abs(zGood)).toBeLessThan(4);
    expect(check.verdict).not.toBe('differ');
    expect(Math.abs(zPlanted)).toBeGreaterThan(4);
  });
});
