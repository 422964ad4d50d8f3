/**
 * Session 18 (STEERUSER4), slow tier (TYCHE_SLOW=1): a Feynman–Kac corrector with several factors at once, the
 * product of two 2-D Gaussian mixtures q1·q2 *and* a linear reward tilt exp(a·x) on top. The corrector weight then
 * carries the cross terms between the tilt's gradient and the models' scores (‖S‖² with S = s1 + s2 + β∇r), which
 * neither the product test nor the tilt test alone exercises. Weighted means, covariances and component masses are
 * checked against the closed form (the tilted product mixture) within Monte Carlo error across runs; planted: the
 * same runs without the corrector weights fail. Measured (scratch/steeruser18/poe-tilt.ts, 10 runs of 256 particles,
 * 100 steps): pass, worst z -2.18; log Ẑ carries the documented grid bias at 100 steps, with the run's warning.
 */
import { beforeAll, describe, it } from 'vitest';
import '../../../src/backend/gradients.js';
import { initBackend } from '../../../src/backend/select.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { mixtureStatistics } from '../../../src/testing/weighted-runs.js';
import { P2, Q2, SCH, T0, correctedAndBiased } from './steering-fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('Feynman–Kac corrector: a product of two mixtures and a reward tilt at once (session 18, slow tier)', { timeout: 600_000 }, () => {
  it('matches the tilted product mixture; without the weights it does not', async () => {
    const a = [0.6, -0.4];
    const target = St.linearTilt(St.mixtureProduct(P2.marginal(SCH, T0), Q2.marginal(SCH, T0)), a, 1);
    await correctedAndBiased('product-tilt', { terms: St.productTerms(P2.model(SCH), Q2.model(SCH)), tilt: { reward: St.linearReward(a), lambda: 1 } }, 2, mixtureStatistics(target));
  });
});
