/**
 * Session 9 (NEWSTEER), slow tier: twistedDiffusion with per-particle
 * conditions (three network evaluations and a gradient per step make it too
 * slow for the default tier), and with a likelihood of -Infinity on part of
 * the space; the FK-steering twins are in steer-session9.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import '../../src/backend/gradients.js';
import { initBackend } from '../../src/backend/select.js';
import { type FeynmanKac, runSMC } from '../../src/infer/smc/core.js';
import { type ParticleStore, batchedStore } from '../../src/infer/smc/store.js';
import * as D from '../../src/steer/diffusion/index.js';
import * as St from '../../src/steer/diffusion/steering/index.js';
import { hardConstraint } from './steer-session9-fixtures.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const slow = process.env.TYCHE_SLOW ? describe : describe.skip;

slow('per-particle conditions travel with their particles when TDS resamples', () => {
  // as in steer-session9.test.ts: half the particles carry each label, so the population targets the tilted mixture
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

  /** Planted bug (the code before the fix): resampling leaves each slot's condition where it was. */
  function slotConditions<S extends { cond?: tf.Tensor }>(): ParticleStore<S> {
    const base = batchedStore<S>();
    return { ...base, select: (s, a, n) => ({ ...base.select({ ...s, cond: undefined }, a, n), cond: s.cond }) };
  }

  async function means(planted: boolean): Promise<{ mean: number; se: number }> {
    const cond = tf.tensor1d(Array.from({ length: N }, (_, i) => (i < N / 2 ? 0 : 1)), 'int32');
    const before = tf.memory().numTensors;
    const out: number[] = [];
    for (let r = 0; r < (planted ? 4 : RUNS); r++) {
      const seed = `s9-cond-tds-${r}`;
      let x: tf.Tensor;
      let weights: Float64Array;
      let rest: tf.Tensor[];
      if (planted) {
        const fk = St.tdsModel(MODEL, { likelihood: tilt, steps: 100, cond }) as FeynmanKac<St.TdsState>;
        const res = await runSMC(fk, { particles: N, essThreshold: 1, seed, genealogy: false, store: slotConditions() });
        ({ weights } = res);
        x = res.state.x;
        rest = [res.state.grad, ...(res.state.cond ? [res.state.cond] : [])];
      } else {
        const res = await St.twistedDiffusion(MODEL, { likelihood: tilt, particles: N, steps: 100, cond, essThreshold: 1, seed });
        ({ x, weights } = res);
        expect(res.cond?.shape).toEqual([N]);
        rest = res.cond ? [res.cond] : [];
      }
      const v = await x.data();
      tf.dispose([x, ...rest]);
      let m = 0;
      for (let i = 0; i < N; i++) m += weights[i]! * v[2 * i]!;
      out.push(m);
    }
    expect(tf.memory().numTensors).toBe(before);
    cond.dispose();
    const m = out.reduce((a, b) => a + b, 0) / out.length;
    const sd = Math.sqrt(out.reduce((a, b) => a + (b - m) ** 2, 0) / (out.length - 1));
    return { mean: m, se: sd / Math.sqrt(out.length) };
  }

  it('E[x0] matches the tilted mixture within 4 MCSE; conditions left in their slots fail', async () => {
    const good = await means(false);
    const bad = await means(true);
    if (process.env.TYCHE_REPORT) console.log(`tds: exact ${target.toFixed(4)}, ${good.mean.toFixed(4)} ± ${good.se.toFixed(4)}; planted ${bad.mean.toFixed(4)} ± ${bad.se.toFixed(4)}`);
    expect(Math.abs(good.mean - target) / good.se).toBeLessThan(4);
    expect(Math.abs(bad.mean - target) / bad.se).toBeGreaterThan(4);
  }, 600_000);
});

slow('twisted diffusion: an intermediate twist of -Infinity does not kill the path', () => {
  const { runs, importance, zDiff } = hardConstraint();
  it('mean and Z within 4 MCSE of importance sampling of the same DDPM grid; the killing planted bug fails', async () => {
    const ref = await importance();
    const good = await runs('tds');
    const bad = await runs('tds-planted');
    const z = { mean: zDiff(good.mean, ref.mean), Z: zDiff(good.Z, ref.Z), badMean: zDiff(bad.mean, ref.mean), badZ: zDiff(bad.Z, ref.Z) };
    if (process.env.TYCHE_REPORT) console.log(`tds: mean ${good.mean.mean.toFixed(4)} ± ${good.mean.se.toFixed(4)}, Z ${good.Z.mean.toFixed(4)}; planted: mean ${bad.mean.mean.toFixed(4)}, Z ${bad.Z.mean.toFixed(4)}; z ${JSON.stringify(z)}`);
    expect(Math.abs(z.mean)).toBeLessThan(4);
    expect(Math.abs(z.Z)).toBeLessThan(4);
    expect(Math.max(Math.abs(z.badMean), Math.abs(z.badZ))).toBeGreaterThan(4);
  }, 600_000);
});
