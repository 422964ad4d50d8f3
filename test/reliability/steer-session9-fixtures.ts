/**
 * Shared set-up of steer-session9 (fast and slow tiers): a 1-D Gaussian mixture
 * steered towards p(x0) exp(λ r(x0)) with a hard constraint inside r
 * (r(x) = x on x > 0, -Infinity elsewhere), run by FK steering and TDS,
 * against importance sampling of the same DDPM grid, with the planted
 * "killing" twist of the code before session 9.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { type ParticleStore, batchedStore } from '../../src/infer/smc/store.js';
import { type FeynmanKac, runSMC } from '../../src/infer/smc/core.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { meanSE } from '../stats.js';

/** The hard-constraint test bed (one per describe block: it holds the planted bug's record). */
export function hardConstraint() {
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
  function killing<S>(base: FeynmanKac<S>): FeynmanKac<S> {
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

  /** The same target for TDS: the likelihood λ x on x > 0, -Infinity elsewhere, twisted through x̂0. */
  const likelihood: St.LogLikelihood = {
    name: 'x on x > 0',
    logProb: (x) => {
      const v = tf.reshape(x, [-1]);
      ruledOut = Array.from(v.dataSync(), (u) => !(u > 0));
      return tf.where(tf.greater(v, 0), tf.mul(v, LAMBDA), tf.fill(v.shape, -Infinity));
    },
  };
  type Mode = 'steered' | 'importance' | 'planted' | 'tds' | 'tds-planted';
  async function runs(mode: Mode, count = RUNS): Promise<{ mean: ReturnType<typeof meanSE>; Z: ReturnType<typeof meanSE> }> {
    const means: number[] = [];
    const zs: number[] = [];
    for (let r = 0; r < count; r++) {
      const opts = { reward, lambda: LAMBDA, particles: PARTICLES, steps: STEPS, checkFinite: false, essThreshold: mode === 'importance' ? 0 : 1, seed: `s9-fk-${mode}-${r}` };
      let x: tf.Tensor;
      let weights: Float64Array;
      let logZ: number;
      if (mode === 'tds' || mode === 'tds-planted') {
        const tds = { likelihood, twist: 'x0' as const, steps: STEPS };
        const res = mode === 'tds' ? await St.twistedDiffusion(MODEL, { ...tds, particles: PARTICLES, essThreshold: 1, seed: opts.seed }) : await runSMC(killing(St.tdsModel(MODEL, tds)), { particles: PARTICLES, essThreshold: 1, seed: opts.seed, genealogy: false });
        ({ weights, logZ } = res);
        x = 'x' in res ? res.x : (res.state as { x: tf.Tensor }).x;
      } else if (mode === 'planted') {
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

  let reference: Promise<Awaited<ReturnType<typeof runs>>> | null = null;
  /** Importance sampling with the same DDPM grid (computed once for both tests; cheap, so more runs). */
  const importance = () => (reference ??= runs('importance', 2 * RUNS));

  /** z of the difference of two independent means. */
  const zDiff = (a: { mean: number; se: number }, b: { mean: number; se: number }): number => (a.mean - b.mean) / Math.hypot(a.se, b.se);
  return { MODEL, STEPS, reward, likelihood, runs, importance, zDiff };
}

/**
 * The labelled-mixture test bed of steer-session9 (fast: FK steering; slow:
 * TDS): label 0 is component 0, label 1 components 1 and 2; half the
 * particles carry each label, so the population targets the tilted
 * unconditional mixture Σ_c ½ p(x|c) exp(½ x[0]). `means(method, planted)`
 * runs FK steering or TDS (or, planted, the code before session 9, whose
 * resampling left each slot's condition where it was) and returns the
 * population's E[x0] with its standard error, checking that numTensors stays
 * flat.
 */
export function labelledConditions() {
  const MIX = new D.GaussianMixture([
    { weight: 0.5, mean: [-2, 0], covariance: [[0.5, 0.2], [0.2, 0.3]], label: 0 },
    { weight: 0.3, mean: [2, 1], covariance: [0.2, 0.6], label: 1 },
    { weight: 0.2, mean: [0, -2.5], covariance: 0.25, label: 1 },
  ]);
  const SCH = D.vpLinear();
  const MODEL = MIX.model(SCH, 'epsilon');
  const N = 256;
  const RUNS = 10;
  const target = St.linearTilt(MIX.marginal(SCH, SCH.tMin), [1, 0], 0.5).mean()[0]!;
  const tilt: St.LogLikelihood = { name: 'x/2', logProb: (x) => tf.tidy(() => tf.mul(tf.reshape(tf.slice(x, [0, 0], [-1, 1]), [-1]), 0.5)) };

  /** Planted bug (the code before the fix): resampling moves the states but leaves each slot's condition where it was. */
  function slotConditions<S extends { cond?: tf.Tensor }>(): ParticleStore<S> {
    const base = batchedStore<S>();
    return { ...base, select: (s, a, n) => ({ ...base.select({ ...s, cond: undefined }, a, n), cond: s.cond }) };
  }

  async function means(method: 'fk' | 'tds', planted: boolean): Promise<{ mean: number; se: number }> {
    const cond = tf.tensor1d(Array.from({ length: N }, (_, i) => (i < N / 2 ? 0 : 1)), 'int32');
    const before = tf.memory().numTensors;
    const out: number[] = [];
    // the planted bug moves the mean by about 30 of its standard errors: a few runs show it
    for (let r = 0; r < (planted ? 4 : RUNS); r++) {
      const seed = `s9-cond-${method}-${r}`;
      let x: tf.Tensor;
      let weights: Float64Array;
      let finalCond: tf.Tensor | undefined;
      if (planted) {
        const fk = method === 'fk' ? St.fkSteeringModel(MODEL, { reward: St.linearReward([1, 0]), lambda: 0.5, steps: 100, cond, checkFinite: false }) : St.tdsModel(MODEL, { likelihood: tilt, steps: 100, cond });
        const res = await runSMC(fk as FeynmanKac<{ x: tf.Tensor; cond?: tf.Tensor }>, { particles: N, essThreshold: 1, seed, genealogy: false, store: slotConditions() });
        ({ weights } = res);
        x = res.state.x;
        finalCond = res.state.cond;
        if ('grad' in res.state) (res.state.grad as tf.Tensor).dispose();
      } else {
        const res = method === 'fk' ? await St.fkSteering(MODEL, { reward: St.linearReward([1, 0]), lambda: 0.5, particles: N, steps: 100, cond, checkFinite: false, essThreshold: 1, seed }) : await St.twistedDiffusion(MODEL, { likelihood: tilt, particles: N, steps: 100, cond, essThreshold: 1, seed });
        ({ x, weights } = res);
        finalCond = res.cond;
        expect(finalCond?.shape).toEqual([N]);
      }
      const v = await x.data();
      tf.dispose([x, ...(finalCond ? [finalCond] : [])]);
      let m = 0;
      for (let i = 0; i < N; i++) m += weights[i]! * v[2 * i]!;
      out.push(m);
    }
    expect(tf.memory().numTensors).toBe(before);
    cond.dispose();
    return meanSE(out);
  }

  return { target, means };
}
