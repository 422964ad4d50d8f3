/**
 * Session 10, steering (STEER): the open steering items and steering tried as
 * a newcomer. Each test fails on the code before its fix (the header of each
 * describe says how); statistical checks use fixed seeds, tolerances of 3–4
 * Monte Carlo standard errors across independent runs, and a planted bug that
 * the same check catches. Slow checks: steer-session10.slow.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../src/backend/gradients.js';
import { initBackend } from '../../src/backend/select.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { gaussianAnnealLogZ } from './steer-session10-fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('fkCorrector on a coarse grid: discretisation bias, warned and checkable (was: log Z 2413 against 0.255 with no warning)', () => {
  // q = N(0.5, 0.6) at the data end on vp-linear; annealing to q^β has the exact log Z of gaussianAnnealLogZ
  const G = new D.GaussianMixture([{ weight: 1, mean: [0.5], covariance: 0.6 }]);
  const SCH = D.vpLinear();
  const MODEL = G.model(SCH, 'epsilon');

  it('a 10-step run annealing to q² warns, naming the first stiff step, its |h·J| and a step count (before: no warnings field)', async () => {
    const res = await St.fkCorrector({ terms: St.annealedTerms(MODEL, 2), particles: 512, steps: 10, seed: 1, checkFinite: false });
    res.x.dispose();
    // the method's discretisation bias, not a crash: log Z is finite and far off the exact value
    expect(gaussianAnnealLogZ(G, SCH, 2)).toBeCloseTo(0.2554, 3);
    expect(res.logZ).toBeGreaterThan(100);
    expect(res.warnings).toHaveLength(1);
    expect(res.warnings[0]).toMatch(/fkCorrector: the time grid is too coarse for this target: from step 0 \(t = 1\.000\) one Euler–Maruyama step has \|h·J\| = 3\.\d+.*about 1\d\d on an even grid.*correctorGridCheck/);
    expect(res.stiffness).toBeGreaterThan(1);
    // a fine grid on a gentle target: no warning
    const fine = await St.fkCorrector({ terms: St.annealedTerms(MODEL, 0.5), particles: 64, steps: 100, seed: 1, checkFinite: false });
    fine.x.dispose();
    expect(fine.warnings).toEqual([]);
    expect(fine.stiffness).toBeLessThan(St.CORRECTOR_STIFFNESS_LIMIT);
  });

  it('correctorGridCheck: the 10-step grid differs from the 20-step one; q^0.5 at 50 steps agrees with 100, and its log Z is the exact one within 3 MCSE (planted: correct: false fails)', async () => {
    const coarse = await St.correctorGridCheck({ terms: St.annealedTerms(MODEL, 2), particles: 256, steps: 10, seed: 1, checkFinite: false }, { runs: 8 });
    expect(coarse.verdict, coarse.message).toBe('differ');
    expect(coarse.message).toMatch(/the grids differ: .* at 10 steps, .* at 20 .*the 10-step grid is biased/);
    const exact = gaussianAnnealLogZ(G, SCH, 0.5);
    const opts = { terms: St.annealedTerms(MODEL, 0.5), particles: 256, steps: 50, seed: 1, checkFinite: false };
    const good = await St.correctorGridCheck(opts, { runs: 8, tolerance: 0.2 });
    if (process.env.TYCHE_REPORT) console.log(`${coarse.message}\n${good.message}; exact ${exact}`);
    expect(good.verdict, good.message).toBe('agree');
    const zOf = (g: St.CorrectorGridRuns) => (g.mean - exact) / (g.sd / Math.sqrt(g.logZ.length));
    expect(Math.abs(zOf(good.fine))).toBeLessThan(3);
    const planted = await St.correctorGridCheck({ ...opts, correct: false }, { runs: 2, tolerance: 0.2 });
    expect(planted.fine.logZ.every((z) => Math.abs(z - exact) > 0.1)).toBe(true);
  });
});
