/** Closed-form corrector targets shared by the fast and slow corrector tests. */
import { expect } from 'vitest';
import * as D from '../../../src/steer/diffusion/index.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { checkWeightedRuns, mixtureStatistics, type Statistic, type WeightedRun } from '../../../src/testing/weighted-runs.js';

export const SCH = D.vpLinear();
export const T0 = SCH.tMin;
export const RUNS = 10;
/** Particles per run: SMC's O(1/N) bias must stay below the Monte Carlo error of RUNS runs (at 64 it does not). */
export const PARTICLES = 256;
export const G1 = new D.GaussianMixture([{ weight: 1, mean: [0.5, 0], covariance: [[0.6, 0.2], [0.2, 0.4]] }]);
export const G2 = new D.GaussianMixture([{ weight: 1, mean: [-0.5, 0.5], covariance: [[0.9, -0.1], [-0.1, 0.8]] }]);
export const P2 = new D.GaussianMixture([{ weight: 0.5, mean: [-1, 0], covariance: 0.8 }, { weight: 0.5, mean: [1, 0.5], covariance: 0.6 }]);
export const Q2 = new D.GaussianMixture([{ weight: 0.7, mean: [0, 0], covariance: [1, 0.5] }, { weight: 0.3, mean: [1.5, -0.5], covariance: 0.7 }]);
export const M1 = new D.GaussianMixture([{ weight: 0.3, mean: [-1.5], covariance: 0.3 }, { weight: 0.7, mean: [1], covariance: 0.5 }]);

export const gaussian = (g: { mean: number[]; covariance: number[][] }) => new D.GaussianMixture([{ weight: 1, mean: g.mean, covariance: g.covariance }]);

export async function runs(name: string, opts: Omit<St.CorrectorRunOptions, 'particles'>): Promise<WeightedRun[]> {
  const out: WeightedRun[] = [];
  for (let r = 0; r < RUNS; r++) {
    const res = await St.fkCorrector({ steps: 100, particles: PARTICLES, checkFinite: false, seed: `fkc-${name}-${r}`, ...opts });
    out.push({ x: await res.x.data(), weights: Float64Array.from(res.weights) });
    res.x.dispose();
  }
  return out;
}

/** The corrected runs pass, the same runs without corrector weights fail. */
export async function correctedAndBiased(name: string, opts: Omit<St.CorrectorRunOptions, 'particles'>, d: number, stats: Statistic[]): Promise<void> {
  const good = checkWeightedRuns(await runs(name, opts), d, stats);
  expect(good.pass, `${name}: ${good.summary}`).toBe(true);
  const bad = checkWeightedRuns(await runs(name, { ...opts, correct: false }), d, stats);
  if (process.env.TYCHE_REPORT) console.log(`${name}: ${good.summary}; without weights: ${bad.summary}`);
  expect(bad.pass, `${name} without weights: ${bad.summary}`).toBe(false);
}


