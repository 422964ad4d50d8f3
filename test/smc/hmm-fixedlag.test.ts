/**
 * The forward algorithm (against brute-force enumeration), the discrete-state
 * particle filter against it on posteriordb's hmm_example, and fixed-lag
 * smoothing against the RTS smoother at the same lag.
 */
import { resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { type LinearGaussian1D, hmmForward, hmmStateSpace, kalmanFilter, linearGaussian1D, linearGaussianStateSpace, particleFilter, rtsSmoother } from '../../src/infer/smc/index.js';
import { meanAndSe } from '../../src/diagnostics/empirical.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const lse = (xs: number[]): number => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, v) => s + Math.exp(v - m), 0));
};
const normalLp = (y: number, mu: number, sd: number): number => -0.5 * ((y - mu) / sd) ** 2 - Math.log(sd) - 0.5 * Math.log(2 * Math.PI);


describe('hmmForward', () => {
  it('matches brute-force enumeration of every state path', () => {
    const logInit = [0.2, 0.5, 0.3].map(Math.log);
    const logTrans = [
      [0.7, 0.2, 0.1],
      [0.1, 0.6, 0.3],
      [0.3, 0.3, 0.4],
    ].map((r) => r.map(Math.log));
    const ys = [0.3, 2.1, -0.4, 1.7, 0.9];
    const mus = [-1, 0.5, 2];
    const logEm = ys.map((y) => mus.map((m) => normalLp(y, m, 0.8)));
    const res = hmmForward(logInit, logTrans, logEm);
    const K = 3;
    for (let T = 1; T <= ys.length; T++) {
      // enumerate all K^T paths of the first T steps
      const joint: number[] = [];
      const endMass = [[], [], []] as number[][];
      for (let code = 0; code < K ** T; code++) {
        const z: number[] = [];
        let c = code;
        for (let t = 0; t < T; t++) {
          z.push(c % K);
          c = Math.floor(c / K);
        }
        let lp = logInit[z[0]] + logEm[0][z[0]];
        for (let t = 1; t < T; t++) lp += logTrans[z[t - 1]][z[t]] + logEm[t][z[t]];
        joint.push(lp);
        endMass[z[T - 1]].push(lp);
      }
      const logZT = lse(joint);
      expect(res.logIncrements.slice(0, T).reduce((a, b) => a + b, 0)).toBeCloseTo(logZT, 10);
      for (let k = 0; k < K; k++) expect(res.filtering[T - 1][k]).toBeCloseTo(Math.exp(lse(endMass[k]) - logZT), 10);
    }
    expect(res.logZ).toBeCloseTo(res.logIncrements.reduce((a, b) => a + b, 0), 12);
  });

  it('names bad arguments and handles impossible observations', () => {
    expect(() => hmmForward([0, 0], [[0, 0]], [[0, 0]])).toThrow(/logTrans has 1 rows, expected 2/);
    expect(() => hmmForward([0, NaN], [[0, 0], [0, 0]], [[0, 0]])).toThrow(/logInit\[1\] is NaN/);
    expect(() => hmmForward([0, 0], [[0, 0], [0, 0]], [[0]])).toThrow(/logEmissions row 0 has 1 entries, expected 2/);
    const r = hmmForward([0, 0], [[0, -Infinity], [-Infinity, 0]], [[-Infinity, -Infinity], [0, 0]]);
    expect(r.logZ).toBe(-Infinity);
  });
});

// ../shared beside the checkout (as CI has it); the test skips without it
const HMM_DIR = resolve(process.cwd(), '../shared/posteriordb/hmm_example-hmm_example');

describe('discrete-state particle filter vs the forward algorithm (posteriordb hmm_example)', () => {
  it.skipIf(!existsSync(`${HMM_DIR}/data.json`) || !existsSync(`${HMM_DIR}/reference_draws.json`))(
    'log Z and filtering marginals at the reference posterior means, within MCSE over seeds',
    async () => {
      const data = JSON.parse(readFileSync(`${HMM_DIR}/data.json`, 'utf8')) as { N: number; K: number; y: number[] };
      const draws = JSON.parse(readFileSync(`${HMM_DIR}/reference_draws.json`, 'utf8')) as Record<string, number[]>[];
      const post = (key: string): number => {
        const all = draws.flatMap((c) => c[key]);
        return all.reduce((a, b) => a + b, 0) / all.length;
      };
      const theta = [
        [post('theta1[1]'), post('theta1[2]')],
        [post('theta2[1]'), post('theta2[2]')],
      ];
      const mu = [post('mu[1]'), post('mu[2]')];
      // the Stan model's forward pass starts from unnormalised initial weights 1 (log 0) for each state
      const logInit = [0, 0];
      const logTrans = theta.map((r) => {
        const s = r[0] + r[1];
        return r.map((v) => Math.log(v / s));
      });
      const logEm = data.y.map((y) => mu.map((m) => normalLp(y, m, 1)));
      const exact = hmmForward(logInit, logTrans, logEm);
      const model = hmmStateSpace(logInit, logTrans, logEm);
      const S = 30;
      const ratios: number[] = [];
      const logZs: number[] = [];
      const marg: number[][] = Array.from({ length: data.N }, () => []);
      for (let s = 0; s < S; s++) {
        const res = await particleFilter(model, { particles: 1000, seed: 100 + s });
        res.dispose();
        ratios.push(Math.exp(res.logZ - exact.logZ));
        logZs.push(res.logZ);
        // with states {0, 1} the filtering mean is P(z_t = 1 | y_0..y_t)
        res.filteringMeans.forEach((m, t) => marg[t].push(m[0]));
      }
      const z = meanAndSe(ratios);
      const lz = meanAndSe(logZs);
      console.log(`hmm_example: exact log Z ${exact.logZ.toFixed(4)}; PF (N=1000, ${S} seeds) mean log Z ${lz.mean.toFixed(4)} ± ${lz.se.toFixed(4)}, E[Z-hat/Z] ${z.mean.toFixed(4)} ± ${z.se.toFixed(4)}`);
      expect(Math.abs(z.mean - 1)).toBeLessThan(4.5 * z.se);
      let worst = 0;
      for (let t = 0; t < data.N; t++) {
        const m = meanAndSe(marg[t]);
        const p = exact.filtering[t][1];
        // a marginal of exactly 0 or 1 gives identical estimates: compare directly
        const tol = Math.max(4.5 * m.se, 1e-5);
        worst = Math.max(worst, Math.abs(m.mean - p) / Math.max(m.se, 1e-12));
        expect(Math.abs(m.mean - p)).toBeLessThan(tol);
      }
      console.log(`hmm_example filtering marginals: worst |mean - exact| / MCSE over ${data.N} steps = ${worst.toFixed(2)}`);
    },
  );
});

describe('fixed-lag smoothing', () => {
  const AR: LinearGaussian1D = { m0: 0.5, s0: 1.5, a: 0.9, q: 0.7, h: 1.2, r: 0.5 };
  const T = 25;
  const rng = new Rng(17);
  const ys: number[] = [];
  let x = AR.m0 + AR.s0 * rng.normal();
  for (let t = 0; t < T; t++) {
    if (t > 0) x = 0.9 * x + 0.7 * rng.normal();
    ys.push(1.2 * x + 0.5 * rng.normal());
  }
  const model = linearGaussianStateSpace(AR, ys);
  const lg = linearGaussian1D(AR);

  it('lag 0 is the filter', async () => {
    const res = await particleFilter(model, { particles: 200, seed: 1, fixedLag: 0 });
    res.dispose();
    const fl = res.fixedLag;
    if (!fl) throw new Error('no fixed-lag estimate');
    expect(fl.means.length).toBe(T);
    fl.means.forEach((m, t) => expect(m[0]).toBeCloseTo(res.filteringMeans[t][0], 5));
  });

  it('matches the RTS smoother at lag L, E[x_s | y_0..y_{s+L}], within MCSE over seeds', async () => {
    const L = 3;
    // exact: RTS on the observations up to s + L
    const exactMean: number[] = [];
    const exactVar: number[] = [];
    for (let s = 0; s < T; s++) {
      const upto = ys.slice(0, Math.min(s + L, T - 1) + 1);
      const sm = rtsSmoother(lg, kalmanFilter(lg, upto));
      exactMean.push(sm.means[s][0]);
      exactVar.push(sm.covariances[s][0][0]);
    }
    const S = 20;
    const means: number[][] = Array.from({ length: T }, () => []);
    const vars: number[][] = Array.from({ length: T }, () => []);
    for (let k = 0; k < S; k++) {
      const res = await particleFilter(model, { particles: 2000, seed: 40 + k, fixedLag: L, filteringMeans: false });
      res.dispose();
      const fl = res.fixedLag;
      if (!fl) throw new Error('no fixed-lag estimate');
      expect(fl.means.length).toBe(T);
      for (let s = 0; s < T; s++) {
        means[s].push(fl.means[s][0]);
        vars[s].push(fl.variances[s][0]);
      }
    }
    let worst = 0;
    for (let s = 0; s < T; s++) {
      const m = meanAndSe(means[s]);
      const v = meanAndSe(vars[s]);
      worst = Math.max(worst, Math.abs(m.mean - exactMean[s]) / m.se, Math.abs(v.mean - exactVar[s]) / v.se);
      expect(Math.abs(m.mean - exactMean[s])).toBeLessThan(4.5 * m.se);
      expect(Math.abs(v.mean - exactVar[s])).toBeLessThan(4.5 * v.se);
    }
    console.log(`fixed lag ${L}: worst |estimate - RTS| / MCSE over ${T} times (means and variances) = ${worst.toFixed(2)}`);
  });

  it('rejects a bad lag', async () => {
    await expect(particleFilter(model, { particles: 10, seed: 1, fixedLag: -1 })).rejects.toThrow(/fixedLag must be a non-negative integer/);
  });
});
