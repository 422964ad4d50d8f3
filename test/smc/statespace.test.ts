/**
 * State-space filters and smoothers against the Kalman filter: log Z and
 * filtering means within Monte Carlo error, unbiasedness of Z-hat, the
 * optimal proposal beating the bootstrap, genealogy/FFBSi smoothing against
 * RTS, and tensor memory over 1000 steps.
 */
import { resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import {
  type LinearGaussian1D,
  type LinearGaussianModel,
  type Matrix,
  type ResamplingScheme,
  ffbsi,
  genealogySmoother,
  kalmanFilter,
  linearGaussian1D,
  linearGaussianOptimalProposal,
  linearGaussianStateSpace,
  mvnLogDensity,
  particleFilter,
  rtsSmoother,
} from '../../src/infer/smc/index.js';
import { meanSd } from '../stats.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// ../shared beside the checkout (as CI has it); the test skips without it
const HMM_PATH = resolve(process.cwd(), '../shared/peers/hmm.json');
const HMM_EXACT = -190.85967421654462;

/** Simulate a 1-D linear-Gaussian model with a fixed seed. */
function simulate(p: LinearGaussian1D, T: number, seed: number): number[] {
  const rng = new Rng(seed);
  const a = p.a ?? 1;
  const h = p.h ?? 1;
  let x = p.m0 + p.s0 * rng.normal();
  const ys: number[] = [];
  for (let t = 0; t < T; t++) {
    if (t > 0) x = a * x + p.q * rng.normal();
    ys.push(h * x + p.r * rng.normal());
  }
  return ys;
}

const RW: LinearGaussian1D = { m0: 0, s0: 1, q: 1, r: 1 };
const AR: LinearGaussian1D = { m0: 0.5, s0: 1.5, a: 0.9, q: 0.7, h: 1.2, r: 0.5 };

describe('Kalman filter', () => {
  it.skipIf(!existsSync(HMM_PATH))('matches the reference log-likelihood and final moments of hmm.json', () => {
    const d = JSON.parse(readFileSync(HMM_PATH, 'utf8'));
    const kf = kalmanFilter(linearGaussian1D({ m0: d.m0, s0: d.s0, q: d.q, r: d.r }), d.y);
    expect(kf.logLikelihood).toBeCloseTo(HMM_EXACT, 9);
    expect(kf.means[99][0]).toBeCloseTo(20.052857094959332, 9);
    expect(kf.covariances[99][0][0]).toBeCloseTo(0.6180339887498948, 9);
  });

  // brute force: y stacked is jointly Gaussian; Cov(x_t, x_s) = A^(t-s) Cov(x_s, x_s) for t >= s
  const mm = (a: Matrix, b: Matrix): Matrix => a.map((r) => b[0].map((_, j) => r.reduce((s, v, k) => s + v * b[k][j], 0)));
  const tr = (a: Matrix): Matrix => a[0].map((_, j) => a.map((r) => r[j]));
  const add = (a: Matrix, b: Matrix): Matrix => a.map((r, i) => r.map((v, j) => v + b[i][j]));
  const solve = (A: Matrix, b: number[]): number[] => {
    const n = b.length;
    const M = A.map((r, i) => [...r, b[i]]);
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
      [M[c], M[p]] = [M[p], M[c]];
      for (let r = 0; r < n; r++) {
        if (r === c) continue;
        const f = M[r][c] / M[c][c];
        for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
      }
    }
    return M.map((r, i) => r[n] / r[i]);
  };
  const model: LinearGaussianModel = {
    m0: [0.5, -1],
    P0: [
      [1, 0.3],
      [0.3, 2],
    ],
    A: [
      [0.9, 0.2],
      [-0.1, 0.8],
    ],
    Q: [
      [0.5, 0.1],
      [0.1, 0.3],
    ],
    H: [
      [1, 0.5],
      [0, 1],
    ],
    R: [
      [0.4, 0],
      [0, 0.2],
    ],
  };
  const ys = [
    [0.3, -0.8],
    [1.1, 0.2],
    [-0.4, 0.5],
    [0.9, -1.3],
  ];
  const T = ys.length;
  const mean: number[][] = [model.m0.slice()];
  const cov: Matrix[] = [model.P0];
  for (let t = 1; t < T; t++) {
    mean.push(mm(model.A, mean[t - 1].map((v) => [v])).map((r) => r[0]));
    cov.push(add(mm(mm(model.A, cov[t - 1]), tr(model.A)), model.Q));
  }
  const crossX = (t: number, s: number): Matrix => {
    // Cov(x_t, x_s)
    if (t < s) return tr(crossX(s, t));
    let c = cov[s];
    for (let k = s; k < t; k++) c = mm(model.A, c);
    return c;
  };
  const p = 2;
  const d = 2;
  const Syy: Matrix = Array.from({ length: T * p }, () => new Array<number>(T * p).fill(0));
  const Sxy: Matrix = Array.from({ length: T * d }, () => new Array<number>(T * p).fill(0));
  for (let t = 0; t < T; t++) {
    for (let s = 0; s < T; s++) {
      let blk = mm(mm(model.H, crossX(t, s)), tr(model.H));
      if (t === s) blk = add(blk, model.R);
      const xy = mm(crossX(t, s), tr(model.H));
      for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) Syy[t * p + i][s * p + j] = blk[i][j];
      for (let i = 0; i < d; i++) for (let j = 0; j < p; j++) Sxy[t * d + i][s * p + j] = xy[i][j];
    }
  }
  const yFlat = ys.flat();
  const muY = mean.flatMap((m) => mm(model.H, m.map((v) => [v])).map((r) => r[0]));

  it('gives the exact joint log-likelihood of a 2-D model (brute force)', () => {
    const kf = kalmanFilter(model, ys);
    expect(kf.logLikelihood).toBeCloseTo(mvnLogDensity(yFlat, muY, Syy), 9);
  });

  it('RTS smoothing means equal the brute-force conditional means; the last filtering mean too', () => {
    const kf = kalmanFilter(model, ys);
    const sm = rtsSmoother(model, kf);
    const z = solve(
      Syy,
      yFlat.map((v, i) => v - muY[i]),
    );
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < d; i++) {
        const exact = mean[t][i] + Sxy[t * d + i].reduce((s, v, k) => s + v * z[k], 0);
        expect(sm.means[t][i]).toBeCloseTo(exact, 9);
        if (t === T - 1) expect(kf.means[t][i]).toBeCloseTo(exact, 9);
      }
    }
  });

  it('rejects badly shaped models and observations', () => {
    expect(() => kalmanFilter({ ...model, A: [[1]] }, ys)).toThrow(/A must be 2 x 2/);
    expect(() => kalmanFilter(model, [[1, 2, 3]])).toThrow(/observation 0 has 3 values, expected 2/);
    expect(() => linearGaussian1D({ m0: 0, s0: 1, q: -1, r: 1 })).toThrow(/q must be a positive/);
  });
});

interface Dataset {
  readonly name: string;
  readonly params: LinearGaussian1D;
  readonly ys: number[];
}

function datasets(): Dataset[] {
  const out: Dataset[] = [{ name: 'generated AR(1), T=60', params: AR, ys: simulate(AR, 60, 2026) }];
  if (existsSync(HMM_PATH)) {
    const d = JSON.parse(readFileSync(HMM_PATH, 'utf8'));
    out.push({ name: 'hmm.json random walk, T=100', params: { m0: d.m0, s0: d.s0, q: d.q, r: d.r }, ys: d.y });
  }
  return out;
}

describe('bootstrap filter against the Kalman filter', () => {
  for (const ds of datasets()) {
    it(`${ds.name}: Z-hat/Z has mean 1 and filtering means agree within MCSE`, async () => {
      const kf = kalmanFilter(linearGaussian1D(ds.params), ds.ys);
      if (ds.name.startsWith('hmm')) expect(kf.logLikelihood).toBeCloseTo(HMM_EXACT, 4);
      const model = linearGaussianStateSpace(ds.params, ds.ys);
      const R = 20;
      const logZs: number[] = [];
      const errs: number[][] = ds.ys.map(() => []);
      for (let s = 0; s < R; s++) {
        const res = await particleFilter(model, { particles: 1000, seed: 100 + s });
        logZs.push(res.logZ);
        res.filteringMeans.forEach((m, t) => errs[t].push(m[0] - kf.means[t][0]));
        res.dispose();
      }
      // exp(logZ-hat) is unbiased for Z: E[Z-hat / Z] = 1
      const ratio = meanSd(logZs.map((l) => Math.exp(l - kf.logLikelihood)));
      expect(Math.abs(ratio.mean - 1)).toBeLessThan(4.5 * (ratio.sd / Math.sqrt(R)));
      // and log Z-hat is asymptotically N(log Z - s^2/2, s^2)
      const lz = meanSd(logZs);
      expect(Math.abs(lz.mean + lz.sd ** 2 / 2 - kf.logLikelihood)).toBeLessThan(4.5 * (lz.sd / Math.sqrt(R)));
      // filtering means: 5 standard errors (T tests at once)
      for (const e of errs) {
        const m = meanSd(e);
        expect(Math.abs(m.mean)).toBeLessThan(5 * (m.sd / Math.sqrt(R)));
      }
    });
  }
});

describe('unbiasedness of Z-hat on a short series (T = 10)', () => {
  const ys = simulate(RW, 10, 7);
  const exact = kalmanFilter(linearGaussian1D(RW), ys).logLikelihood;
  const model = linearGaussianStateSpace(RW, ys);
  const configs: { label: string; resampling: ResamplingScheme; essThreshold?: number; temper?: number }[] = [
    { label: 'multinomial, adaptive', resampling: 'multinomial' },
    { label: 'stratified, adaptive', resampling: 'stratified' },
    { label: 'systematic, adaptive', resampling: 'systematic' },
    { label: 'residual, adaptive', resampling: 'residual' },
    { label: 'systematic, every step', resampling: 'systematic', essThreshold: 1 },
    { label: 'systematic, tempered alpha = 0.5', resampling: 'systematic', temper: 0.5 },
  ];
  for (const c of configs) {
    it(`${c.label}: E[Z-hat / Z] = 1`, async () => {
      const R = 300;
      const ratios: number[] = [];
      const logs: number[] = [];
      for (let s = 0; s < R; s++) {
        const res = await particleFilter(model, { particles: 16, seed: `unbiased-${s}`, resampling: c.resampling, essThreshold: c.essThreshold, temper: c.temper, filteringMeans: false });
        ratios.push(Math.exp(res.logZ - exact));
        logs.push(res.logZ - exact);
        res.dispose();
      }
      const r = meanSd(ratios);
      expect(Math.abs(r.mean - 1)).toBeLessThan(4.5 * (r.sd / Math.sqrt(R)));
      // with 16 particles log Z-hat is visibly biased low (Jensen), so the check above has power
      const l = meanSd(logs);
      expect(l.mean).toBeLessThan(0);
    });
  }
});

describe('guided filter', () => {
  it('with the optimal proposal has lower log Z variance than the bootstrap filter, and is unbiased', async () => {
    // informative observations (r < q): where a proposal that looks at y_t matters
    const ys = simulate(AR, 50, 11);
    const exact = kalmanFilter(linearGaussian1D(AR), ys).logLikelihood;
    const model = linearGaussianStateSpace(AR, ys);
    const proposal = linearGaussianOptimalProposal(AR, ys);
    const R = 20;
    const boot: number[] = [];
    const guided: number[] = [];
    for (let s = 0; s < R; s++) {
      const b = await particleFilter(model, { particles: 100, seed: 500 + s, filteringMeans: false });
      const g = await particleFilter(model, { particles: 100, seed: 500 + s, proposal, filteringMeans: false });
      boot.push(b.logZ);
      guided.push(g.logZ);
      b.dispose();
      g.dispose();
    }
    const vb = meanSd(boot).sd ** 2;
    const g = meanSd(guided);
    // one-sided F test of equal variances at the 0.1% level: F(19, 19) upper 0.1% point is 4.47
    expect(vb / g.sd ** 2).toBeGreaterThan(4.47);
    const ratio = meanSd(guided.map((l) => Math.exp(l - exact)));
    expect(Math.abs(ratio.mean - 1)).toBeLessThan(4.5 * (ratio.sd / Math.sqrt(R)));
  });

  it('names what is missing or misshapen', async () => {
    const ys = [0.1, 0.2];
    const model = linearGaussianStateSpace(RW, ys);
    const proposal = linearGaussianOptimalProposal(RW, ys);
    await expect(particleFilter({ ...model, transitionLogProb: undefined }, { particles: 4, proposal })).rejects.toThrow(/guided filter needs the model's transitionLogProb/);
    await expect(particleFilter({ ...model, transition: (x) => tf.concat([x, x]) }, { particles: 4, seed: 1 })).rejects.toThrow(/transition returned shape \[8\], expected a leading particle axis of 4/);
    const res = await particleFilter(model, { particles: 4, seed: 1 });
    expect(() => ffbsi(model, res, { trajectories: 2 })).toThrow(/keepParticles: true/);
    res.dispose();
  });
});

describe('smoothing', () => {
  it('genealogy and FFBSi smoothing means agree with the RTS smoother within MCSE', async () => {
    const ys = simulate(AR, 20, 99);
    const lg = linearGaussian1D(AR);
    const rts = rtsSmoother(lg, kalmanFilter(lg, ys));
    const model = linearGaussianStateSpace(AR, ys);
    const R = 16;
    const errG: number[][] = ys.map(() => []);
    const errB: number[][] = ys.map(() => []);
    for (let s = 0; s < R; s++) {
      const res = await particleFilter(model, { particles: 300, seed: 900 + s, keepParticles: true });
      const gen = genealogySmoother(res);
      const back = ffbsi(model, res, { trajectories: 100, seed: s });
      expect(back.trajectories[0].length).toBe(100);
      for (let t = 0; t < ys.length; t++) {
        errG[t].push(gen.means[t][0] - rts.means[t][0]);
        errB[t].push(back.means[t][0] - rts.means[t][0]);
      }
      res.dispose();
    }
    for (const errs of [errG, errB]) {
      for (const e of errs) {
        const m = meanSd(e);
        expect(Math.abs(m.mean)).toBeLessThan(5 * (m.sd / Math.sqrt(R)));
      }
    }
  });
});

describe('memory', () => {
  it('a 1000-step bootstrap filter keeps tf.memory().numTensors flat', async () => {
    const ys = simulate(RW, 1000, 5);
    const model = linearGaussianStateSpace(RW, ys);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const res = await particleFilter(model, { particles: 100, seed: 1, onStep: () => void counts.push(tf.memory().numTensors) });
    expect(counts.length).toBe(1000);
    expect(Math.max(...counts)).toBe(counts[0]);
    expect(counts[999]).toBe(counts[0]);
    res.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
