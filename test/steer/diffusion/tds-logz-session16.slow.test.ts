/**
 * Session 16 (STEERUSER2), slow tier: the twisted diffusion sampler's log Ẑ is unbiased in exp against the exact
 * normaliser of the DDPM chain it runs, also with a deliberately poor twist. Earlier TDS tests compared weighted
 * moments with the conditional target; its Ẑ had not been checked. A twist is only a proposal device: any twist
 * (with the final p(y | x0) / ψ_0 correction) leaves E[Ẑ] = Z, and only the variance grows.
 *
 * Model: 0.5 N(−2, 0.5) + 0.5 N(2, 0.3), log-likelihood λ·x with λ = 1 (Z = E_chain[exp(x0)], `ddpmTiltLogZ`),
 * DDPM 20 steps, N = 37. Twists: the default x̂0 twist (ψ_t = exp(λ x̂0(x_t))), and a poor noisy twist
 * ψ_t = exp(0.3 x) under stratified resampling every step and residual resampling at ESS < N/2. E[Ẑ/Z] over 30
 * seeded runs each within 4 standard errors of 1 (measured: z 0.89, −1.40, −0.40 at 20-30 runs). Planted bug: the
 * proposal's correction log p − log q dropped (`proposalCorrection: false`): z 16.6 with the poor twist.
 * (A twist that points away from the target, ψ = exp(−2x), is unbiased too but so heavy-tailed that 20 runs read
 * E[Ẑ/Z] as 0.005; every such run warns "far from the optimal twist", so it is not used here.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../../src/backend/gradients.js';
import { initBackend } from '../../../src/backend/select.js';
import * as D from '../../../src/steer/diffusion/index.js';
import { timeGrid } from '../../../src/steer/diffusion/schedules.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { MIXTURE_1D, ddpmTiltLogZ } from '../../reliability/steer-session11-fixtures.js';

const SLOW = process.env.TYCHE_SLOW === '1';
const RUNS = 30;
const N = 37;
const STEPS = 20;
let model: D.DiffusionModel;
let logZ = NaN;

beforeAll(async () => {
  await initBackend('cpu');
  model = new D.GaussianMixture(MIXTURE_1D.map((c) => ({ ...c, mean: [...c.mean] }))).model(D.vpLinear(), 'epsilon');
  logZ = await ddpmTiltLogZ(model, timeGrid(model.schedule, STEPS), 1); // a 4800-bin grid pushed through 20 steps: minutes on cpu under load
}, 600_000);

/** log p(y | x) = x, with an optional noisy twist k·x. */
const linear = (k?: number): St.LogLikelihood => ({
  name: k === undefined ? 'x' : `x, twist ${k}x`,
  logProb: (x) => tf.reshape(x, [-1]),
  ...(k === undefined ? {} : { noisy: (x: tf.Tensor) => tf.mul(k, tf.reshape(x, [-1])) }),
});

/** E[Ẑ/Z] and its z-score over RUNS seeded runs. */
async function zOf(name: string, options: Omit<St.TdsRunOptions, 'particles' | 'steps' | 'seed'>): Promise<{ mean: number; z: number }> {
  const ratios: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const res = await St.twistedDiffusion(model, { ...options, particles: N, steps: STEPS, seed: `tds16/${name}/${r}` });
    ratios.push(Math.exp(res.logZ - logZ));
    res.x.dispose();
  }
  const mean = ratios.reduce((a, b) => a + b, 0) / RUNS;
  const se = Math.sqrt(ratios.reduce((a, b) => a + (b - mean) ** 2, 0) / (RUNS - 1) / RUNS);
  return { mean, z: (mean - 1) / se };
}

describe.skipIf(!SLOW)('twisted diffusion: E[Ẑ] = Z with the x̂0 twist and with a poor twist (session 16)', () => {
  it('x̂0 twist; poor twist 0.3x with stratified (every step) and residual (ESS < N/2) resampling', async () => {
    const before = tf.memory().numTensors;
    const bad: string[] = [];
    const configs: [string, Omit<St.TdsRunOptions, 'particles' | 'steps' | 'seed'>][] = [
      ['x0', { likelihood: linear(), twist: 'x0' }],
      ['poor-stratified', { likelihood: linear(0.3), resampling: 'stratified', essThreshold: 1 }],
      ['poor-residual', { likelihood: linear(0.3), resampling: 'residual', essThreshold: 0.5 }],
    ];
    for (const [name, c] of configs) {
      const { mean, z } = await zOf(name, c);
      if (!(Math.abs(z) < 4)) bad.push(`${name}: E[Ẑ/Z] ${mean.toFixed(3)}, z ${z.toFixed(2)}`);
    }
    expect(bad).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  }, 900_000);

  it('planted: without the proposal correction the same check fails', async () => {
    const { z } = await zOf('planted', { likelihood: linear(0.3), proposalCorrection: false });
    expect(Math.abs(z)).toBeGreaterThan(4);
  }, 300_000);
});
