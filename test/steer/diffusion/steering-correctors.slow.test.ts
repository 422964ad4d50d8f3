/**
 * Feynman–Kac correctors (slow tier, TYCHE_SLOW=1) on closed-form targets:
 * an annealed 1-D mixture q^2 by quadrature, the product of two Gaussian
 * mixtures, classifier-free guidance as the geometric average of two
 * Gaussians (w = 2), and a linear reward tilt of the 2-D mixture. Each is
 * checked within Monte Carlo error across independent runs, and each planted
 * bug — the same runs without the corrector weights — fails the same check.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../../src/backend/gradients.js';
import { initBackend } from '../../../src/backend/select.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { mixtureStatistics, type Statistic } from '../../../src/testing/weighted-runs.js';
import { MIX } from './fixtures.js';
import { G1, G2, M1, P2, Q2, SCH, T0, correctedAndBiased, gaussian } from './steering-fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('Feynman–Kac correctors against closed forms (slow tier)', { timeout: 300_000 }, () => {
  it('an annealed 1-D mixture q^2 matches quadrature (mean, variance, P(x > 0))', async () => {
    const m = M1.marginal(SCH, T0);
    const q = St.quadratureMoments1d(
      (xs) => {
        const t = tf.tensor2d(Float32Array.from(xs), [xs.length, 1]);
        const l = m.logDensity(t);
        const v = Float64Array.from(l.dataSync(), (u) => 2 * u);
        tf.dispose([t, l]);
        return v;
      },
      -8,
      8,
    );
    const stats: Statistic[] = [
      { name: 'mean', exact: q.mean, values: (x, n) => Float64Array.from({ length: n }, (_, i) => x[i]!) },
      { name: 'variance', exact: q.variance, values: (x, n) => Float64Array.from({ length: n }, (_, i) => (x[i]! - q.mean) ** 2) },
      { name: 'P(x > 0)', exact: q.above, values: (x, n) => Float64Array.from({ length: n }, (_, i) => (x[i]! > 0 ? 1 : 0)) },
    ];
    await correctedAndBiased('anneal1d', { terms: St.annealedTerms(M1.model(SCH), 2) }, 1, stats);
  });

  it('the product of two Gaussian mixtures', async () => {
    const target = St.mixtureProduct(P2.marginal(SCH, T0), Q2.marginal(SCH, T0));
    await correctedAndBiased('product', { terms: St.productTerms(P2.model(SCH), Q2.model(SCH)) }, 2, mixtureStatistics(target));
  });

  it('classifier-free guidance as the geometric average q1^w q2^(1-w) of two Gaussians (w = 2)', async () => {
    const a = G1.marginal(SCH, T0);
    const b = G2.marginal(SCH, T0);
    const target = gaussian(
      St.gaussianPowerProduct([
        { mean: a.means[0]!, covariance: a.covariances[0]!, power: 2 },
        { mean: b.means[0]!, covariance: b.covariances[0]!, power: -1 },
      ]),
    );
    const terms = [
      { model: G1.model(SCH), weight: 2 },
      { model: G2.model(SCH), weight: -1 },
    ];
    await correctedAndBiased('cfg', { terms }, 2, mixtureStatistics(target));
  });

  it('a linear reward tilt of the 2-D mixture (the closed-form tilted mixture)', async () => {
    const a = [0.6, -0.4];
    const target = St.linearTilt(MIX.marginal(SCH, T0), a, 1);
    await correctedAndBiased('tilt', { terms: [{ model: MIX.model(SCH), weight: 1 }], tilt: { reward: St.linearReward(a), lambda: 1 } }, 2, mixtureStatistics(target));
  });
});

