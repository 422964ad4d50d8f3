/**
 * Feynman–Kac correctors (fast tier): a single Gaussian annealed to
 * N(μ, Σ/β) exactly, within Monte Carlo error across independent runs, and
 * the planted bug — the same runs without the corrector weights (the
 * modified SDE alone) — failing the same check; the guidance drift; bad
 * input, abort, memory. The annealed 1-D mixture (quadrature), the product
 * of mixtures, geometric-average guidance and the reward tilt are in
 * steering-correctors.slow.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../../src/backend/gradients.js';
import { initBackend } from '../../../src/backend/select.js';
import * as D from '../../../src/steer/diffusion/index.js';
import * as St from '../../../src/steer/diffusion/steering/index.js';
import { mixtureStatistics } from '../../../src/testing/weighted-runs.js';
import { MIX } from './fixtures.js';
import { G1, G2, P2, Q2, SCH, T0, correctedAndBiased, gaussian } from './steering-fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('Feynman–Kac correctors against closed forms', () => {
  it('a single Gaussian anneals to N(μ, Σ/β) exactly (β = 2)', async () => {
    const m = G1.marginal(SCH, T0);
    const target = gaussian(St.gaussianPowerProduct([{ mean: m.means[0]!, covariance: m.covariances[0]!, power: 2 }]));
    expect(target.covariances[0]![0]![0]).toBeCloseTo(m.covariances[0]![0]![0]! / 2, 10);
    await correctedAndBiased('anneal', { terms: St.annealedTerms(G1.model(SCH), 2) }, 2, mixtureStatistics(target));
  });

});

describe('correctors: guidance terms, bad input, long runs', () => {
  it('guidanceTerms moves particles by the classifier-free-guidance drift of the class model', async () => {
    const model = MIX.model(SCH);
    const fk = St.correctorModel({ terms: St.guidanceTerms(model, 1, 2), steps: 10, correct: false });
    const { Rng } = await import('../../../src/core/rng.js');
    const state = await fk.init(6, new Rng('g'));
    const out = await fk.step(state, 0, new Rng('z'));
    // the same step by hand: x + h (g² s_cfg - f x) + g sqrt(h) z with s_cfg the guided model's score
    const times = D.timeGrid(SCH, 10);
    const h = times[0]! - times[1]!;
    const s = await D.classifierFreeGuidance(model, 2).predict(state.x, times[0]!, D.labels(6, 1));
    const score = D.convertPrediction(s, state.x, 'epsilon', 'score', SCH, times[0]!);
    const g2 = D.diffusionSquared(SCH, times[0]!);
    const f = D.driftCoefficient(SCH, times[0]!);
    const z = D.gaussianNoise([6, 2], new Rng('z'));
    const want = tf.tidy(() => tf.add(tf.add(state.x, tf.mul(tf.sub(tf.mul(score, g2), tf.mul(state.x, f)), h)), tf.mul(z, Math.sqrt(g2 * h))));
    expect(tf.max(tf.abs(tf.sub(want, out.state.x))).dataSync()[0]).toBeLessThan(1e-4);
    tf.dispose([state.x, out.state.x, s, score, z, want]);
    expect(() => St.guidanceTerms(G1.model(SCH), 0, 2)).toThrow(/not class-conditional/);
  });

  it('names bad input; abort within one step; memory flat', async () => {
    await expect(St.fkCorrector({ terms: [], particles: 4 })).rejects.toThrow(/terms must list at least one model/);
    await expect(St.fkCorrector({ terms: [{ model: G1.model(SCH), weight: 1 }, { model: G2.model(D.vpCosine()), weight: 1 }], particles: 4 })).rejects.toThrow(/terms\[1\] \(model ".*"\) uses schedule vp-cosine but terms\[0\] uses vp-linear/);
    await expect(St.fkCorrector({ terms: [{ model: G1.model(SCH), weight: 1 }, { model: G2.model(SCH), weight: -1 }], particles: 4 })).rejects.toThrow(/powers must sum to a positive number \(got 0\)/);
    const plain: St.Reward = { name: 'opaque', evaluate: (x) => tf.zeros([x.shape[0]!]) };
    await expect(St.fkCorrector({ terms: St.annealedTerms(G1.model(SCH), 1), tilt: { reward: plain, lambda: 1 }, particles: 4 })).rejects.toThrow(/reward "opaque" must have a differentiable tensor function/);
    const nan = St.tensorReward('nan-reward', (x) => tf.mul(tf.sum(x, 1), NaN));
    await expect(St.fkCorrector({ terms: St.annealedTerms(G1.model(SCH), 1), tilt: { reward: nan, lambda: 1 }, particles: 4, steps: 5 })).rejects.toThrow(/reward "nan-reward" returned NaN for particle 0 at step 0/);
    const ctl = new AbortController();
    let last = -1;
    await expect(
      St.fkCorrector({
        terms: St.annealedTerms(MIX.model(SCH), 2),
        particles: 8,
        steps: 50,
        signal: ctl.signal,
        onStep: ({ step }) => {
          last = step;
          if (step === 2) ctl.abort(new Error('enough'));
        },
      }),
    ).rejects.toThrow(/enough/);
    expect(last).toBe(2);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const res = await St.fkCorrector({
      terms: St.productTerms(P2.model(SCH), Q2.model(SCH)),
      tilt: { reward: St.linearReward([1, 0]), lambda: 0.5 },
      particles: 16,
      steps: 300,
      essThreshold: 0.9,
      onStep: () => void counts.push(tf.memory().numTensors),
    });
    expect(res.resampledAt.length).toBeGreaterThan(3);
    expect(res.evaluations).toBe(600);
    expect(Math.max(...counts.slice(5)) - Math.min(...counts.slice(5))).toBe(0);
    res.x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
