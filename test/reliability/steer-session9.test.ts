/**
 * Session 9, steering as a new user (NEWSTEER): silent wrong answers found by
 * trying the steering entry points on problems with exact answers. Each test
 * fails on the code before its fix; statistical checks use fixed seeds, a
 * tolerance of 4 Monte Carlo standard errors across independent runs, and a
 * planted bug that the same check catches.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../src/backend/gradients.js';
import { initBackend } from '../../src/backend/select.js';
import { type FeynmanKac, runSMC } from '../../src/infer/smc/core.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Mean and standard error of the mean. */
function meanSE(xs: readonly number[]): { mean: number; se: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
  return { mean: m, se: Math.sqrt(v / xs.length) };
}

describe('FK steering: a reward of -Infinity on an x0-prediction does not kill the path', () => {
  // 1-D mixture; target p(x0) exp(λ r(x0)) with r(x) = x on x > 0 and -Infinity elsewhere (a hard constraint with a tilt)
  const M1 = new D.GaussianMixture([{ weight: 0.3, mean: [-1.5], covariance: 0.3 }, { weight: 0.7, mean: [1], covariance: 0.5 }]);
  const SCH = D.vpLinear();
  const MODEL = M1.model(SCH, 'epsilon');
  const LAMBDA = 0.5;
  const RUNS = 10;
  const PARTICLES = 256;
  const STEPS = 50;
  /** Records, per reward call at an intermediate step, which predictions were ruled out (for the planted bug). */
  let ruledOut: boolean[] | null = null;
  const reward: St.Reward = {
    name: 'x on x > 0',
    evaluate: (x, ctx) => {
      const v = Array.from(x.dataSync(), (u) => (u > 0 ? u : -Infinity));
      if (ctx.step >= 0) ruledOut = v.map((u) => u === -Infinity);
      return v;
    },
  };

  /** Planted bug (the code before the fix): an intermediate -Infinity prediction gives the path weight zero. */
  function killing(base: FeynmanKac<St.FkState>): FeynmanKac<St.FkState> {
    return {
      ...base,
      async step(state, t, rng) {
        ruledOut = null;
        const out = await base.step(state, t, rng);
        const lp = Float64Array.from(out.logPotential as ArrayLike<number>);
        const dead = ruledOut as boolean[] | null;
        if (dead) dead.forEach((d, j) => d && (lp[j] = -Infinity));
        return { state: out.state, logPotential: lp };
      },
    };
  }

  type Mode = 'steered' | 'importance' | 'planted';
  async function runs(mode: Mode): Promise<{ mean: ReturnType<typeof meanSE>; Z: ReturnType<typeof meanSE> }> {
    const means: number[] = [];
    const zs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const opts = { reward, lambda: LAMBDA, particles: PARTICLES, steps: STEPS, checkFinite: false, essThreshold: mode === 'importance' ? 0 : 1, seed: `s9-fk-${mode}-${r}` };
      let x: tf.Tensor;
      let weights: Float64Array;
      let logZ: number;
      if (mode === 'planted') {
        const res = await runSMC(killing(St.fkSteeringModel(MODEL, opts)), { particles: PARTICLES, essThreshold: 1, seed: opts.seed, genealogy: false });
        ({ weights, logZ } = res);
        x = res.state.x;
      } else {
        const res = await St.fkSteering(MODEL, opts);
        ({ x, weights, logZ } = res);
      }
      const v = await x.data();
      x.dispose();
      let m = 0;
      for (let i = 0; i < v.length; i++) m += weights[i]! * v[i]!;
      means.push(m);
      zs.push(Math.exp(logZ));
    }
    return { mean: meanSE(means), Z: meanSE(zs) };
  }

  /** z of the difference of two independent means. */
  const zDiff = (a: { mean: number; se: number }, b: { mean: number; se: number }): number => (a.mean - b.mean) / Math.hypot(a.se, b.se);

  it('resampling every step targets what importance sampling of the same sampler does (mean and Z within 4 MCSE); the killing planted bug fails', async () => {
    // the reference is the same DDPM discretisation run without resampling (essThreshold 0): weights exp(λ r(x0)),
    // so only the final reward counts; DDPM's own discretisation error (about 0.05 in the mean at 100 steps) cancels
    const ref = await runs('importance');
    const good = await runs('steered');
    const bad = await runs('planted');
    const z = { mean: zDiff(good.mean, ref.mean), Z: zDiff(good.Z, ref.Z), badMean: zDiff(bad.mean, ref.mean), badZ: zDiff(bad.Z, ref.Z) };
    if (process.env.TYCHE_REPORT) {
      const f = (r: typeof good) => `mean ${r.mean.mean.toFixed(4)} ± ${r.mean.se.toFixed(4)}, Z ${r.Z.mean.toFixed(4)} ± ${r.Z.se.toFixed(4)}`;
      console.log(`importance: ${f(ref)}; steered: ${f(good)}; planted: ${f(bad)}; z ${JSON.stringify(z)}`);
    }
    expect(Math.abs(z.mean)).toBeLessThan(4);
    expect(Math.abs(z.Z)).toBeLessThan(4);
    expect(Math.max(Math.abs(z.badMean), Math.abs(z.badZ))).toBeGreaterThan(4);
  });

  it('a reward of -Infinity with lambda < 0 (weight +Infinity) is an error naming the reward', async () => {
    await expect(St.fkSteering(MODEL, { reward, lambda: -1, particles: 8, steps: 5, seed: 1 })).rejects.toThrow(/reward "x on x > 0" is -Infinity .*lambda = -1 < 0/);
    await expect(St.fkSteering(MODEL, { reward, lambda: -1, particles: 8, steps: 5, seed: 1, x0Samples: 2 })).rejects.toThrow(/reward "x on x > 0" is -Infinity .*lambda = -1 < 0/);
  });
});
