/**
 * Resampling schemes (unbiased offspring counts, O(N), zero weights), the
 * tempered-resampling hook, and the particle core (log Z bookkeeping, stores,
 * genealogy, errors, abort, tensor memory over 1000 steps).
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import {
  type FeynmanKac,
  type Resampler,
  RESAMPLERS,
  batchedStore,
  ess,
  perParticleStore,
  runSMC,
  systematic,
  temperedResample,
  traceLineages,
} from '../../src/infer/smc/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const SCHEMES = Object.entries(RESAMPLERS) as [string, Resampler][];

/**
 * Largest standardised deviation of the mean offspring counts from n * w_i
 * over `draws` resamplings. Every scheme here has Var(O_i) <= n w_i
 * (multinomial n w(1-w); residual and stratified at most the sum of the
 * Bernoulli variances of the strata they touch; systematic <= 1/4 and <= the
 * fractional part), so sqrt(n w_i / draws) bounds the standard error.
 */
function maxOffspringZ(resample: Resampler, w: Float64Array, n: number, draws: number, rng: Rng): number {
  const counts = new Float64Array(w.length);
  for (let r = 0; r < draws; r++) {
    const a = resample(w, n, rng);
    expect(a.length).toBe(n);
    for (let k = 0; k < n; k++) counts[a[k]] += 1;
  }
  let worst = 0;
  for (let i = 0; i < w.length; i++) {
    const expected = n * w[i];
    const mean = counts[i] / draws;
    if (expected === 0) {
      if (mean !== 0) return Infinity; // a zero-weight particle was chosen
      continue;
    }
    worst = Math.max(worst, Math.abs(mean - expected) / Math.sqrt(expected / draws));
  }
  return worst;
}

/** Normalised weights from raw non-negative numbers (some exactly zero). */
const weightsArb = fc
  .array(fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 10, noNaN: true })), { minLength: 2, maxLength: 12 })
  .filter((xs) => xs.some((x) => x > 0))
  .map((xs) => {
    const s = xs.reduce((a, b) => a + b, 0);
    return Float64Array.from(xs, (x) => x / s);
  });

// 5 standard errors: with ~12 particles x 20 cases x 4 schemes the chance of a
// false alarm is below 1e-3 (and the seeds are fixed).
const Z_MAX = 5;
const DRAWS = 2000;

describe('resampling schemes', () => {
  for (const [name, resample] of SCHEMES) {
    it(`${name}: expected offspring count of particle i is n * w_i`, () => {
      fc.assert(
        fc.property(weightsArb, fc.integer({ min: 1, max: 30 }), fc.integer(), (w, n, seed) => {
          expect(maxOffspringZ(resample, w, n, DRAWS, new Rng(seed))).toBeLessThan(Z_MAX);
        }),
        { numRuns: 20, seed: 42 },
      );
    });
  }

  it('the offspring check catches off-by-one mutants', () => {
    const w = Float64Array.of(0.1, 0.4, 0.05, 0.25, 0.2);
    const n = w.length;
    // a loop that starts at 1: the first stratum is skipped and the last one counted twice
    const skipsFirst: Resampler = (ww, nn, rng) => {
      const a = systematic(ww, nn + 1, rng);
      return a.subarray(1);
    };
    // ancestors shifted by one index
    const shifted: Resampler = (ww, nn, rng) => systematic(ww, nn, rng).map((i) => Math.min(i + 1, ww.length - 1));
    expect(maxOffspringZ(systematic, w, n, DRAWS, new Rng(1))).toBeLessThan(Z_MAX);
    expect(maxOffspringZ(skipsFirst, w, n, DRAWS, new Rng(1))).toBeGreaterThan(Z_MAX);
    expect(maxOffspringZ(shifted, w, n, DRAWS, new Rng(1))).toBeGreaterThan(Z_MAX);
  });

  it('never chooses a zero-weight particle, even at the ends', () => {
    const w = Float64Array.of(0, 0.5, 0, 0.5, 0);
    for (const [, resample] of SCHEMES) {
      const rng = new Rng(3);
      for (let r = 0; r < 200; r++) for (const a of resample(w, 7, rng)) expect(a === 1 || a === 3).toBe(true);
    }
  });

  it('runs in linear time (1e6 particles well under a second each)', () => {
    const N = 1_000_000;
    const w = new Float64Array(N).fill(1 / N);
    w[0] = 0.5;
    for (const [name, resample] of SCHEMES) {
      const t0 = performance.now();
      const a = resample(w, N, new Rng(1));
      const ms = performance.now() - t0;
      expect(a.length, name).toBe(N);
      expect(ms, name).toBeLessThan(1000);
    }
  });

  it('rejects bad weights with a message naming the scheme', () => {
    expect(() => systematic(Float64Array.of(0.5, NaN), 2, new Rng(1))).toThrow(/systematic resampling: weight 1 is NaN/);
    expect(() => RESAMPLERS.residual(Float64Array.of(0, 0), 2, new Rng(1))).toThrow(/residual resampling: all weights are zero/);
    expect(() => RESAMPLERS.multinomial(Float64Array.of(-1, 2), 2, new Rng(1))).toThrow(/multinomial/);
  });
});

describe('ess', () => {
  it('is N for equal weights, 1 for a single survivor, shift invariant', () => {
    expect(ess(new Float64Array(10).fill(-3))).toBeCloseTo(10, 12);
    expect(ess(Float64Array.of(0, -Infinity, -Infinity))).toBe(1);
    expect(ess(Float64Array.of(-Infinity, -Infinity))).toBe(0);
    const lw = Float64Array.of(0.1, -2, 3, 0.5);
    const shifted = lw.map((v) => v + 1000);
    expect(ess(shifted)).toBeCloseTo(ess(lw), 12);
    const w = Array.from(lw, Math.exp);
    const s = w.reduce((a, b) => a + b, 0);
    expect(ess(lw)).toBeCloseTo((s * s) / w.reduce((a, b) => a + b * b, 0), 12);
  });
});

describe('tempered resampling', () => {
  it('keeps the population properly weighted: E[sum of offspring weights of i] = w_i', () => {
    const lw = Float64Array.from([0.3, -1, 1.2, -0.2, 0.7], (v) => v - 2);
    const N = lw.length;
    const w = Array.from(lw, Math.exp);
    for (const alpha of [0, 0.3, 0.7, 1]) {
      const rng = new Rng(11);
      const R = 4000;
      const sum = new Float64Array(N);
      const sumSq = new Float64Array(N);
      for (let r = 0; r < R; r++) {
        const { ancestors, logWeights } = temperedResample(lw, alpha, N, rng, RESAMPLERS.stratified);
        const per = new Float64Array(N);
        for (let k = 0; k < N; k++) per[ancestors[k]] += Math.exp(logWeights[k]);
        for (let i = 0; i < N; i++) {
          sum[i] += per[i];
          sumSq[i] += per[i] * per[i];
        }
      }
      for (let i = 0; i < N; i++) {
        const mean = sum[i] / R;
        const sd = Math.sqrt(Math.max(sumSq[i] / R - mean * mean, 0));
        expect(Math.abs(mean - w[i]), `alpha=${alpha}, i=${i}`).toBeLessThanOrEqual(5 * (sd / Math.sqrt(R)) + 1e-12);
      }
    }
  });

  it('alpha = 1 is ordinary resampling with the mean weight; alpha = 0 keeps the weights', () => {
    const lw = Float64Array.of(0, -1, -2);
    const one = temperedResample(lw, 1, 3, new Rng(2));
    const meanW = Math.log((1 + Math.exp(-1) + Math.exp(-2)) / 3);
    for (const v of one.logWeights) expect(v).toBeCloseTo(meanW, 12);
    const zero = temperedResample(lw, 0, 3, new Rng(2));
    for (let k = 0; k < 3; k++) expect(zero.logWeights[k]).toBeCloseTo(lw[zero.ancestors[k]], 12);
  });
});

/** A Feynman–Kac model on a Float64Array: x moves by +1, potential is a fixed table. */
function tableFK(table: number[][]): FeynmanKac<Float64Array> {
  return {
    init: (n) => new Float64Array(n),
    step: (x, t) => ({ state: x.map((v) => v + 1), logPotential: table[t] }),
    done: (t) => t >= table.length,
  };
}

describe('particle core', () => {
  it('without resampling, log Z is the log mean of the product of potentials (exact)', async () => {
    const table = [
      [0.1, -0.5, 2, -3],
      [1, 0.2, -1, 0.3],
      [-0.7, 0.4, 0.9, -2],
    ];
    const res = await runSMC(tableFK(table), { particles: 4, essThreshold: 0, seed: 1 });
    const totals = [0, 1, 2, 3].map((i) => table.reduce((s, row) => s + row[i], 0));
    const expected = Math.log(totals.reduce((s, v) => s + Math.exp(v), 0) / 4);
    expect(res.logZ).toBeCloseTo(expected, 12);
    expect(res.steps).toBe(3);
    expect(res.resampledAt).toEqual([]);
    expect(Array.from(res.state)).toEqual([3, 3, 3, 3]);
    let s = 0;
    for (let i = 0; i < 4; i++) {
      expect(res.logWeights[i]).toBeCloseTo(totals[i] - Math.log(totals.reduce((a, v) => a + Math.exp(v), 0)), 12);
      s += res.weights[i];
    }
    expect(s).toBeCloseTo(1, 12);
  });

  it('with resampling every step, log Z is the sum of log mean potentials of the resampled particles', async () => {
    // potentials depend on the particle's value so that resampling matters
    const fk: FeynmanKac<Float64Array> = {
      init: (n) => Float64Array.from({ length: n }, (_, i) => i),
      step: (x) => ({ state: x, logPotential: Array.from(x, (v) => -0.5 * v) }),
      done: (t) => t >= 4,
    };
    const seen: number[] = [];
    const res = await runSMC(fk, {
      particles: 5,
      essThreshold: 1,
      seed: 3,
      keepHistory: (info) => Array.from(info.state),
      onStep: (info) => {
        seen.push(info.logIncrement);
      },
    });
    let expected = 0;
    res.history.forEach((x) => {
      expected += Math.log(x.reduce((s, v) => s + Math.exp(-0.5 * v), 0) / x.length);
    });
    expect(res.resampledAt[0]).toBe(1);
    expect(res.logZ).toBeCloseTo(expected, 12);
    expect(seen.reduce((a, b) => a + b, 0)).toBeCloseTo(res.logZ, 12);
    // ancestors point at particles whose values the offspring carry
    for (let t = 1; t < res.steps; t++) {
      for (let i = 0; i < 5; i++) expect(res.history[t][i]).toBe(res.history[t - 1][res.ancestors[t][i]]);
    }
  });

  it('calls rejuvenate after each resampling, before the step; maxSteps stops runaway models', async () => {
    const calls: number[] = [];
    const fk: FeynmanKac<Float64Array> = {
      init: (n) => Float64Array.from({ length: n }, (_, i) => i),
      step: (x) => ({ state: x, logPotential: Array.from(x, (v) => -v) }),
      done: (t) => t >= 5,
      rejuvenate: (x, t) => {
        calls.push(t);
        return x.map((v) => v + 100);
      },
    };
    const res = await runSMC(fk, { particles: 8, essThreshold: 1, seed: 2 });
    expect(calls).toEqual(res.resampledAt);
    expect(calls.length).toBeGreaterThan(0);
    expect(res.state[0]).toBeGreaterThanOrEqual(100 * calls.length);
    await expect(runSMC({ ...fk, done: () => false }, { particles: 2, seed: 1, maxSteps: 10 })).rejects.toThrow(/maxSteps = 10/);
  });

  it('traces lineages back through the genealogy', () => {
    const anc = [Int32Array.of(0, 1, 2), Int32Array.of(0, 0, 2), Int32Array.of(2, 1, 1)];
    const lines = traceLineages(anc);
    expect(lines.map((l) => Array.from(l))).toEqual([
      [2, 0, 0],
      [2, 1, 1],
      [0, 1, 2],
    ]);
  });

  it('per-particle store: offspring of one parent are distinct clones', async () => {
    type P = { v: number[] };
    const fk: FeynmanKac<P[]> = {
      init: (n) => Array.from({ length: n }, (_, i) => ({ v: [i] })),
      step: (s, t) => ({ state: s, logPotential: s.map((p) => (t === 0 && p.v[0] !== 0 ? -Infinity : 0)) }),
      done: (t) => t >= 2,
    };
    const res = await runSMC(fk, { particles: 4, seed: 1, store: perParticleStore<P>() });
    expect(res.state.map((p) => p.v[0])).toEqual([0, 0, 0, 0]);
    expect(new Set(res.state).size).toBe(4);
    res.state[0].v.push(9);
    expect(res.state[1].v).toEqual([0]);
  });

  it('batched store: tf.gather and host row copies give the same offspring and free the old tensors', () => {
    const anc = Int32Array.of(2, 2, 0, 1);
    const results = (['tf', 'host'] as const).map((gather) => {
      const before = tf.memory().numTensors;
      const state = { x: tf.tensor([[1, 2], [3, 4], [5, 6], [7, 8]]), k: tf.tensor([1, 2, 3, 4], [4], 'int32'), f: Float32Array.of(0.5, 1.5, 2.5, 3.5), c: 'shared' };
      const next = batchedStore<typeof state>({ gather }).select(state, anc, 4);
      expect(state.x.isDisposed && state.k.isDisposed).toBe(true);
      expect(tf.memory().numTensors).toBe(before + 2);
      const out = { x: next.x.arraySync(), k: next.k.arraySync(), kd: next.k.dtype, f: Array.from(next.f), c: next.c };
      next.x.dispose();
      next.k.dispose();
      return out;
    });
    expect(results[0]).toEqual({ x: [[5, 6], [5, 6], [1, 2], [3, 4]], k: [3, 3, 1, 2], kd: 'int32', f: [2.5, 2.5, 0.5, 1.5], c: 'shared' });
    expect(results[1]).toEqual(results[0]);
    const bad = { x: tf.zeros([3]) };
    expect(() => batchedStore<typeof bad>().select(bad, anc, 4)).toThrow(/field "x" has shape \[3\], expected a leading particle axis of 4/);
    bad.x.dispose();
  });

  it('errors: NaN potentials, dead populations, wrong sizes, bad options', async () => {
    await expect(runSMC(tableFK([[0, NaN]]), { particles: 2, seed: 1 })).rejects.toThrow(/step 0: log potential of particle 1 is NaN/);
    await expect(runSMC(tableFK([[-Infinity, -Infinity]]), { particles: 2, seed: 1 })).rejects.toThrow(/every particle has zero weight/);
    await expect(runSMC(tableFK([[0, 0, 0]]), { particles: 2, seed: 1 })).rejects.toThrow(/3 values, expected 2/);
    await expect(runSMC(tableFK([[0]]), { particles: 0 })).rejects.toThrow(/particles must be a positive integer/);
    await expect(runSMC(tableFK([[0]]), { particles: 1, essThreshold: 2 })).rejects.toThrow(/essThreshold/);
    await expect(runSMC(tableFK([[0]]), { particles: 1, resampling: 'bogus' as never })).rejects.toThrow(/^runSMC: resampling must be one of 'multinomial'.*got 'bogus'/);
    const bad: FeynmanKac<{ n: number }> = { init: () => ({ n: 1 }), step: (s) => ({ state: s, logPotential: [0] }), done: () => false };
    await expect(runSMC(bad, { particles: 1 })).rejects.toThrow(/cannot tell how to resample/);
  });

  it('an AbortSignal stops the run and frees the state', async () => {
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    const fk: FeynmanKac<{ x: tf.Tensor }> = {
      init: (n) => ({ x: tf.zeros([n]) }),
      step: (s) => ({ state: { x: tf.add(s.x, 1) }, logPotential: tf.zeros([4]) }),
      done: () => false,
    };
    await expect(
      runSMC(fk, {
        particles: 4,
        seed: 1,
        signal: ctl.signal,
        onStep: (info) => {
          if (info.t === 5) ctl.abort(new Error('stop here'));
        },
      }),
    ).rejects.toThrow('stop here');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps tf.memory().numTensors flat over 1000 steps of batched state', async () => {
    const before = tf.memory().numTensors;
    const N = 64;
    const counts: number[] = [];
    // a record of tensors, one typed array and a shared setting; steps build new tensors without freeing old ones
    type S = { x: tf.Tensor; aux: tf.Tensor; tag: Float64Array; scale: number };
    const fk: FeynmanKac<S> = {
      init: (n) => ({ x: tf.zeros([n, 2]), aux: tf.ones([n]), tag: new Float64Array(n), scale: 0.5 }),
      step: (s, t, rng) => {
        const { x, lp } = tf.tidy(() => {
          const eps = tf.tensor(Float32Array.from(rng.normals(N * 2)), [N, 2]);
          const x = tf.add(s.x, tf.mul(eps, s.scale));
          return { x, lp: tf.mul(tf.sum(tf.square(x), 1), -0.5) };
        });
        return { state: { x, aux: s.aux, tag: s.tag.map((v) => v + 1), scale: s.scale }, logPotential: lp };
      },
      done: (t) => t >= 1000,
    };
    const res = await runSMC(fk, {
      particles: N,
      seed: 7,
      resampling: 'residual',
      onStep: (info) => {
        counts.push(tf.memory().numTensors);
      },
    });
    expect(res.steps).toBe(1000);
    expect(res.resampledAt.length).toBeGreaterThan(100);
    expect(counts[999]).toBe(counts[9]);
    expect(Math.max(...counts)).toBe(counts[9]);
    expect(res.state.tag[0]).toBe(1000);
    res.store.dispose(res.state);
    expect(tf.memory().numTensors).toBe(before);
  });
});
