/**
 * Conditional SMC, ancestor sampling and particle Gibbs on a linear-Gaussian
 * model: invariance of the CSMC kernel against the RTS smoother, the
 * bidirectional log Z bounds, and particle Gibbs for a static parameter
 * against the exact (grid) marginal posterior.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import {
  type LinearGaussian1D,
  conditionalAncestors,
  conditionalSMC,
  kalmanFilter,
  linearGaussian1D,
  linearGaussianStateSpace,
  logZBounds,
  particleGibbs,
  rtsSmoother,
  runSMC,
  trajectoryLogJoint,
} from '../../src/infer/smc/index.js';
import { mean as sampleMean, variance } from '../stats.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const AR: LinearGaussian1D = { m0: 0.5, s0: 1.5, a: 0.9, q: 0.7, h: 1.2, r: 0.5 };

function simulate(p: LinearGaussian1D, T: number, rng: Rng): { xs: number[]; ys: number[] } {
  const a = p.a ?? 1;
  const h = p.h ?? 1;
  let x = p.m0 + p.s0 * rng.normal();
  const xs: number[] = [];
  const ys: number[] = [];
  for (let t = 0; t < T; t++) {
    if (t > 0) x = a * x + p.q * rng.normal();
    xs.push(x);
    ys.push(h * x + p.r * rng.normal());
  }
  return { xs, ys };
}

/** An exact draw from p(x_{0:T-1} | y) by forward filtering, backward sampling (1-D). */
function exactSmoothingDraw(p: LinearGaussian1D, ys: number[], rng: Rng): number[] {
  const kf = kalmanFilter(linearGaussian1D(p), ys);
  const a = p.a ?? 1;
  const T = ys.length;
  const x = new Array<number>(T);
  x[T - 1] = kf.means[T - 1][0] + Math.sqrt(kf.covariances[T - 1][0][0]) * rng.normal();
  for (let t = T - 2; t >= 0; t--) {
    const Pf = kf.covariances[t][0][0];
    const Pp = kf.predictedCovariances[t + 1][0][0];
    const J = (Pf * a) / Pp;
    const mean = kf.means[t][0] + J * (x[t + 1] - kf.predictedMeans[t + 1][0]);
    x[t] = mean + Math.sqrt(Pf - J * J * Pp) * rng.normal();
  }
  return x;
}

function moments(xs: number[]): { mean: number; variance: number } {
  const m = sampleMean(xs);
  return { mean: m, variance: variance(xs, m) };
}

describe('conditional SMC', () => {
  const T = 20;
  const { ys } = simulate(AR, T, new Rng(11));
  const model = linearGaussianStateSpace(AR, ys);
  const kf = kalmanFilter(linearGaussian1D(AR), ys);
  const rts = rtsSmoother(linearGaussian1D(AR), kf);

  const startMoved: Record<string, number> = {};
  for (const ancestorSampling of [false, true]) {
    it(`leaves the smoothing distribution invariant (${ancestorSampling ? 'with' : 'without'} ancestor sampling)`, async () => {
      // many independent chains, each started from an exact smoothing draw and moved by 3 sweeps
      // with few particles: the final states are independent exact draws iff the kernel is invariant
      const chains = 500;
      const sweeps = 3;
      const rng = new Rng(ancestorSampling ? 21 : 22);
      const finals: number[][] = Array.from({ length: T }, () => []);
      let moved = 0;
      let movedAtStart = 0;
      for (let c = 0; c < chains; c++) {
        const start = exactSmoothingDraw(AR, ys, rng);
        let ref: number[] = start;
        for (let s = 0; s < sweeps; s++) {
          const out = await conditionalSMC(model, { particles: 5, reference: ref, ancestorSampling, rng: rng.split() });
          ref = out.trajectory.map((row) => row[0]);
        }
        if (Math.abs(ref[T - 1] - start[T - 1]) > 1e-6) moved++;
        if (Math.abs(ref[0] - start[0]) > 1e-6) movedAtStart++;
        for (let t = 0; t < T; t++) finals[t].push(ref[t]);
      }
      expect(moved).toBeGreaterThan(chains / 2); // the kernel does move
      startMoved[String(ancestorSampling)] = movedAtStart / chains;
      // path degeneracy: without ancestor sampling x_0 rarely leaves the reference; with it, often
      if (ancestorSampling) expect(startMoved.true).toBeGreaterThan(startMoved.false + 0.2);
      console.log(`CSMC (N=5, T=${T}, ${sweeps} sweeps) ancestorSampling=${ancestorSampling}: x_T-1 moved in ${moved}/${chains} chains, x_0 in ${movedAtStart}/${chains}`);
      for (let t = 0; t < T; t++) {
        const m = moments(finals[t]);
        const v = rts.covariances[t][0][0];
        expect(Math.abs(m.mean - rts.means[t][0])).toBeLessThan(4.5 * Math.sqrt(v / chains));
        // Var(s^2) = 2 v^2 / (n - 1) for normal draws
        expect(Math.abs(m.variance - v)).toBeLessThan(4.5 * v * Math.sqrt(2 / (chains - 1)));
      }
    });
  }

  it('keeps slot 0 on the reference path with ancestor 0 (conditional resampling hook)', async () => {
    const ref = Array.from({ length: T }, (_, t) => 0.1 * t);
    const out = await conditionalSMC(model, { particles: 7, reference: ref, seed: 3 });
    const h = out.filter.history;
    if (!h) throw new Error('no history');
    for (let t = 0; t < T; t++) {
      expect(h.values[t][0]).toBeCloseTo(ref[t], 6);
      expect(h.ancestors[t][0]).toBe(0);
    }
    // the core validates what an ancestor sampler returns
    const fk = {
      init: (n: number) => new Float64Array(n),
      step: (s: Float64Array, t: number) => ({ state: s, logPotential: Float64Array.from(s, (_, i) => (i === 0 ? -1 : 0) * t) }),
      done: (t: number) => t >= 3,
    };
    await expect(runSMC(fk, { particles: 4, essThreshold: 1, ancestorSampler: () => new Int32Array(3) })).rejects.toThrow(/ancestorSampler must return an Int32Array of 4/);
    const r = await runSMC(fk, { particles: 4, essThreshold: 1, ancestorSampler: conditionalAncestors(), seed: 1 });
    for (const a of r.ancestors.slice(1)) expect(a[0]).toBe(0);
  });

  it('rejects a reference of the wrong length and ancestor sampling without a transition density', async () => {
    await expect(conditionalSMC(model, { particles: 5, reference: [1, 2, 3], seed: 1 })).rejects.toThrow(/reference trajectory has 3 states, the model has length 20/);
    const { transitionLogProb: _drop, ...noDensity } = model;
    await expect(conditionalSMC(noDensity, { particles: 5, reference: ys, ancestorSampling: true, seed: 1 })).rejects.toThrow(/ancestor sampling needs the model's transitionLogProb/);
  });
});

describe('bidirectional log Z bounds', () => {
  it('E[log Z_csmc] >= log Z >= E[log Z_smc] with exact posterior references', async () => {
    const T = 30;
    const { ys } = simulate(AR, T, new Rng(5));
    const model = linearGaussianStateSpace(AR, ys);
    const exact = kalmanFilter(linearGaussian1D(AR), ys).logLikelihood;
    for (const [particles, seed] of [
      [4, 1],
      [4, 2],
      [16, 3],
    ] as const) {
      const b = await logZBounds(model, { particles, runs: 150, seed, references: (_r, rng) => exactSmoothingDraw(AR, ys, rng) });
      // both sides hold within Monte Carlo error ...
      expect(b.lower.mean).toBeLessThan(exact + 4.5 * b.lower.se);
      expect(b.upper.mean).toBeGreaterThan(exact - 4.5 * b.upper.se);
      // ... and with few particles the gap on each side is well resolved
      if (particles === 4) {
        expect(b.lower.mean + 4.5 * b.lower.se).toBeLessThan(exact);
        expect(b.upper.mean - 4.5 * b.upper.se).toBeGreaterThan(exact);
      }
      console.log(`logZBounds N=${particles} seed=${seed}: lower ${b.lower.mean.toFixed(3)} ± ${b.lower.se.toFixed(3)}, exact ${exact.toFixed(3)}, upper ${b.upper.mean.toFixed(3)} ± ${b.upper.se.toFixed(3)}`);
    }
  });
});

describe('particle Gibbs', () => {
  it('trajectoryLogJoint is the exact complete-data log density', () => {
    const { xs, ys } = simulate(AR, 6, new Rng(8));
    const model = linearGaussianStateSpace(AR, ys);
    const ln = (x: number, m: number, s: number) => -0.5 * ((x - m) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);
    let want = ln(xs[0], AR.m0, AR.s0);
    for (let t = 0; t < 6; t++) {
      if (t > 0) want += ln(xs[t], 0.9 * xs[t - 1], 0.7);
      want += ln(ys[t], 1.2 * xs[t], 0.5);
    }
    expect(trajectoryLogJoint(model, xs)).toBeCloseTo(want, 3);
  });

  it('leaves the joint posterior of a static parameter and the states invariant (MH update, ancestor sampling)', async () => {
    // unknown AR coefficient a ~ Uniform(-1, 1); exact p(a | y) on a grid from the Kalman likelihood,
    // E[x_t | y] = sum over the grid of p(a | y) E[x_t | y, a] (RTS at each grid point)
    const T = 20;
    const { ys } = simulate({ ...AR, a: 0.6 }, T, new Rng(9));
    const at = (a: number): LinearGaussian1D => ({ ...AR, a });
    const G = 4001;
    const grid = Array.from({ length: G }, (_, i) => -1 + (2 * (i + 0.5)) / G);
    const ll = grid.map((a) => kalmanFilter(linearGaussian1D(at(a)), ys).logLikelihood);
    const lmax = Math.max(...ll);
    const raw = ll.map((v) => Math.exp(v - lmax));
    const Zw = raw.reduce((s, v) => s + v, 0);
    const w = raw.map((v) => v / Zw);
    const postMean = grid.reduce((s, a, i) => s + a * w[i], 0);
    const postVar = grid.reduce((s, a, i) => s + (a - postMean) ** 2 * w[i], 0);
    const checkT = [0, 10, T - 1];
    const stateMean = checkT.map(() => 0);
    grid.forEach((a, i) => {
      if (w[i] < 1e-12) return;
      const lg = linearGaussian1D(at(a));
      const sm = rtsSmoother(lg, kalmanFilter(lg, ys));
      checkT.forEach((t, j) => (stateMean[j] += w[i] * sm.means[t][0]));
    });
    const cdf: number[] = [];
    w.reduce((c, v) => (cdf.push(c + v), c + v), 0);
    const drawA = (rng: Rng): number => {
      const u = rng.uniform();
      let i = 0;
      while (i < G - 1 && cdf[i] < u) i++;
      return grid[i] + (rng.uniform() - 0.5) * (2 / G);
    };

    // independent chains started from exact joint draws (a, x) ~ p(a, x | y), 3 iterations each:
    // the final states are exact draws iff particle Gibbs leaves the joint posterior invariant
    const chains = 400;
    const rng = new Rng(31);
    const finalA: number[] = [];
    const finalX: number[][] = checkT.map(() => []);
    let moved = 0;
    let acc = 0;
    for (let c = 0; c < chains; c++) {
      const a0 = drawA(rng);
      const x0 = exactSmoothingDraw(at(a0), ys, rng);
      const res = await particleGibbs((p: { a: number }) => linearGaussianStateSpace(at(p.a), ys), {
        iterations: 3,
        particles: 10,
        initialParams: { a: a0 },
        initialTrajectory: x0,
        rng: rng.split(),
        mh: { logPrior: (p) => (Math.abs(p.a) < 1 ? 0 : -Infinity), propose: (p, r) => ({ a: p.a + 0.1 * r.normal() }), steps: 2 },
      });
      const a = res.params[2].a;
      if (a !== a0) moved++;
      acc += res.acceptance;
      finalA.push(a);
      const x = res.trajectories[2];
      checkT.forEach((t, j) => finalX[j].push(x[t][0]));
    }
    expect(moved).toBeGreaterThan(chains / 2);
    const ma = moments(finalA);
    const sq = moments(finalA.map((a) => (a - postMean) ** 2));
    console.log(
      `particle Gibbs (${chains} chains x 3 iterations from exact draws): a mean ${ma.mean.toFixed(4)} (exact ${postMean.toFixed(4)} ± ${Math.sqrt(postVar / chains).toFixed(4)}), var ${sq.mean.toFixed(4)} (exact ${postVar.toFixed(4)} ± ${Math.sqrt(sq.variance / chains).toFixed(4)}); acceptance ${(acc / chains).toFixed(2)}; a moved in ${moved} chains`,
    );
    expect(Math.abs(ma.mean - postMean)).toBeLessThan(4.5 * Math.sqrt(postVar / chains));
    expect(Math.abs(sq.mean - postVar)).toBeLessThan(4.5 * Math.sqrt(sq.variance / chains));
    checkT.forEach((t, j) => {
      const mx = moments(finalX[j]);
      const se = Math.sqrt(mx.variance / chains);
      console.log(`particle Gibbs x_${t}: mean ${mx.mean.toFixed(4)} (exact ${stateMean[j].toFixed(4)} ± ${se.toFixed(4)})`);
      expect(Math.abs(mx.mean - stateMean[j])).toBeLessThan(4.5 * se);
    });
  });

  it('accepts a Gibbs update and checks its options', async () => {
    const { ys } = simulate(AR, 5, new Rng(2));
    const model = () => linearGaussianStateSpace(AR, ys);
    const seen: number[] = [];
    const before = tf.memory().numTensors;
    const res = await particleGibbs(model, { iterations: 4, particles: 5, initialParams: 0, seed: 1, update: (_x, p) => p + 1, onIteration: (i) => void seen.push(i.iteration) });
    expect(res.params).toEqual([1, 2, 3, 4]);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(Number.isNaN(res.acceptance)).toBe(true);
    await expect(particleGibbs(model, { iterations: 4, particles: 5, initialParams: 0 })).rejects.toThrow(/give a parameter update/);
    expect(tf.memory().numTensors).toBe(before); // sweeps free their particles
  });
});
