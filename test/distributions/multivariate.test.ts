import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { erfcNumber, lgammaNumber, normalCdf, normalCdfNumber, normalCdfTensor, normalIcdf, normalIcdfNumber, normalIcdfTensor } from '../../src/core/special.js';
import type { Value } from '../../src/core/value.js';
import { Categorical } from '../../src/distributions/categorical.js';
import { corrCholesky, real } from '../../src/distributions/constraints.js';
import { Dirichlet } from '../../src/distributions/dirichlet.js';
import { Distribution } from '../../src/distributions/distribution.js';
import { Independent } from '../../src/distributions/independent.js';
import { LKJCholesky, lkjLogNormalizer } from '../../src/distributions/lkj.js';
import { cholesky, choleskyOfInverse, lowerInverse, solveLower } from '../../src/distributions/linalg.js';
import { Mixture, MixtureSameFamily } from '../../src/distributions/mixture.js';
import { MultivariateNormal } from '../../src/distributions/multivariate-normal.js';
import { Normal, NormalDistribution } from '../../src/distributions/normal.js';
import { Truncated } from '../../src/distributions/truncated.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const LOG_2PI = Math.log(2 * Math.PI);
const num = (v: Value): number => (typeof v === 'number' ? v : v.dataSync()[0]);
const arr = (v: Value): Float64Array => (typeof v === 'number' ? Float64Array.of(v) : Float64Array.from(v.dataSync()));
const normalPdf = (x: number, m: number, s: number) => Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));

/** Mean and standard error of the mean of `xs`. */
function meanSe(xs: ArrayLike<number>): { mean: number; se: number; variance: number; m4: number } {
  const n = xs.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += xs[i];
  m /= n;
  let v = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = xs[i] - m;
    v += d * d;
    m4 += d ** 4;
  }
  v /= n - 1;
  m4 /= n;
  return { mean: m, se: Math.sqrt(v / n), variance: v, m4 };
}

/** |sample mean - expected| < 4.5 standard errors. */
function expectMean(xs: ArrayLike<number>, expected: number): void {
  const { mean, se } = meanSe(xs);
  expect(Math.abs(mean - expected)).toBeLessThan(4.5 * se);
}

/** |sample variance - expected| < 4.5 standard errors (se from the sample's fourth moment). */
function expectVariance(xs: ArrayLike<number>, expected: number): void {
  const { variance, m4 } = meanSe(xs);
  const se = Math.sqrt((m4 - variance * variance) / xs.length);
  expect(Math.abs(variance - expected)).toBeLessThan(4.5 * se);
}

/** Column `j` of a row-major [n, d] array. */
function column(a: ArrayLike<number>, d: number, j: number): Float64Array {
  const out = new Float64Array(a.length / d);
  for (let i = 0; i < out.length; i++) out[i] = a[i * d + j];
  return out;
}

// 3x3 inverse and determinant by cofactors, in float64, independent of the library
function det3(m: number[][]): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}
function inv3(m: number[][]): number[][] {
  const d = det3(m);
  const c = (i: number, j: number) => {
    const r = [0, 1, 2].filter((k) => k !== i);
    const s = [0, 1, 2].filter((k) => k !== j);
    return ((i + j) % 2 ? -1 : 1) * (m[r[0]][s[0]] * m[r[1]][s[1]] - m[r[0]][s[1]] * m[r[1]][s[0]]);
  };
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => c(j, i) / d));
}
function mvnLogPdf3(x: number[], mu: number[], cov: number[][]): number {
  const p = inv3(cov);
  const r = x.map((v, i) => v - mu[i]);
  let q = 0;
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) q += r[i] * p[i][j] * r[j];
  return -0.5 * (q + 3 * LOG_2PI + Math.log(det3(cov)));
}

const COV = [
  [2.0, 0.6, -0.4],
  [0.6, 1.0, 0.3],
  [-0.4, 0.3, 1.5],
];
const MU = [1, -2, 0.5];

describe('normal cdf and quantile', () => {
  it('erfc and Phi match reference values', () => {
    expect(erfcNumber(2)).toBeCloseTo(0.004677734981047266, 15);
    expect(erfcNumber(3) / 2.209049699858544e-5 - 1).toBeLessThan(1e-13);
    expect(erfcNumber(10) / 2.088487583762545e-45 - 1).toBeLessThan(1e-13);
    expect(normalCdfNumber(-5) / 2.866515718791939e-7 - 1).toBeLessThan(1e-13);
    expect(normalCdfNumber(1.96)).toBeCloseTo(0.9750021048517795, 14);
    expect(normalIcdfNumber(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect([normalIcdfNumber(0), normalIcdfNumber(1), normalIcdfNumber(-0.1)]).toEqual([-Infinity, Infinity, NaN]);
    expect([normalCdfNumber(-Infinity), normalCdfNumber(Infinity), erfcNumber(-Infinity)]).toEqual([0, 1, 2]);
  });

  it('the quantile inverts the cdf (float64) and the tensor versions agree', () => {
    for (let x = -30; x < 4.5; x += 0.173) expect(Math.abs(normalIcdfNumber(normalCdfNumber(x)) - x)).toBeLessThan(1e-11 * Math.max(1, Math.abs(x)));
    const z = tf.linspace(-9, 9, 301);
    const c = normalCdfTensor(z).dataSync();
    z.dataSync().forEach((v, i) => {
      const e = normalCdfNumber(v);
      // relative accuracy in the lower tail, absolute (float32) in the upper
      expect(Math.abs(c[i] - e)).toBeLessThan(v < 0 ? 2e-5 * e : 2e-7);
    });
    const p = tf.tensor([1e-30, 1e-10, 1e-5, 0.01, 0.3, 0.5, 0.7, 0.975, 0.99, 0.99999]);
    const q = normalIcdfTensor(p).dataSync();
    p.dataSync().forEach((v, i) => expect(Math.abs(q[i] - normalIcdfNumber(v))).toBeLessThan(2e-6));
    const g = tf.grad((t: tf.Tensor) => tf.sum(normalIcdfTensor(t)))(p).dataSync();
    p.dataSync().forEach((v, i) => {
      const x = normalIcdfNumber(v);
      expect(Math.abs(g[i] * normalPdf(x, 0, 1) - 1)).toBeLessThan(1e-4);
    });
  });

  it('Normal.cdf / icdf on numbers and tensors', () => {
    const d = Normal(1, 2);
    expect(d.cdf(1)).toBe(0.5);
    expect(d.cdf(3)).toBeCloseTo(normalCdfNumber(1), 15);
    expect(d.icdf(normalCdfNumber(-1.5))).toBeCloseTo(-2, 12);
    expect(num(normalCdf(tf.scalar(0.5)))).toBeCloseTo(normalCdfNumber(0.5), 6);
    expect(num(normalIcdf(tf.scalar(0.8)))).toBeCloseTo(normalIcdfNumber(0.8), 5);
    const dt = Normal(tf.tensor([0, 1]), 2);
    const c = arr(dt.cdf(tf.tensor([1, 1])));
    expect(c[0]).toBeCloseTo(normalCdfNumber(0.5), 6);
    expect(c[1]).toBeCloseTo(0.5, 6);
  });
});

describe('comparison ops on a gradient path (src/backend/gradients.ts)', () => {
  it('differentiate through tf.where(tf.less(x, 0), ...) with zero gradient for the condition', () => {
    const f = (x: tf.Tensor) => tf.sum(tf.where(tf.logicalAnd(tf.less(x, 0), tf.logicalNot(tf.equal(x, -2))), x, tf.mul(x, 3)));
    expect(Array.from(tf.grad(f)(tf.tensor([-1, -2, 2])).dataSync())).toEqual([1, 3, 3]);
  });
});

describe('linear algebra helpers', () => {
  it('cholesky, triangular solve and inverses agree with float64 references', () => {
    const a = tf.tensor(COV);
    const l = cholesky(a);
    const back = tf.matMul(l, l, false, true).arraySync() as number[][];
    back.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(COV[i][j], 5)));
    const b = tf.tensor([0.3, -1, 2]);
    const z = solveLower(l, b);
    const lb = tf.sum(tf.mul(l, tf.expandDims(z, -2)), -1).dataSync();
    [0.3, -1, 2].forEach((v, i) => expect(lb[i]).toBeCloseTo(v, 5));
    const id = tf.matMul(lowerInverse(l), l).arraySync() as number[][];
    id.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(i === j ? 1 : 0, 5)));
    // factor of the inverse: L L^T = COV^-1
    const li = choleskyOfInverse(a);
    const p = tf.matMul(li, li, false, true).arraySync() as number[][];
    const ref = inv3(COV);
    p.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(ref[i][j], 4)));
    expect((li.arraySync() as number[][])[0][1]).toBe(0);
  });
});

describe('MultivariateNormal', () => {
  it('logProb matches the closed form for each parameterisation', () => {
    const xs = [
      [0.5, -1.5, 1],
      [3, 0, -2],
      [1, -2, 0.5],
    ];
    const byCov = MultivariateNormal(MU, { covariance: COV });
    const byTril = MultivariateNormal(MU, { scaleTril: cholesky(tf.tensor(COV)) });
    const byPrec = MultivariateNormal(MU, { precision: inv3(COV) });
    for (const d of [byCov, byTril, byPrec]) {
      expect(d.batchShape).toEqual([]);
      expect(d.eventShape).toEqual([3]);
      const lp = arr(d.logProb(tf.tensor(xs)));
      xs.forEach((x, i) => expect(Math.abs(lp[i] - mvnLogPdf3(x, MU, COV))).toBeLessThan(1e-4 * Math.max(1, Math.abs(lp[i]))));
    }
    // 2x2, explicit formula
    const c2 = [
      [1.5, -0.7],
      [-0.7, 0.8],
    ];
    const det = c2[0][0] * c2[1][1] - c2[0][1] ** 2;
    const r = [0.4 - 0.1, -1.2 + 0.3];
    const q = (c2[1][1] * r[0] ** 2 - 2 * c2[0][1] * r[0] * r[1] + c2[0][0] * r[1] ** 2) / det;
    expect(num(MultivariateNormal([0.1, -0.3], { covariance: c2 }).logProb(tf.tensor([0.4, -1.2])))).toBeCloseTo(-0.5 * (q + 2 * LOG_2PI + Math.log(det)), 4);
  });

  it('broadcasts batches, gives -Infinity for NaN values, and has the right moments', () => {
    const d = MultivariateNormal([MU, [0, 0, 0]], { covariance: COV });
    expect(d.batchShape).toEqual([2]);
    const lp = arr(d.logProb(tf.tensor([0.5, -1.5, 1])));
    expect(lp[0]).toBeCloseTo(mvnLogPdf3([0.5, -1.5, 1], MU, COV), 4);
    expect(lp[1]).toBeCloseTo(mvnLogPdf3([0.5, -1.5, 1], [0, 0, 0], COV), 4);
    expect(arr(d.logProb(tf.tensor([[NaN, 0, 0], [0, 0, Infinity]])))).toEqual(Float64Array.of(-Infinity, -Infinity));
    expect(arr(d.mean)).toEqual(Float64Array.from([...MU, 0, 0, 0]));
    arr(d.variance).forEach((v, i) => expect(v).toBeCloseTo(COV[i % 3][i % 3], 5));
    const cov = MultivariateNormal(MU, { precision: inv3(COV) }).covariance.arraySync() as number[][];
    cov.forEach((r, i) => r.forEach((v, j) => expect(v).toBeCloseTo(COV[i][j], 4)));
  });

  it('draws have the right mean and covariance (within Monte Carlo error)', () => {
    const n = 20000;
    const x = MultivariateNormal(MU, { covariance: COV }).sample(new Rng(11), [n]) as tf.Tensor;
    expect(x.shape).toEqual([n, 3]);
    const a = x.dataSync();
    for (let i = 0; i < 3; i++) {
      expectMean(column(a, 3, i), MU[i]);
      for (let j = 0; j <= i; j++) {
        const prod = new Float64Array(n);
        for (let s = 0; s < n; s++) prod[s] = (a[s * 3 + i] - MU[i]) * (a[s * 3 + j] - MU[j]);
        // Var[(x_i - mu_i)(x_j - mu_j)] = S_ii S_jj + S_ij^2 for a Gaussian
        const se = Math.sqrt((COV[i][i] * COV[j][j] + COV[i][j] ** 2) / n);
        expect(Math.abs(meanSe(prod).mean - COV[i][j])).toBeLessThan(4.5 * se);
      }
    }
  });

  it('is differentiable in loc (score = precision (x - loc))', () => {
    const x = tf.tensor([0.5, -1.5, 1]);
    const g = tf.grad((loc: tf.Tensor) => MultivariateNormal(loc, { covariance: COV }).logProb(x) as tf.Tensor)(tf.tensor(MU)).dataSync();
    const p = inv3(COV);
    const r = [0.5 - MU[0], -1.5 - MU[1], 1 - MU[2]];
    [0, 1, 2].forEach((i) => expect(g[i]).toBeCloseTo(p[i][0] * r[0] + p[i][1] * r[1] + p[i][2] * r[2], 4));
  });

  it('rejects bad parameters, naming them and their shapes', () => {
    expect(() => MultivariateNormal(MU, { covariance: COV, precision: COV } as never)).toThrow(/exactly one of scaleTril, covariance or precision \(got covariance, precision\)/);
    expect(() => MultivariateNormal(MU, {} as never)).toThrow(/exactly one/);
    expect(() => MultivariateNormal([0, 0], { covariance: COV })).toThrow(/loc has size 2 \(shape \[2\]\) but covariance has shape \[3, 3\]/);
    expect(() => MultivariateNormal(1, { covariance: COV })).toThrow(/loc must be a vector/);
    expect(() => MultivariateNormal([0, 0], { covariance: [1, 2] })).toThrow(/covariance must be a square matrix.*\[2\]/);
    expect(() => MultivariateNormal([0, 0], { covariance: [[1, 2], [2, 1]] })).toThrow(/covariance must be positiveDefinite/);
    expect(() => MultivariateNormal([0, 0], { scaleTril: [[1, 1], [0, 1]] })).toThrow(/scaleTril must be lowerCholesky/);
    expect(() => MultivariateNormal(MU, { covariance: COV }).logProb(tf.tensor([1, 2]))).toThrow(/MultivariateNormal.logProb: expected a value whose last dimension is \[3\]/);
  });
});

describe('Dirichlet', () => {
  const alpha = [2, 3, 0.5];
  const a0 = 5.5;
  const logB = alpha.reduce((s, a) => s + lgammaNumber(a), 0) - lgammaNumber(a0);

  it('logProb matches the closed form; -Infinity off the simplex; no NaN at the boundary', () => {
    const d = Dirichlet(alpha);
    expect(d.eventShape).toEqual([3]);
    const x = [0.2, 0.3, 0.5];
    const ref = x.reduce((s, v, i) => s + (alpha[i] - 1) * Math.log(v), 0) - logB;
    expect(num(d.logProb(tf.tensor(x)))).toBeCloseTo(ref, 4);
    expect(arr(d.logProb(tf.tensor([[0.5, 0.6, -0.1], [0.2, 0.2, 0.2], [NaN, 0.5, 0.5]])))).toEqual(Float64Array.of(-Infinity, -Infinity, -Infinity));
    const flat = Dirichlet([1, 1, 1]);
    expect(num(flat.logProb(tf.tensor([0, 0.5, 0.5])))).toBeCloseTo(Math.log(2), 5);
  });

  it('draws lie on the simplex with the right means', () => {
    const n = 20000;
    const x = Dirichlet(alpha).sample(new Rng(5), [n]) as tf.Tensor;
    expect(x.shape).toEqual([n, 3]);
    const a = x.dataSync();
    for (let s = 0; s < n; s++) {
      const sum = a[3 * s] + a[3 * s + 1] + a[3 * s + 2];
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      expect(Math.min(a[3 * s], a[3 * s + 1], a[3 * s + 2])).toBeGreaterThan(0);
    }
    alpha.forEach((ai, i) => expectMean(column(a, 3, i), ai / a0));
    // tiny concentrations do not collapse to 0/0
    const tiny = Dirichlet([1e-3, 1e-3]).sample(new Rng(1), [100]) as tf.Tensor;
    expect(tiny.dataSync().every((v) => v > 0 && v <= 1)).toBe(true);
  });

  it('reparameterised gradient of E[x_1] matches the analytic derivative', () => {
    // n independent copies of alpha, so each row's gradient is one unbiased estimate
    const n = 4000;
    const rows = tf.tile(tf.tensor([alpha]), [n, 1]);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.slice(Dirichlet(a).sample(new Rng(9)) as tf.Tensor, [0, 0], [n, 1])))(rows).dataSync();
    const expected = [(a0 - alpha[0]) / a0 ** 2, -alpha[0] / a0 ** 2, -alpha[0] / a0 ** 2];
    expected.forEach((e, j) => expectMean(column(g, 3, j), e));
  });

  it('rejects bad concentrations', () => {
    expect(() => Dirichlet([1, -2])).toThrow(/Dirichlet: parameter concentration must be positive/);
    expect(() => Dirichlet(2)).toThrow(/Dirichlet: parameter concentration must be a vector.*2/);
    expect(() => Dirichlet([1, 2]).logProb(tf.tensor([0.2, 0.3, 0.5]))).toThrow(/last dimension is \[2\], got tensor of shape \[3\]/);
  });
});

describe('LKJCholesky', () => {
  /** Correlation matrices C = L L^T of a batch of factors, as nested arrays. */
  const corr = (l: tf.Tensor) => tf.matMul(l, l, false, true).arraySync() as number[][][];

  it('draws are valid correlation Cholesky factors', () => {
    const l = LKJCholesky(4, 1.5).sample(new Rng(2), [500]) as tf.Tensor;
    expect(l.shape).toEqual([500, 4, 4]);
    expect(Array.from((corrCholesky.check(l) as tf.Tensor).dataSync()).every((v) => v === 1)).toBe(true);
    for (const c of corr(l)) for (let i = 0; i < 4; i++) expect(c[i][i]).toBeCloseTo(1, 5);
  });

  it('for D = 2, (r + 1)/2 ~ Beta(eta, eta): moments of r', () => {
    for (const eta of [0.5, 1, 3]) {
      const n = 20000;
      const l = LKJCholesky(2, eta).sample(new Rng(eta * 10), [n]) as tf.Tensor;
      const r = column(l.dataSync(), 4, 2);
      expectMean(r, 0);
      const r2 = r.map((v) => v * v);
      // E r^2 = 1 / (2 eta + 1), E r^4 = 3 / ((2 eta + 1)(2 eta + 3))
      expectMean(r2, 1 / (2 * eta + 1));
      expectMean(r.map((v) => v ** 4), 3 / ((2 * eta + 1) * (2 * eta + 3)));
    }
  });

  it('for D = 3, every off-diagonal correlation has E r^2 = 1 / (2 (eta + 1/2) + 1)', () => {
    const eta = 2;
    const n = 10000;
    const cs = corr(LKJCholesky(3, eta).sample(new Rng(4), [n]) as tf.Tensor);
    for (const [i, j] of [
      [1, 0],
      [2, 0],
      [2, 1],
    ]) {
      expectMean(
        cs.map((c) => c[i][j]),
        0,
      );
      expectMean(
        cs.map((c) => c[i][j] ** 2),
        1 / (2 * (eta + 0.5) + 1),
      );
    }
  });

  it('the density of L integrates to 1 (D = 2 and D = 3)', () => {
    // D = 2: L = [[1, 0], [r, sqrt(1 - r^2)]], density in r; midpoint rule
    for (const eta of [1, 2]) {
      const m = 4000;
      const ls: number[] = [];
      for (let i = 0; i < m; i++) {
        const r = -1 + (2 * (i + 0.5)) / m;
        ls.push(1, 0, r, Math.sqrt(1 - r * r));
      }
      const lp = arr(LKJCholesky(2, eta).logProb(tf.tensor(ls, [m, 2, 2])));
      expect(lp.reduce((s, v) => s + Math.exp(v), 0) * (2 / m)).toBeCloseTo(1, 5);
    }
    // D = 3: coordinates a = L21, (b, c) = (L31, L32) = rho (cos t, sin t); the density does not depend on t
    const eta = 2;
    const na = 200;
    const nr = 200;
    const ls: number[] = [];
    const w: number[] = [];
    for (let i = 0; i < na; i++) {
      const a = -1 + (2 * (i + 0.5)) / na;
      for (let k = 0; k < nr; k++) {
        const rho = (k + 0.5) / nr;
        const b = rho * Math.cos(0.3);
        const c = rho * Math.sin(0.3);
        ls.push(1, 0, 0, a, Math.sqrt(1 - a * a), 0, b, c, Math.sqrt(1 - rho * rho));
        w.push((2 / na) * (1 / nr) * rho * 2 * Math.PI);
      }
    }
    const lp = arr(LKJCholesky(3, eta).logProb(tf.tensor(ls, [na * nr, 3, 3])));
    let total = 0;
    lp.forEach((v, i) => (total += Math.exp(v) * w[i]));
    expect(total).toBeCloseTo(1, 3);
  });

  it('the normaliser agrees with the multivariate-gamma form for D = 2..7', () => {
    // log c_D(eta) = (D-1)/2 log pi + log Gamma_{D-1}(a - 1/2) - (D-1) log Gamma(a), a = eta + (D-1)/2
    const mvlgamma = (a: number, p: number) => ((p * (p - 1)) / 4) * Math.log(Math.PI) + Array.from({ length: p }, (_, j) => lgammaNumber(a - j / 2)).reduce((s, v) => s + v, 0);
    for (let d = 2; d <= 7; d++) {
      for (const eta of [0.3, 1, 2.5]) {
        const a = eta + (d - 1) / 2;
        const ref = 0.5 * (d - 1) * Math.log(Math.PI) + mvlgamma(a - 0.5, d - 1) - (d - 1) * lgammaNumber(a);
        expect(lkjLogNormalizer(d, eta) as number).toBeCloseTo(ref, 9);
      }
    }
  });

  it('gives -Infinity off the support and rejects bad parameters', () => {
    const d = LKJCholesky(2, 1);
    expect(arr(d.logProb(tf.tensor([[[1, 0], [0.5, 0.5]], [[1, 0.1], [0, 1]]])))).toEqual(Float64Array.of(-Infinity, -Infinity));
    expect(() => LKJCholesky(1, 1)).toThrow(/LKJCholesky: parameter dim must be an integer >= 2, got 1/);
    expect(() => LKJCholesky(3, -1)).toThrow(/LKJCholesky: parameter concentration must be positive/);
    expect(() => d.logProb(tf.eye(3))).toThrow(/last 2 dimensions are \[2, 2\], got tensor of shape \[3, 3\]/);
    const batched = LKJCholesky(3, tf.tensor([1, 2]));
    expect(batched.batchShape).toEqual([2]);
    expect((batched.sample(new Rng(1), [5]) as tf.Tensor).shape).toEqual([5, 2, 3, 3]);
    expect(arr(batched.logProb(tf.eye(3))).length).toBe(2);
  });
});

describe('Independent', () => {
  it('moves batch dimensions into the event and sums logProb over them', () => {
    const loc = tf.tensor([
      [0, 1, 2],
      [-1, 0.5, 3],
    ]);
    const base = Normal(loc, 1.5);
    const one = Independent(base, 1);
    expect([one.batchShape, one.eventShape]).toEqual([[2], [3]]);
    const two = Independent(base, 2);
    expect([two.batchShape, two.eventShape]).toEqual([[], [2, 3]]);
    const x = tf.tensor([
      [0.3, 0.2, 1],
      [0, 0, 0],
    ]);
    const per = x.arraySync() as number[][];
    const locs = loc.arraySync() as number[][];
    const rows = per.map((r, i) => r.reduce((s, v, j) => s + Math.log(normalPdf(v, locs[i][j], 1.5)), 0));
    arr(one.logProb(x)).forEach((v, i) => expect(v).toBeCloseTo(rows[i], 4));
    expect(num(two.logProb(x))).toBeCloseTo(rows[0] + rows[1], 4);
    expect((two.sample(new Rng(1), [7]) as tf.Tensor).shape).toEqual([7, 2, 3]);
    expect(two.support.eventDim).toBe(2);
    expect(two.hasRsample).toBe(true);
    expect(Independent(Normal(0, 1), 0).logProb(0.5)).toBeCloseTo(Math.log(normalPdf(0.5, 0, 1)), 12);
    expect(() => Independent(base, 3)).toThrow(/Independent: reinterpretedBatchNdims must be an integer in \[0, 2\] for Normal with batch shape \[2, 3\], got 3/);
  });
});

describe('Mixture', () => {
  const w = [0.3, 0.7];
  const mix = () => Mixture(Categorical(w), [Normal(-1, 0.5), Normal(2, 1)]);
  const pdf = (x: number) => w[0] * normalPdf(x, -1, 0.5) + w[1] * normalPdf(x, 2, 1);

  it('logProb is the log of the weighted sum (numbers stay numbers)', () => {
    const d = mix();
    for (const x of [-3, -1, 0.4, 2, 7]) {
      const lp = d.logProb(x);
      expect(typeof lp).toBe('number');
      expect(lp as number).toBeCloseTo(Math.log(pdf(x)), 12);
    }
    const t = arr(d.logProb(tf.tensor([-1, 0.4, 200])));
    expect(t[0]).toBeCloseTo(Math.log(pdf(-1)), 5);
    expect(t[1]).toBeCloseTo(Math.log(pdf(0.4)), 5);
    expect(Number.isFinite(t[2]) || t[2] === -Infinity).toBe(true);
  });

  it('mean and variance follow the law of total variance; draws match them', () => {
    const d = mix();
    const mean = 0.3 * -1 + 0.7 * 2;
    const variance = 0.3 * (0.25 + 1) + 0.7 * (1 + 4) - mean * mean;
    expect(d.mean as number).toBeCloseTo(mean, 6);
    expect(d.variance as number).toBeCloseTo(variance, 6);
    const rng = new Rng(3);
    const xs = Float64Array.from({ length: 20000 }, () => d.sample(rng) as number);
    expectMean(xs, mean);
    expectVariance(xs, variance);
    const xt = (d.sample(new Rng(4), [20000]) as tf.Tensor).dataSync();
    expectMean(xt, mean);
    expectVariance(xt, variance);
  });

  it('works with batched components and multivariate events', () => {
    const comps = [MultivariateNormal([0, 0], { covariance: [[1, 0], [0, 1]] }), MultivariateNormal([3, 1], { covariance: [[0.5, 0.1], [0.1, 0.4]] })];
    const d = Mixture(Categorical([0.4, 0.6]), comps);
    expect(d.eventShape).toEqual([2]);
    const x = tf.tensor([[0.5, 0.2], [2.5, 1.5]]);
    const ref = arr(x).length && [0, 1].map((i) => Math.log(0.4 * Math.exp(arr(comps[0].logProb(x))[i]) + 0.6 * Math.exp(arr(comps[1].logProb(x))[i])));
    arr(d.logProb(x)).forEach((v, i) => expect(v).toBeCloseTo((ref as number[])[i], 5));
    const s = d.sample(new Rng(2), [20000]) as tf.Tensor;
    expect(s.shape).toEqual([20000, 2]);
    const m = arr(d.mean);
    const v = arr(d.variance);
    [0, 1].forEach((j) => {
      expectMean(column(s.dataSync(), 2, j), m[j]);
      expectVariance(column(s.dataSync(), 2, j), v[j]);
    });
  });

  it('rejects mismatched components', () => {
    expect(() => Mixture(Categorical([0.5, 0.5]), [Normal(0, 1)])).toThrow(/Mixture: mixing has 2 categories but 1 components were given/);
    // batch shapes broadcast (session 9): [] with [2] is a batch of 2; [3] with [2] is refused
    expect(Mixture(Categorical([0.5, 0.5]), [Normal(0, 1), Normal([0, 1], 1)]).batchShape).toEqual([2]);
    expect(() => Mixture(Categorical([0.5, 0.5]), [Normal([0, 1, 2], 1), Normal([0, 1], 1)])).toThrow(/Mixture: batch shapes of .*components\[1\].*do not broadcast/);
    expect(() => Mixture(Categorical([0.5, 0.5]), [Normal(0, 1), Dirichlet([1, 1])])).toThrow(/Mixture: components\[1\] .*has event shape \[2\], but components\[0\] has \[\]/);
    expect(() => Mixture(Normal(0, 1), [Normal(0, 1)])).toThrow(/Mixture: mixing must be a discrete distribution/);
  });
});

describe('MixtureSameFamily', () => {
  const probs = [0.2, 0.5, 0.3];
  const locs = [-2, 0, 3];
  const scales = [0.5, 1, 0.7];
  const make = () => MixtureSameFamily(Categorical(probs), Normal(locs, scales));
  const pdf = (x: number) => probs.reduce((s, p, k) => s + p * normalPdf(x, locs[k], scales[k]), 0);

  it('logProb matches the explicit weighted sum; batch and event shapes', () => {
    const d = make();
    expect([d.batchShape, d.eventShape]).toEqual([[], []]);
    const xs = [-2.5, 0, 1.3, 3];
    arr(d.logProb(tf.tensor(xs))).forEach((v, i) => expect(v).toBeCloseTo(Math.log(pdf(xs[i])), 5));
    expect(num(d.logProb(1.3))).toBeCloseTo(Math.log(pdf(1.3)), 5);
    // batch of two mixtures over the same three components
    const b = MixtureSameFamily(Categorical(tf.tensor([probs, [0.6, 0.2, 0.2]])), Normal(locs, scales));
    expect(b.batchShape).toEqual([2]);
    const lp = arr(b.logProb(tf.tensor([1.3, 1.3])));
    expect(lp[0]).toBeCloseTo(Math.log(pdf(1.3)), 5);
    expect(lp[1]).toBeCloseTo(Math.log([0.6, 0.2, 0.2].reduce((s, p, k) => s + p * normalPdf(1.3, locs[k], scales[k]), 0)), 5);
  });

  it('draws match the mixture mean and variance', () => {
    const d = make();
    const mean = probs.reduce((s, p, k) => s + p * locs[k], 0);
    const second = probs.reduce((s, p, k) => s + p * (scales[k] ** 2 + locs[k] ** 2), 0);
    expect(num(d.mean)).toBeCloseTo(mean, 5);
    expect(num(d.variance)).toBeCloseTo(second - mean * mean, 4);
    const x = (d.sample(new Rng(8), [20000]) as tf.Tensor).dataSync();
    expectMean(x, mean);
    expectVariance(x, second - mean * mean);
  });

  it('mixes multivariate components over their last batch dimension', () => {
    const comp = MultivariateNormal([[0, 0], [3, 1]], { covariance: [[1, 0.2], [0.2, 0.5]] });
    const d = MixtureSameFamily(Categorical([0.25, 0.75]), comp);
    expect([d.batchShape, d.eventShape]).toEqual([[], [2]]);
    const x = tf.tensor([[0.5, 0.2], [2.5, 1.5], [1, 1]]);
    const per = (comp.logProb(tf.expandDims(x, 1)) as tf.Tensor).arraySync() as number[][];
    arr(d.logProb(x)).forEach((v, i) => expect(v).toBeCloseTo(Math.log(0.25 * Math.exp(per[i][0]) + 0.75 * Math.exp(per[i][1])), 5));
    const s = d.sample(new Rng(12), [20000]) as tf.Tensor;
    expect(s.shape).toEqual([20000, 2]);
    const m = arr(d.mean);
    expect(m[0]).toBeCloseTo(2.25, 5);
    [0, 1].forEach((j) => expectMean(column(s.dataSync(), 2, j), m[j]));
    expect(() => MixtureSameFamily(Categorical([0.5, 0.5]), Normal([0, 1, 2], 1))).toThrow(/MixtureSameFamily: mixing has 2 categories but the component's last batch dimension is 3/);
  });
});

describe('Truncated', () => {
  const phi = (z: number) => normalPdf(z, 0, 1);
  /** Mean and variance of Normal(mu, s) truncated to [lo, hi] (closed form). */
  function truncatedMoments(mu: number, s: number, lo: number, hi: number): [number, number] {
    const a = (lo - mu) / s;
    const b = (hi - mu) / s;
    const z = normalCdfNumber(b) - normalCdfNumber(a);
    const pa = Number.isFinite(a) ? phi(a) : 0;
    const pb = Number.isFinite(b) ? phi(b) : 0;
    const apa = Number.isFinite(a) ? a * pa : 0;
    const bpb = Number.isFinite(b) ? b * pb : 0;
    const mean = mu + (s * (pa - pb)) / z;
    const variance = s * s * (1 + (apa - bpb) / z - ((pa - pb) / z) ** 2);
    return [mean, variance];
  }

  it('normalises to 1 and is -Infinity outside the bounds', () => {
    const d = Truncated(Normal(1, 2), { low: 0, high: 3 });
    // Simpson's rule on [0, 3]
    const m = 2000;
    const h = 3 / m;
    let s = 0;
    for (let i = 0; i <= m; i++) s += (i === 0 || i === m ? 1 : i % 2 ? 4 : 2) * Math.exp(d.logProb(i * h) as number);
    expect((s * h) / 3).toBeCloseTo(1, 9);
    expect([d.logProb(-0.1), d.logProb(3.5), d.logProb(NaN)]).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(arr(d.logProb(tf.tensor([-1, 1, 4])))[0]).toBe(-Infinity);
    const lower = Truncated(Normal(0, 1), { low: 1 });
    expect(lower.logProb(1.5) as number).toBeCloseTo(Math.log(phi(1.5) / normalCdfNumber(-1)), 12);
  });

  it('inverse-cdf draws match the truncated-normal mean and variance', () => {
    for (const [lo, hi] of [
      [0, 3],
      [2, Infinity],
      [-Infinity, -1],
    ]) {
      const bounds = { ...(Number.isFinite(lo) ? { low: lo } : {}), ...(Number.isFinite(hi) ? { high: hi } : {}) };
      const d = Truncated(Normal(1, 2), bounds);
      expect(d.usesInverseCdf).toBe(true);
      const [mean, variance] = truncatedMoments(1, 2, lo, hi);
      const rng = new Rng(lo + 10 * hi);
      const xs = Float64Array.from({ length: 20000 }, () => d.sample(rng) as number);
      expect(xs.every((x) => x >= lo && x <= hi)).toBe(true);
      expectMean(xs, mean);
      expectVariance(xs, variance);
      const xt = (d.sample(new Rng(1), [20000]) as tf.Tensor).dataSync();
      expectMean(xt, mean);
    }
  });

  it('inverse-cdf draws are reparameterised: d E[x] / d loc matches the closed form', () => {
    const n = 4000;
    const d = (loc: tf.Tensor) => Truncated(Normal(loc, 2), { low: 0, high: 3 });
    expect(d(tf.zeros([1])).hasRsample).toBe(true);
    // one loc per batch member, so each gradient entry is an independent estimate
    const g = tf.grad((loc: tf.Tensor) => tf.sum(d(loc).sample(new Rng(21)) as tf.Tensor))(tf.fill([n], 1)).dataSync();
    const h = 1e-5;
    const exact = (truncatedMoments(1 + h, 2, 0, 3)[0] - truncatedMoments(1 - h, 2, 0, 3)[0]) / (2 * h);
    expectMean(g, exact);
  });

  it('falls back to rejection for bases without an icdf, with a clear error when it fails; a base without a cdf is refused when built', () => {
    /** A normal with a cdf but no icdf, to exercise the rejection path. */
    class PlainNormal extends Distribution {
      readonly name: string = 'PlainNormal';
      readonly support = real;
      readonly batchShape: readonly number[] = [];
      private readonly n = new NormalDistribution(1, 2);
      sample(rng: Rng, shape?: readonly number[]): Value {
        return this.n.sample(rng, shape);
      }
      logProb(x: Value): Value {
        return this.n.logProb(x);
      }
      override cdf(x: Value): Value {
        return this.n.cdf(x);
      }
    }
    class NoCdfNormal extends PlainNormal {
      override readonly name: string = 'NoCdfNormal';
      override cdf = Distribution.prototype.cdf;
    }
    expect(() => Truncated(new NoCdfNormal(), { low: 0 })).toThrow(/Truncated\(NoCdfNormal\): NoCdfNormal has no cdf/);
    const d = Truncated(new PlainNormal(), { low: 0, high: 3 });
    expect(d.usesInverseCdf).toBe(false);
    const [mean, variance] = truncatedMoments(1, 2, 0, 3);
    const xt = (d.sample(new Rng(6), [20000]) as tf.Tensor).dataSync();
    expectMean(xt, mean);
    expectVariance(xt, variance);
    expect(d.logProb(1)).toBeCloseTo(new NormalDistribution(1, 2).logProb(1) as number - Math.log(normalCdfNumber(1) - normalCdfNumber(-0.5)), 6);
    // 9% of the mass: rejection, which one round cannot finish for a thousand draws
    const narrow = Truncated(new PlainNormal(), { low: 3, high: 4 }, { maxTries: 1 });
    expect(() => narrow.sample(new Rng(1), [1000])).toThrow(/Truncated\(PlainNormal\): rejection sampling found no draw inside \[low, high\] after 1 tries/);
    // the default log-cdf (log of the cdf) underflows at 40: refused when built instead of a density of +Infinity
    expect(() => Truncated(new PlainNormal(), { low: 40, high: 41 })).toThrow(/Truncated\(PlainNormal\): the bounds hold no mass under PlainNormal/);
  });

  it('broadcasts tensor bounds and rejects bad ones', () => {
    const d = Truncated(Normal(tf.tensor([0, 1]), 1), { low: tf.tensor([-1, 0]), high: 2 });
    expect(d.batchShape).toEqual([2]);
    const x = d.sample(new Rng(2), [5000]) as tf.Tensor;
    expect(x.shape).toEqual([5000, 2]);
    const a = x.dataSync();
    expectMean(column(a, 2, 0), truncatedMoments(0, 1, -1, 2)[0]);
    expectMean(column(a, 2, 1), truncatedMoments(1, 1, 0, 2)[0]);
    expect(() => Truncated(Normal(0, 1), { low: 2, high: 1 })).toThrow(/Truncated\(Normal\): parameter low must be below high, got low = 2 and high = 1/);
    expect(() => Truncated(Normal(0, 1), {})).toThrow(/give at least one of low or high/);
    expect(() => Truncated(Categorical([0.5, 0.5]), { low: 0 })).toThrow(/Truncated\(Categorical\): Categorical has no cdf/);
  });
});
