/**
 * The Stan user's toolkit (issue 17): public linear algebra and GP
 * covariances, improper priors, link-scale likelihoods, CDFs for truncation,
 * and the ODE solver. Each numerical check compares against an independent
 * float64 reference written here, and a planted mistake shows the check can
 * fail. One file: tfjs is imported once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { InvalidParameterError } from '../../src/core/errors.js';
import { model } from '../../src/core/model.js';
import { ModelCodeError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { betaincNumber, gammaincNumber, lgammaNumber, normalCdfNumber, studentTCdfNumber } from '../../src/core/special.js';
import { Beta } from '../../src/distributions/beta.js';
import { Binomial } from '../../src/distributions/binomial.js';
import { Cauchy } from '../../src/distributions/cauchy.js';
import { Exponential } from '../../src/distributions/exponential.js';
import { Gamma } from '../../src/distributions/gamma.js';
import { BernoulliLogit, BinomialLogit, NormalIdGlm, PoissonLog } from '../../src/distributions/glm.js';
import { LogNormal } from '../../src/distributions/lognormal.js';
import { Poisson } from '../../src/distributions/poisson.js';
import { HalfStudentT, StudentT } from '../../src/distributions/student-t.js';
import { Truncated } from '../../src/distributions/truncated.js';
import { odeSolve } from '../../src/ode/index.js';
import { bijectTo } from '../../src/transforms/biject-to.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Flat } from '../../src/distributions/improper.js';
import { Normal } from '../../src/distributions/normal.js';
import { infer } from '../../src/infer/registry.js';
import { priorPredictive } from '../../src/testing/simulate.js';
import { rngFrom } from '../../src/core/rng.js';
import { layoutOf, logDensityFn } from '../../src/infer/mcmc/potential.js';
import { TOOLKIT_CASES } from '../mcmc/posteriordb-toolkit-cases.js';
import { momentFailures } from '../helpers/mcse-check.js';
import { cholesky, gpExpQuadCov, gpMatern12Cov, gpMatern32Cov, gpMatern52Cov, gpPeriodicCov, logDet, matMul, matVec, solveTriangular } from '../../src/linalg/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const arr = (t: tf.Tensor): number[] => Array.from(t.dataSync());
const maxAbs = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

// ---- float64 references -------------------------------------------------------------------

function chol64(a: number[][]): number[][] {
  const n = a.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    let d = a[j][j];
    for (let k = 0; k < j; k++) d -= l[j][k] ** 2;
    l[j][j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      l[i][j] = s / l[j][j];
    }
  }
  return l;
}

function solveLower64(l: number[][], b: number[]): number[] {
  const z: number[] = [];
  for (let i = 0; i < b.length; i++) {
    let r = b[i];
    for (let k = 0; k < i; k++) r -= l[i][k] * z[k];
    z.push(r / l[i][i]);
  }
  return z;
}

type Kernel = (d: number, rho: number) => number;
const KERNELS: Record<string, Kernel> = {
  expQuad: (d, r) => Math.exp(-(d * d) / (2 * r * r)),
  matern12: (d, r) => Math.exp(-d / r),
  matern32: (d, r) => (1 + (Math.sqrt(3) * d) / r) * Math.exp((-Math.sqrt(3) * d) / r),
  matern52: (d, r) => (1 + (Math.sqrt(5) * d) / r + (5 * d * d) / (3 * r * r)) * Math.exp((-Math.sqrt(5) * d) / r),
  periodic: (d, r) => Math.exp((-2 * Math.sin((Math.PI * d) / 5) ** 2) / (r * r)),
};

function cov64(k: Kernel, x: number[], alpha: number, rho: number, jitter: number): number[][] {
  return x.map((xi, i) => x.map((xj, j) => alpha * alpha * k(Math.abs(xi - xj), rho) + (i === j ? jitter : 0)));
}

/** GP marginal log density (up to a constant) of y under K: -log det(K)/2 - y^T K^-1 y / 2. */
function gpLogLik64(k: Kernel, x: number[], y: number[], alpha: number, rho: number, jitter: number): number {
  const l = chol64(cov64(k, x, alpha, rho, jitter));
  const z = solveLower64(l, y);
  return -l.reduce((s, r, i) => s + Math.log(r[i]), 0) - 0.5 * z.reduce((s, v) => s + v * v, 0);
}

const X = [0.1, 0.7, 1.3, 2.2, 2.9, 4.0];
const Y = [0.3, -0.2, 0.8, 1.1, 0.1, -0.6];

describe('linear algebra', () => {
  const A = [
    [4, 2, 0.6],
    [2, 3, 0.4],
    [0.6, 0.4, 2],
  ];

  it('cholesky matches a float64 factorisation, and solves/products invert it', () => {
    const before = tf.memory().numTensors;
    tf.engine().startScope();
    const l = cholesky(A);
    expect(maxAbs(arr(l), chol64(A).flat())).toBeLessThan(1e-5);
    const b = [1, -2, 0.5];
    const z = solveTriangular(l, b);
    expect(maxAbs(arr(z), solveLower64(chol64(A), b))).toBeLessThan(1e-5);
    // L^T x = z, so A x = b
    const x = solveTriangular(l, z, { transpose: true });
    expect(maxAbs(arr(matVec(A, x)), b)).toBeLessThan(1e-4);
    // upper-triangular solve with U = L^T, and a matrix right-hand side
    const u = tf.transpose(l);
    const xu = solveTriangular(u, z, { lower: false });
    expect(maxAbs(arr(xu), arr(x))).toBeLessThan(1e-5);
    const bm = tf.tensor2d([
      [1, 0],
      [-2, 1],
      [0.5, 3],
    ]);
    const zm = solveTriangular(l, bm, { matrix: true });
    expect(maxAbs(arr(matMul(l, zm)), arr(bm))).toBeLessThan(1e-5);
    // log det A = 2 sum log diag L
    const ld = Math.log(4 * (3 * 2 - 0.4 * 0.4) - 2 * (2 * 2 - 0.4 * 0.6) + 0.6 * (2 * 0.4 - 3 * 0.6));
    expect(logDet(A).dataSync()[0]).toBeCloseTo(ld, 5);
    tf.engine().endScope();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a matrix that is not positive definite is refused naming its shape; jitter mends a singular one', () => {
    const singular = [
      [1, 1],
      [1, 1],
    ];
    expect(() => cholesky(singular)).toThrow(InvalidParameterError);
    expect(() => cholesky(singular)).toThrow(/matrix of shape \[2, 2\] is not positive definite/);
    const l = cholesky(singular, { jitter: 1e-3 });
    expect(arr(l).every(Number.isFinite)).toBe(true);
    expect(() => cholesky([1, 2, 3])).toThrow(/shape \[\.\.\., n, n\], got shape \[3\]/);
    expect(() => solveTriangular(l, [1, 2, 3])).toThrow(/right-hand side of shape \[3\]/);
    expect(() => matVec(l, [1, 2, 3])).toThrow(/\[2, 2\] cannot multiply a vector of shape \[3\]/);
    l.dispose();
  });

  it('batched matrices factorise one by one', () => {
    const batch = tf.stack([tf.tensor2d(A), tf.mul(2, tf.tensor2d(A))]);
    const l = cholesky(batch);
    expect(l.shape).toEqual([2, 3, 3]);
    const l2 = chol64(A.map((r) => r.map((v) => 2 * v))).flat();
    expect(maxAbs(arr(l).slice(9), l2)).toBeLessThan(1e-5);
    tf.dispose([batch, l]);
  });
});

describe('GP covariance functions', () => {
  const cases: [string, (x: number[], a: number | tf.Tensor, r: number | tf.Tensor, o?: { jitter?: number }) => tf.Tensor][] = [
    ['expQuad', gpExpQuadCov],
    ['matern12', gpMatern12Cov],
    ['matern32', gpMatern32Cov],
    ['matern52', gpMatern52Cov],
    ['periodic', (x, a, r, o) => gpPeriodicCov(x, a, r, 5, o)],
  ];

  it.each(cases)('%s matches its formula, with jitter on the diagonal', (name, fn) => {
    const k = fn(X, 1.3, 0.9, { jitter: 1e-6 });
    expect(maxAbs(arr(k), cov64(KERNELS[name], X, 1.3, 0.9, 1e-6).flat())).toBeLessThan(1e-5);
    k.dispose();
  });

  it.each(cases)('%s: gradient of the GP log likelihood in (alpha, rho) matches float64 finite differences', (name, fn) => {
    const alpha = tf.scalar(1.3);
    const rho = tf.scalar(0.9);
    const y = tf.tensor1d(Y);
    const f = (a: tf.Tensor, r: tf.Tensor): tf.Scalar => {
      const l = cholesky(fn(X, a, r, { jitter: 1e-4 }));
      const z = solveTriangular(l, y);
      return tf.sub(tf.neg(tf.sum(tf.log(tf.sum(tf.mul(l, tf.eye(X.length)), -1)))), tf.mul(0.5, tf.sum(tf.square(z)))) as tf.Scalar;
    };
    const [ga, gr] = tf.grads(f)([alpha, rho]);
    const h = 1e-6;
    const ll = (a: number, r: number) => gpLogLik64(KERNELS[name], X, Y, a, r, 1e-4);
    const fdA = (ll(1.3 + h, 0.9) - ll(1.3 - h, 0.9)) / (2 * h);
    const fdR = (ll(1.3, 0.9 + h) - ll(1.3, 0.9 - h)) / (2 * h);
    // float32 gradients: relative error a few 1e-4 on this well-conditioned matrix
    expect(Math.abs(ga.dataSync()[0] - fdA)).toBeLessThan(2e-3 * (1 + Math.abs(fdA)));
    expect(Math.abs(gr.dataSync()[0] - fdR)).toBeLessThan(2e-3 * (1 + Math.abs(fdR)));
    // and the value agrees
    expect(f(alpha, rho).dataSync()[0]).toBeCloseTo(ll(1.3, 0.9), 3);
    tf.dispose([alpha, rho, y, ga, gr]);
  });

  it('planted: a kernel missing the factor 2 of exp(-d^2 / (2 rho^2)) fails the formula check', () => {
    const wrong = (x: number[], a: number, r: number) => tf.mul(a * a, tf.exp(tf.neg(tf.div(tf.square(tf.sub(tf.expandDims(tf.tensor1d(x), 1), tf.expandDims(tf.tensor1d(x), 0))), r * r))));
    const k = wrong(X, 1.3, 0.9);
    expect(maxAbs(arr(k), cov64(KERNELS.expQuad, X, 1.3, 0.9, 0).flat())).toBeGreaterThan(1e-2);
    k.dispose();
  });

  it('batched hyperparameters give a batch of matrices; cross-covariances have shape [N, M]; bad input is named', () => {
    const k = gpExpQuadCov(X, tf.tensor1d([1, 2]), tf.tensor1d([0.5, 0.5]));
    expect(k.shape).toEqual([2, 6, 6]);
    expect(arr(k)[36]).toBeCloseTo(4, 5);
    const c = gpMatern32Cov([[0], [1]], 1, 1, { x2: [[0], [1], [2]] });
    expect(c.shape).toEqual([2, 3]);
    expect(() => gpExpQuadCov(X, 1, -1)).toThrow(/gpExpQuadCov: rho must be positive/);
    expect(() => gpExpQuadCov(X, 1, 1, { jitter: -1 })).toThrow(/jitter/);
    expect(() => gpExpQuadCov([[[1]]] as unknown as number[], 1, 1)).toThrow(/points of shape \[N\] or \[N, D\], got shape \[1, 1, 1\]/);
    tf.dispose([k, c]);
  });
});

describe('improper priors (Flat)', () => {
  const ys = [0.3, 1.9, 2.4, 1.1, 0.7, 1.6, -0.2, 0.9, 1.4, 2.0];
  const n = ys.length;
  const ybar = ys.reduce((a, b) => a + b, 0) / n;
  const S = ys.reduce((a, y) => a + y * y, 0);
  // mu ~ flat, y ~ N(mu, 0.8): mu | y ~ N(ybar, 0.8 / sqrt(n))
  const flatMean = model(async ({ sample, observe }, data: number[]) => {
    const mu = await sample('mu', Flat());
    await observe('y', Normal(mu, 0.8).expand([data.length]), data);
  });
  // sigma ~ flat on (0, inf), y ~ N(0, sigma): p(sigma | y) ∝ sigma^-n exp(-S / (2 sigma^2))
  const flatScale = model(async ({ sample, observe }, data: number[]) => {
    const sigma = await sample('sigma', Flat({ low: 0 }));
    await observe('y', Normal(0, sigma).expand([data.length]), data);
  });
  const eSigma = Math.sqrt(S / 2) * Math.exp(lgammaNumber((n - 2) / 2) - lgammaNumber((n - 1) / 2));
  const sigmaExact = { mean: eSigma, sd: Math.sqrt(S / (n - 3) - eSigma ** 2) };
  // p ~ flat on (0, 1), 7 successes in 10: p | y ~ Beta(8, 4)
  const flips = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1];
  const flatProb = model(async ({ sample, observe }, data: number[]) => {
    const p = await sample('p', Flat({ low: 0, high: 1 }));
    await observe('y', Bernoulli(p).expand([data.length]), data);
  });

  it('log density 0 on the support, -Infinity outside; shapes and bad options are named', () => {
    expect(Flat().logProb(3)).toBe(0);
    expect(Flat({ low: 0 }).logProb(-1)).toBe(-Infinity);
    const v = Flat({ shape: [3], high: 1 }).logProb(tf.tensor2d([[0, 0.5, -4], [0, 2, 0]])) as tf.Tensor;
    expect(Array.from(v.dataSync())).toEqual([0, -Infinity]);
    expect(() => Flat({ shape: [3] }).logProb(tf.zeros([2]))).toThrow(/event shape \[3\], got shape \[2\]/);
    expect(() => Flat({ low: 1, high: 0 })).toThrow(/low must be below high/);
    expect(() => Flat({ shape: [0] })).toThrow(/positive integers/);
    v.dispose();
  });

  it('NUTS recovers the posteriors under flat, lower-bounded and interval priors (within 4 MCSE)', async () => {
    const a = await infer(flatMean, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 21 }, ys);
    expect(momentFailures(a, { mu: { mean: ybar, sd: 0.8 / Math.sqrt(n) } })).toEqual([]);
    const b = await infer(flatScale, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 22 }, ys);
    expect(momentFailures(b, { sigma: sigmaExact })).toEqual([]);
    const c = await infer(flatProb, { method: 'nuts', chains: 4, warmup: 300, samples: 500, seed: 23 }, flips);
    expect(momentFailures(c, { p: { mean: 8 / 12, sd: Math.sqrt((8 * 4) / (12 * 12 * 13)) } })).toEqual([]);
    // planted: the same draws against a posterior sd 25% too wide fail
    expect(momentFailures(a, { mu: { mean: ybar, sd: 1.25 * 0.8 / Math.sqrt(n) } }).length).toBeGreaterThan(0);
  });

  it('engines that draw from the prior refuse, naming the site', async () => {
    const msg = /improper prior at site "mu" cannot be sampled/;
    await expect(infer(flatMean, { method: 'importance', particles: 10, seed: 1 }, ys)).rejects.toThrow(msg);
    await expect(infer(flatMean, { method: 'smc', particles: 10, seed: 1 }, ys)).rejects.toThrow(msg);
    await expect(Promise.resolve(priorPredictive(flatMean, [ys])(new (await import('../../src/core/rng.js')).Rng(1), 0))).rejects.toThrow(msg);
  });
});

/** Composite Simpson's rule with n (even) intervals, float64. */
function simpson(f: (x: number) => number, a: number, b: number, n = 20000): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}
const tDensity = (df: number, t: number): number => Math.exp(lgammaNumber((df + 1) / 2) - lgammaNumber(df / 2) - 0.5 * Math.log(df * Math.PI) - ((df + 1) / 2) * Math.log1p((t * t) / df));
const betaDensity = (a: number, b: number, x: number): number => Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - lgammaNumber(a) - lgammaNumber(b) + lgammaNumber(a + b));

describe('CDFs for truncation', () => {
  const ts = [-30, -4.2, -1, -0.3, 0, 0.05, 0.7, 2.5, 9, 55];

  it('Student-t cdf: closed forms for df = 1..4 and Simpson integration for df = 3.7 (float64, 1e-9)', () => {
    const closed: Record<number, (t: number) => number> = {
      1: (t) => 0.5 + Math.atan(t) / Math.PI,
      2: (t) => 0.5 + t / (2 * Math.sqrt(2 + t * t)),
      3: (t) => 0.5 + (t / (Math.sqrt(3) * (1 + (t * t) / 3)) + Math.atan(t / Math.sqrt(3))) / Math.PI,
      4: (t) => 0.5 + ((3 / 8) * (t / Math.sqrt(1 + (t * t) / 4))) * (1 - (t * t) / (12 * (1 + (t * t) / 4))),
    };
    for (const [df, F] of Object.entries(closed)) for (const t of ts) expect(Math.abs(studentTCdfNumber(Number(df), t) - F(t)), `df ${df}, t ${t}`).toBeLessThan(1e-9);
    for (const t of ts.filter((v) => Math.abs(v) < 10)) {
      const ref = 0.5 + Math.sign(t) * simpson((u) => tDensity(3.7, u), 0, Math.abs(t));
      expect(Math.abs(studentTCdfNumber(3.7, t) - ref), `t ${t}`).toBeLessThan(1e-9);
    }
  });

  it('incomplete beta: closed forms and Simpson integration (float64, 1e-9)', () => {
    for (const x of [0.001, 0.1, 0.37, 0.5, 0.8, 0.999]) {
      expect(Math.abs(betaincNumber(2.5, 1, x) - x ** 2.5)).toBeLessThan(1e-12);
      expect(Math.abs(betaincNumber(1, 3.2, x) - (1 - (1 - x) ** 3.2))).toBeLessThan(1e-12);
      expect(Math.abs(betaincNumber(2, 2, x) - (3 * x * x - 2 * x ** 3))).toBeLessThan(1e-12);
      expect(Math.abs(betaincNumber(2.5, 3.7, x) - simpson((u) => betaDensity(2.5, 3.7, u), 0, x))).toBeLessThan(1e-9);
    }
    // planted: a beta cdf with the concentrations swapped misses the reference
    expect(Math.abs(betaincNumber(3.7, 2.5, 0.37) - simpson((u) => betaDensity(2.5, 3.7, u), 0, 0.37))).toBeGreaterThan(1e-3);
  });

  it('family cdfs (numbers and float32 tensors) match references to 1e-6', () => {
    const cases: [string, { cdf(x: number | tf.Tensor): number | tf.Tensor }, number[], (x: number) => number][] = [
      ['StudentT(3, 0, 10)', StudentT(3, 0, 10), [-25, -3, 0, 4, 40], (x) => studentTCdfNumber(3, x / 10)],
      ['Beta(2, 2)', Beta(2, 2), [-1, 0.2, 0.5, 0.9, 2], (x) => (x <= 0 ? 0 : x >= 1 ? 1 : 3 * x * x - 2 * x ** 3)],
      ['Cauchy(1, 2)', Cauchy(1, 2), [-10, 0, 1, 3, 50], (x) => 0.5 + Math.atan((x - 1) / 2) / Math.PI],
      ['Gamma(2, 3)', Gamma(2, 3), [0.01, 0.3, 1, 4], (x) => 1 - Math.exp(-3 * x) * (1 + 3 * x)],
      ['LogNormal(0.5, 0.8)', LogNormal(0.5, 0.8), [0.1, 1, 2.5, 10], (x) => normalCdfNumber((Math.log(x) - 0.5) / 0.8)],
      ['Exponential(1.7)', Exponential(1.7), [0, 0.2, 1, 5], (x) => 1 - Math.exp(-1.7 * x)],
      ['HalfStudentT(3, 10)', HalfStudentT(3, 10), [0, 3, 15, 100], (x) => 2 * studentTCdfNumber(3, x / 10) - 1],
    ];
    for (const [name, d, xs, ref] of cases) {
      for (const x of xs) expect(Math.abs((d.cdf(x) as number) - ref(x)), `${name} at ${x}`).toBeLessThan(1e-6);
      const t = d.cdf(tf.tensor1d(xs)) as tf.Tensor;
      expect(maxAbs(arr(t), xs.map(ref)), `${name} (tensor)`).toBeLessThan(1e-6);
      t.dispose();
    }
    expect(gammaincNumber(2, 3) - (1 - Math.exp(-3) * 4)).toBeLessThan(1e-12);
  });

  it('Student-t cdf gradients in x, loc, scale and df match float64 finite differences', () => {
    const F = (x: number, loc: number, scale: number, df: number) => studentTCdfNumber(df, (x - loc) / scale);
    const p = [2.3, 0.4, 1.7, 3.5];
    const g = tf.grads((x: tf.Tensor, loc: tf.Tensor, scale: tf.Tensor, df: tf.Tensor) => StudentT(df, loc, scale).cdf(x) as tf.Tensor)(p.map((v) => tf.scalar(v)));
    const h = 1e-5;
    p.forEach((_, k) => {
      const up = p.slice();
      const dn = p.slice();
      up[k] += h;
      dn[k] -= h;
      const fd = (F(up[0]!, up[1]!, up[2]!, up[3]!) - F(dn[0]!, dn[1]!, dn[2]!, dn[3]!)) / (2 * h);
      expect(Math.abs(g[k]!.dataSync()[0]! - fd), `argument ${k}`).toBeLessThan(1e-4 * (1 + Math.abs(fd)));
    });
    tf.dispose(g);
  });

  it('Truncated(StudentT(3, 0, 10), { low: 0 }) builds, scores as HalfStudentT(3, 10) and samples by rejection', () => {
    const tr = Truncated(StudentT(3, 0, 10), { low: 0 });
    const half = HalfStudentT(3, 10);
    for (const x of [0.5, 4, 30]) expect(tr.logProb(x) as number).toBeCloseTo(half.logProb(x) as number, 9);
    expect(tr.logProb(-1)).toBe(-Infinity);
    // a one-sided truncation maps to unconstrained space by exp (regression: an interval [0, Infinity] mapped everything to Infinity)
    const onto = bijectTo(tr.support).forward(tf.tensor1d([-1, 0.1, 2])) as tf.Tensor;
    expect(maxAbs(arr(onto), [Math.exp(-1), Math.exp(0.1), Math.exp(2)])).toBeLessThan(1e-5);
    onto.dispose();
    const xs = tr.sample(new Rng(5), [4000]) as tf.Tensor;
    expect(arr(xs).every((v) => v >= 0)).toBe(true);
    xs.dispose();
  });

  it('HalfStudentT(5, 2): mean and variance formulas agree with 40000 draws within 4 MCSE; planted: a mean without the factor 2 is caught', () => {
    const d = HalfStudentT(5, 2);
    const draws = arr(d.sample(new Rng(11), [40000]) as tf.Tensor);
    const n = draws.length;
    const m = draws.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(draws.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1));
    const mean = d.mean as number;
    expect(Math.abs(m - mean)).toBeLessThan((4 * sd) / Math.sqrt(n));
    expect(Math.abs(sd * sd - (d.variance as number)) / (d.variance as number)).toBeLessThan(0.05); // heavy tails: E[X^4] is infinite-ish at df = 5, so a loose relative check
    expect(Math.abs(m - mean / 2)).toBeGreaterThan((4 * sd) / Math.sqrt(n));
  });

  it('a family without a cdf is refused when Truncated is built, naming it (and the last site inside a model)', async () => {
    expect(() => Truncated(Flat(), { low: 0 })).toThrow(/Truncated\(Flat\): Flat has no cdf/);
    const m = model(async ({ sample }) => {
      await sample('a', Normal(0, 1));
      await sample('b', Truncated(Flat(), { low: 0 }));
    });
    const err = await infer(m, { method: 'nuts', chains: 1, warmup: 10, samples: 10, seed: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelCodeError);
    expect(String((err as Error).message)).toMatch(/after site "a".*Flat has no cdf/s);
  });
});

describe('link-scale likelihoods', () => {
  it('PoissonLog equals Poisson(exp(alpha)) and stays finite where exp(alpha) underflows float32', () => {
    for (const [a, k] of [[0.3, 2], [2.1, 7], [-1, 0]] as const) expect(PoissonLog(a).logProb(k) as number).toBeCloseTo(Poisson(Math.exp(a)).logProb(k) as number, 10);
    const lp = PoissonLog(tf.tensor1d([-120, 1.5])).logProb(tf.tensor1d([3, 2])) as tf.Tensor;
    expect(maxAbs(arr(lp), [3 * -120 - Math.log(6), 2 * 1.5 - Math.exp(1.5) - Math.log(2)])).toBeLessThan(1e-4);
    const naive = Poisson(tf.exp(tf.tensor1d([-120]))).logProb(tf.tensor1d([3])) as tf.Tensor;
    expect(arr(naive)[0]).toBe(-Infinity); // what PoissonLog avoids
    expect(PoissonLog(1).logProb(-1)).toBe(-Infinity);
    tf.dispose([lp, naive]);
  });

  it('BernoulliLogit and BinomialLogit match closed forms, also at large logits', () => {
    const lp = BernoulliLogit(tf.tensor1d([30, -2])).logProb(tf.tensor1d([0, 1])) as tf.Tensor;
    expect(maxAbs(arr(lp), [-30 - Math.log1p(Math.exp(-30)), -2 - Math.log1p(Math.exp(-2))])).toBeLessThan(1e-4);
    const p = 1 / (1 + Math.exp(-0.3));
    const logChoose = lgammaNumber(11) - lgammaNumber(5) - lgammaNumber(7);
    expect(BinomialLogit(10, 0.3).logProb(4) as number).toBeCloseTo(logChoose + 4 * Math.log(p) + 6 * Math.log(1 - p), 8);
    expect(BinomialLogit(10, 0.3).logProb(4) as number).toBeCloseTo(Binomial(10, p).logProb(4) as number, 8);
    lp.dispose();
  });

  it('NormalIdGlm equals the sum of Normal log densities, batches over coefficient rows, and names bad shapes', () => {
    const X = [
      [1, 0.5],
      [0.2, -1],
      [3, 2],
    ];
    const y = [1.1, -0.4, 4.2];
    const ref = (alpha: number, b: number[], sigma: number) =>
      X.reduce((s, row, i) => {
        const mu = alpha + row[0]! * b[0]! + row[1]! * b[1]!;
        return s - Math.log(sigma) - 0.5 * Math.log(2 * Math.PI) - (y[i]! - mu) ** 2 / (2 * sigma * sigma);
      }, 0);
    const one = NormalIdGlm(X, 0.3, [0.8, 0.4], 0.7).logProb(tf.tensor1d(y)) as tf.Tensor;
    expect(one.shape).toEqual([]);
    expect(arr(one)[0]).toBeCloseTo(ref(0.3, [0.8, 0.4], 0.7), 4);
    const rows = NormalIdGlm(tf.tensor2d(X), tf.tensor1d([0.3, -0.2]), tf.tensor2d([[0.8, 0.4], [1, 0]]), tf.tensor1d([0.7, 1.3]));
    expect(rows.batchShape).toEqual([2]);
    expect(rows.eventShape).toEqual([3]);
    const lp = rows.logProb(tf.tensor1d(y)) as tf.Tensor;
    expect(maxAbs(arr(lp), [ref(0.3, [0.8, 0.4], 0.7), ref(-0.2, [1, 0], 1.3)])).toBeLessThan(1e-4);
    // planted: a density that forgets the 1/2 in the quadratic term misses the reference
    expect(Math.abs(arr(one)[0]! - (ref(0.3, [0.8, 0.4], 0.7) - X.reduce((s, r, i) => s - (y[i]! - 0.3 - r[0]! * 0.8 - r[1]! * 0.4) ** 2 / (2 * 0.49), 0)))).toBeGreaterThan(1e-2);
    expect(() => NormalIdGlm(X, 0, [1, 2, 3], 1)).toThrow(/beta must have shape \[\.\.\., 2\] to fit x of shape \[3, 2\], got shape \[3\]/);
    expect(() => NormalIdGlm(X, 0, [1, 2], 1).logProb(tf.tensor1d([1, 2]))).toThrow(/y must have shape \[\.\.\., 3\]/);
    tf.dispose([one, lp]);
  });
});

describe('odeSolve', () => {
  const ts = [0.5, 1, 2, 3.5, 5];
  const decay = (_t: number, y: Float64Array, p: Float64Array) => [-p[0]! * y[0]!];
  const oscillator = (_t: number, y: Float64Array, p: Float64Array) => [y[1]!, -p[0]! * p[0]! * y[0]!];

  it.each(['rk45', 'rosenbrock'] as const)('%s: exponential decay and its gradients in y0 and k match the closed form', (method) => {
    const before = tf.memory().numTensors;
    const y0 = tf.tensor1d([2]);
    const k = tf.tensor1d([0.7]);
    const rtol = method === 'rk45' ? 1e-8 : 1e-7;
    const y = odeSolve(decay, y0, 0, ts, k, { method, rtol, atol: 1e-10 });
    expect(y.shape).toEqual([5, 1]);
    // order 5 (rk45) and order 2 (rosenbrock) at these tolerances: global errors below 2e-6 and 2e-5
    expect(maxAbs(arr(y), ts.map((t) => 2 * Math.exp(-0.7 * t)))).toBeLessThan(method === 'rk45' ? 2e-6 : 2e-5);
    // gradient of sum_t w_t y(t)
    const w = ts.map((_, i) => 1 + i);
    const [g0, gk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.reshape(odeSolve(decay, a, 0, ts, b, { method, rtol, atol: 1e-10 }), [-1]), tf.tensor1d(w))))([y0, k]);
    const e0 = ts.reduce((s, t, i) => s + w[i]! * Math.exp(-0.7 * t), 0);
    const ek = ts.reduce((s, t, i) => s + w[i]! * -t * 2 * Math.exp(-0.7 * t), 0);
    expect(Math.abs(g0!.dataSync()[0]! - e0)).toBeLessThan(1e-4 * Math.abs(e0));
    expect(Math.abs(gk!.dataSync()[0]! - ek)).toBeLessThan(1e-4 * Math.abs(ek));
    tf.dispose([y0, k, y, g0!, gk!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rk45: harmonic oscillator and d x(t) / d omega match the closed form', () => {
    const x = (t: number, om: number) => 1 * Math.cos(om * t) + (0.5 / om) * Math.sin(om * t);
    const dxdom = (t: number, om: number) => -t * Math.sin(om * t) - (0.5 / (om * om)) * Math.sin(om * t) + (0.5 / om) * t * Math.cos(om * t);
    const y = odeSolve(oscillator, [1, 0.5], 0, ts, [1.3], { rtol: 1e-9, atol: 1e-9 });
    expect(maxAbs(arr(y).filter((_, i) => i % 2 === 0), ts.map((t) => x(t, 1.3)))).toBeLessThan(1e-6);
    const g = tf.grad((om: tf.Tensor) => tf.sum(tf.slice(odeSolve(oscillator, [1, 0.5], 0, ts, om, { rtol: 1e-9, atol: 1e-9 }), [0, 0], [5, 1])))(tf.tensor1d([1.3]));
    const exact = ts.reduce((s, t) => s + dxdom(t, 1.3), 0);
    expect(Math.abs(g.dataSync()[0]! - exact)).toBeLessThan(1e-5 * (1 + Math.abs(exact)));
    // planted: the gradient of a solve with omega 1% off misses the exact derivative by more than the tolerance
    const off = tf.grad((om: tf.Tensor) => tf.sum(tf.slice(odeSolve(oscillator, [1, 0.5], 0, ts, tf.mul(om, 1.01), { rtol: 1e-9, atol: 1e-9 }), [0, 0], [5, 1])))(tf.tensor1d([1.3]));
    expect(Math.abs(off.dataSync()[0]! - exact)).toBeGreaterThan(1e-5 * (1 + Math.abs(exact)));
    tf.dispose([y, g, off]);
  });

  it('a stiff problem: rk45 runs out of steps (rejecting the point), rosenbrock solves it', () => {
    // y1' = -y1, y2' = -lambda y2 + (lambda - 1) y1: eigenvalues -1 and -lambda; y1 = e^-t, y2 = e^-t + (y2(0) - y1(0)) e^(-lambda t)
    const lambda = 1e4;
    const stiff = (_t: number, y: Float64Array) => [-y[0]!, -lambda * y[1]! + (lambda - 1) * y[0]!];
    const exact = (t: number) => [Math.exp(-t), Math.exp(-t) + Math.exp(-lambda * t)];
    expect(() => odeSolve(stiff, [1, 2], 0, [1, 2], [], { maxSteps: 2000 })).toThrow(InvalidParameterError);
    expect(() => odeSolve(stiff, [1, 2], 0, [1, 2], [], { maxSteps: 2000 })).toThrow(/more than maxSteps = 2000 steps .* try method 'rosenbrock'/);
    const y = odeSolve(stiff, [1, 2], 0, [1, 2], [], { method: 'rosenbrock', maxSteps: 2000, rtol: 1e-8, atol: 1e-10 });
    expect(maxAbs(arr(y), [...exact(1), ...exact(2)])).toBeLessThan(1e-5);
    y.dispose();
  });

  it('batches broadcast (one solve per member), and bad input and abort are named', () => {
    const y = odeSolve(decay, [1], 0, [1, 2], tf.tensor2d([[0.1], [0.5], [1]]));
    expect(y.shape).toEqual([3, 2, 1]);
    expect(maxAbs(arr(y), [0.1, 0.5, 1].flatMap((k) => [Math.exp(-k), Math.exp(-2 * k)]))).toBeLessThan(1e-5);
    expect(() => odeSolve(decay, [1], 0, [1, 1], [0.1])).toThrow(/ts must be finite, strictly increasing and after t0 = 0/);
    expect(() => odeSolve(decay, [1], 0, [1], [0.1], { method: 'euler' as never })).toThrow(/unknown method 'euler'/);
    const ac = new AbortController();
    ac.abort();
    expect(() => odeSolve(decay, [1], 0, [1], [0.1], { signal: ac.signal })).toThrow(/aborted/);
    y.dispose();
  });
});

describe('posteriordb translations (one chain, default tier)', () => {
  it.each(TOOLKIT_CASES.map((c) => [c.name, c] as const))('%s: finite log density, gradient matching central differences', async (_name, c) => {
    const args = c.args() as never[];
    const { layout } = await layoutOf(c.model, args, rngFrom(3));
    const f = logDensityFn(c.model, args, layout);
    // a point near the prior's centre on the unconstrained scale
    const q = Float64Array.from({ length: layout.dim }, (_, i) => 0.1 * ((i % 3) - 1));
    const r = await f(q);
    expect(Number.isFinite(r.logp)).toBe(true);
    for (let i = 0; i < layout.dim; i++) {
      const h = 1e-2;
      const up = q.slice();
      const dn = q.slice();
      up[i] += h;
      dn[i] -= h;
      const fd = ((await f(up)).logp - (await f(dn)).logp) / (2 * h);
      // float32 log densities and an O(h^2) difference: 2% of the scale of the gradient
      expect(Math.abs(r.grad[i]! - fd), `${layout.names[i]}: ${r.grad[i]} vs ${fd}`).toBeLessThan(0.02 * (1 + Math.abs(fd)));
    }
  });
});
