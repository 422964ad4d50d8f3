/**
 * The low-rank-plus-diagonal metric (metric-lowrank.ts, metric-lowrank-fit.ts,
 * eigen.ts): the eigen-solvers against known spectra; the metric's products
 * (M M^{-1} = I, R R^T = M, the bilinear form) to 1e-10; the fit on exact
 * Gaussian draws; one NUTS transition from exact draws keeps a 200-d
 * Gaussian with 3 strong directions (planted bug: momenta drawn with the
 * inverse metric off by a factor 4 along one direction must fail the same
 * check); and `massMatrix: 'auto'` picks lowrank there (recovering means and
 * variances within MCSE, vectorised chains) and diag on an independent 200-d
 * Gaussian (sequential chains).
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.js';
import { mcseMean } from '../../src/diagnostics/mcse.js';
import { orthonormalRows, symmetricEigen, topEigen } from '../../src/infer/mcmc/eigen.js';
import { describeMetricChoice } from '../../src/infer/mcmc/metric-choice.js';
import { EuclideanMetric, type GradientCoroutine, type LogDensityAndGradient, type LogDensityTarget, type McmcSamples, NutsKernel, sampleNuts, sampleNutsBatched } from '../../src/infer/mcmc/index.js';
import { LowRankInverse, packLowRank } from '../../src/infer/mcmc/metric-lowrank.js';
import { fitLowRank } from '../../src/infer/mcmc/metric-lowrank-fit.js';
import { type LowRankGaussian, lowRankGaussian } from './lowrank-gaussian.js';

/** A random symmetric matrix with the given spectrum, and its eigenvectors (rows). */
function withSpectrum(values: readonly number[], seed: number): { a: Float64Array; vectors: Float64Array } {
  const d = values.length;
  const rng = new Rng(seed);
  const v = orthonormalRows(Float64Array.from({ length: d * d }, () => rng.normal()), d, d);
  const a = new Float64Array(d * d);
  for (let j = 0; j < d; j++) for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) a[r * d + c] = a[r * d + c]! + values[j]! * v[j * d + r]! * v[j * d + c]!;
  return { a, vectors: v };
}

function matVec(a: Float64Array, x: ArrayLike<number>, d: number): Float64Array {
  return Float64Array.from({ length: d }, (_, i) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += a[i * d + j]! * x[j]!;
    return s;
  });
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

describe('eigen-solvers against known spectra', () => {
  it('Jacobi: every eigenpair of a 7 x 7 matrix, largest first', () => {
    const spectrum = [10, 5, 3, 1, 0.5, 0.1, -2];
    const { a } = withSpectrum(spectrum, 1);
    const e = symmetricEigen(a, 7);
    expect(maxAbsDiff(e.values, spectrum)).toBeLessThan(1e-10);
    for (let j = 0; j < 7; j++) {
      const v = e.vectors.subarray(j * 7, j * 7 + 7);
      expect(maxAbsDiff(matVec(a, v, 7), v.map((x) => x * spectrum[j]!))).toBeLessThan(1e-10);
    }
    expect(() => symmetricEigen(new Float64Array(5), 2)).toThrow(/2 x 2 matrix/);
  });

  it('subspace iteration: the top 4 of a 60-d operator from products only', () => {
    const spectrum = [100, 50, 20, 10, ...Array.from({ length: 56 }, (_, i) => 1 - i / 60)];
    const { a, vectors } = withSpectrum(spectrum, 2);
    const rng = new Rng(3);
    const top = topEigen((x, out) => out.set(matVec(a, x, 60)), 60, 4, Float64Array.from({ length: 9 * 60 }, () => rng.normal()), 12);
    for (let j = 0; j < 4; j++) {
      expect(Math.abs(top.values[j]! - spectrum[j]!) / spectrum[j]!).toBeLessThan(1e-8);
      let dot = 0;
      for (let i = 0; i < 60; i++) dot += top.vectors[j * 60 + i]! * vectors[j * 60 + i]!;
      expect(1 - Math.abs(dot)).toBeLessThan(1e-8);
    }
  });
});

describe('the low-rank metric algebra', () => {
  const d = 30;
  const rng = new Rng(4);
  const variances = Float64Array.from({ length: d }, () => 0.01 + 100 * rng.uniform() ** 3);
  const u = orthonormalRows(Float64Array.from({ length: 4 * d }, () => rng.normal()), 4, d);
  const packed = packLowRank(variances, [400, 7, 0.3, 0.001], u);
  const low = new LowRankInverse(d, packed);
  const vec = (): number[] => Array.from({ length: d }, () => rng.normal());

  it('M M^{-1} x = x and M^{-1} M x = x to 1e-10; R R^T = M; a^T M^{-1} b is the bilinear form', () => {
    for (let t = 0; t < 20; t++) {
      const x = vec();
      const back = low.massInto(low.velocityInto(x, new Array<number>(d)), new Array<number>(d));
      const fwd = low.velocityInto(low.massInto(x, new Array<number>(d)), new Array<number>(d));
      const scale = Math.max(...x.map(Math.abs));
      expect(maxAbsDiff(back, x) / scale).toBeLessThan(1e-10);
      expect(maxAbsDiff(fwd, x) / scale).toBeLessThan(1e-10);
      const b = vec();
      const mb = low.velocityInto(b, new Array<number>(d));
      const dot = x.reduce((s, xi, i) => s + xi * mb[i]!, 0);
      expect(Math.abs(low.innerProduct(x, b) - dot)).toBeLessThan(1e-10 * Math.max(1, Math.abs(dot)));
    }
    // R as a matrix (columns R e_i), then R R^T x against M x
    const r = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      const e = new Array<number>(d).fill(0);
      e[i] = 1;
      const col = low.sqrtMassInto(e, new Array<number>(d));
      for (let k = 0; k < d; k++) r[k * d + i] = col[k]!;
    }
    for (let t = 0; t < 5; t++) {
      const x = vec();
      const rtx = Float64Array.from({ length: d }, (_, i) => x.reduce((s, xk, k) => s + r[k * d + i]! * xk, 0));
      const rrtx = matVec(r, rtx, d);
      const mx = low.massInto(x, new Array<number>(d));
      expect(maxAbsDiff(rrtx, mx) / Math.max(...mx.map(Math.abs))).toBeLessThan(1e-10);
    }
  });

  it("EuclideanMetric('lowrank') drifts along M^{-1} p and keeps the packed inverse; bad input is named", () => {
    const m = new EuclideanMetric('lowrank', d, packed);
    const p = vec();
    const q = vec();
    const v = low.velocityInto(p, new Array<number>(d));
    expect(maxAbsDiff(m.drift(q, p, 0.1), q.map((qi, i) => qi + 0.1 * v[i]!))).toBeLessThan(1e-12);
    expect(m.kinetic(p)).toBeCloseTo(0.5 * low.innerProduct(p, p), 10);
    expect(m.inverse).toEqual(packed);
    expect(new EuclideanMetric('lowrank', d).inverse).toEqual(new Float64Array(d).fill(1));
    expect(() => new EuclideanMetric('lowrank', d, new Float64Array(d + 3))).toThrow(/lowrank inverse metric for dim 30 needs length 30 \+ k \* 31/);
    const skew = packed.slice();
    skew[d + 4] = skew[d + 4]! + 0.1;
    expect(() => new EuclideanMetric('lowrank', d, skew)).toThrow(/lowrank directions 0 and 0 are not orthonormal/);
    const negative = packed.slice();
    negative[d + 1] = -1;
    expect(() => new EuclideanMetric('lowrank', d, negative)).toThrow(/lowrank eigenvalue 1 must be positive/);
  });
});

/** n exact draws of `g` and the gradients there, row-major. */
function exactDraws(g: LowRankGaussian, n: number, seed: number): { draws: Float64Array; grads: Float64Array } {
  const rng = new Rng(seed);
  const draws = new Float64Array(n * g.dim);
  const grads = new Float64Array(n * g.dim);
  for (let t = 0; t < n; t++) {
    const x = g.draw(rng);
    draws.set(x, t * g.dim);
    grads.set((g.target(x) as LogDensityAndGradient).grad, t * g.dim);
  }
  return { draws, grads };
}

/**
 * The condition number of the covariance preconditioned by a packed
 * low-rank inverse metric, R^T Sigma R with R R^T = M: what sets NUTS's
 * leapfrog steps per draw (about its square root).
 */
function preconditionedCondition(g: LowRankGaussian, packed: Float64Array): number {
  const d = g.dim;
  const low = new LowRankInverse(d, packed);
  const r = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const e = new Array<number>(d).fill(0);
    e[i] = 1;
    const col = low.sqrtMassInto(e, new Array<number>(d));
    for (let k = 0; k < d; k++) r[k * d + i] = col[k]!;
  }
  // Sigma R, column by column: diag(s^2) plus the strong directions
  const sr = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) sr[k * d + i] = g.scales[k]! ** 2 * r[k * d + i]!;
    for (let a = 0; a < g.strengths.length; a++) {
      let p = 0;
      for (let k = 0; k < d; k++) p += g.directions[a * d + k]! * r[k * d + i]!;
      for (let k = 0; k < d; k++) sr[k * d + i] = sr[k * d + i]! + g.strengths[a]! * p * g.directions[a * d + k]!;
    }
  }
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += r[k * d + i]! * sr[k * d + j]!;
      c[i * d + j] = s;
    }
  }
  const ev = symmetricEigen(c, d).values;
  return ev[0]! / ev[d - 1]!;
}

describe('fitting the low-rank metric to draws and gradients', () => {
  it('200-d, 3 strong directions: the fit cuts the preconditioned condition number from ~1600 (diagonal) to below 20; independent: rank 0', () => {
    const g = lowRankGaussian(200, [400, 100, 25], 5);
    const { draws, grads } = exactDraws(g, 400, 6);
    const fit = fitLowRank(draws, grads, 400, 200);
    expect(fit.rank).toBeGreaterThanOrEqual(3);
    const variances = Float64Array.from({ length: 200 }, (_, i) => g.varianceAlong(Float64Array.from({ length: 200 }, (_, k) => (k === i ? 1 : 0))));
    const diagonal = preconditionedCondition(g, packLowRank(variances, [], []));
    const lowRank = preconditionedCondition(g, fit.inverse);
    expect(diagonal).toBeGreaterThan(1000);
    expect(lowRank).toBeLessThan(20);
    const iid = lowRankGaussian(200, [], 7);
    const plain = exactDraws(iid, 400, 8);
    expect(fitLowRank(plain.draws, plain.grads, 400, 200).rank).toBe(0);
    expect(() => fitLowRank(draws, grads, 2, 200)).toThrow(/2 draws of dimension 200 need 400 entries/);
  });
});

/** A low-rank metric whose momenta come from an inverse metric with lambda_0 four times too large: the planted bug. */
class OffByFactorMetric extends EuclideanMetric {
  private readonly wrong: LowRankInverse;
  constructor(dim: number, packed: Float64Array) {
    super('lowrank', dim, packed);
    const bad = packed.slice();
    bad[dim] = 4 * bad[dim]!;
    this.wrong = new LowRankInverse(dim, bad);
  }
  override sampleMomentum(rng: Rng): number[] {
    const z: number[] = [];
    for (let i = 0; i < this.dim; i++) z.push(rng.normal());
    return this.wrong.sqrtMassInto(z, new Array<number>(this.dim));
  }
}

describe('the low-rank metric in NUTS, one step from exact draws (planted bug: inverse off by 4x along one direction)', () => {
  const d = 200;
  const g = lowRankGaussian(d, [400, 100, 25], 9);
  const fitted = (() => {
    const { draws, grads } = exactDraws(g, 400, 10);
    return fitLowRank(draws, grads, 400, d).inverse;
  })();

  function drive<T>(co: GradientCoroutine<T>, t: LogDensityTarget): T {
    let step = co.next();
    while (!step.done) {
      const r = t(Float64Array.from(step.value)) as LogDensityAndGradient;
      step = co.next({ logp: r.logp, grad: r.grad, offset: 0 });
    }
    return step.value;
  }

  /**
   * Largest |z| over: the variance of the draw along each strong direction
   * and along the metric's first fitted direction, against the truth, with
   * the standard error from the fourth moment (draws are independent: each
   * transition starts from a fresh exact draw).
   */
  function worstZ(metric: EuclideanMetric): number {
    const rng = new Rng(11);
    const kernel = new NutsKernel();
    const n = 1500;
    const u0 = fitted.subarray(d + new LowRankInverse(d, fitted).rank, d + new LowRankInverse(d, fitted).rank + d);
    const dirs = [0, 1, 2].map((j) => g.directions.subarray(j * d, j * d + d)).concat([u0]);
    const sumSq = dirs.map(() => 0);
    const fourth = dirs.map(() => 0);
    for (let t = 0; t < n; t++) {
      const x = g.draw(rng);
      const r = g.target(x) as LogDensityAndGradient;
      const end = drive(kernel.transition({ q: Array.from(x), logp: r.logp, grad: Array.from(r.grad) }, 0.5, metric, rng), g.target).position.q;
      dirs.forEach((w, j) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += w[i]! * (end[i]! - g.mean[i]!);
        sumSq[j] += s * s;
        fourth[j] += s ** 4;
      });
    }
    let worst = 0;
    dirs.forEach((w, j) => {
      const v = g.varianceAlong(w);
      const se = Math.sqrt((fourth[j]! / n - (sumSq[j]! / n) ** 2) / n);
      worst = Math.max(worst, Math.abs(sumSq[j]! / n - v) / se);
    });
    return worst;
  }

  it('the fitted metric keeps the target: variances along the strong directions within 4 standard errors', () => {
    expect(worstZ(new EuclideanMetric('lowrank', d, fitted))).toBeLessThan(4);
  });

  it('the planted bug (momenta with lambda_0 off by 4x) is caught by the same check', () => {
    expect(worstZ(new OffByFactorMetric(d, fitted))).toBeGreaterThan(4);
  });
});

describe("massMatrix: 'auto' above the dense cap (short runs; the moments are checked in metric-lowrank.slow.test.ts)", () => {
  it('200-d with 3 strong directions, vectorised chains: lowrank chosen and reported', async () => {
    const g = lowRankGaussian(200, [400, 100, 25], 12);
    const r = await sampleNutsBatched(g.batched, { dim: 200, chains: 2, warmup: 200, draws: 20, seed: 13, massMatrix: 'auto' });
    expect(r.metricKind).toEqual(['lowrank', 'lowrank']);
    expect(r.metricDecision!.every((x) => x?.kind === 'lowrank' && x.rank! >= 3)).toBe(true);
    expect(r.inverseMetric[0]!.length).toBe(200 + r.metricDecision![0]!.rank! * 201);
    expect(describeMetricChoice(r.metricKind, r.metricDecision)).toMatch(/^lowrank \(auto: rank \d+-\d+, strongest direction's variance ratio \S+-\S+ against threshold 3\.00 from \d+ draws\)$/);
  });

  it('independent 200-d, sequential chains: diag chosen and reported; a forced lowrank runs and reports as asked', async () => {
    const g = lowRankGaussian(200, [], 14);
    const r = await sampleNuts(g.target, { dim: 200, chains: 1, warmup: 200, draws: 20, seed: 15, massMatrix: 'auto' });
    expect(r.metricKind).toEqual(['diag']);
    expect(r.inverseMetric[0]!.length).toBe(200);
    expect(describeMetricChoice(r.metricKind, r.metricDecision)).toMatch(/^diag \(auto: rank \d+-\d+, strongest direction's variance ratio \S+-\S+ against threshold 3\.00 from \d+ draws\)$/);
    const forced = await sampleNuts(g.target, { dim: 200, chains: 1, warmup: 200, draws: 20, seed: 15, massMatrix: 'lowrank' });
    expect(forced.metricKind).toEqual(['lowrank']);
    expect(describeMetricChoice(forced.metricKind, forced.metricDecision)).toBe('lowrank (as asked)');
    await expect(sampleNuts(g.target, { dim: 200, chains: 1, warmup: 50, draws: 5, massMatrix: 'lowrank', metricChoice: { maxRank: 2.5 } })).rejects.toThrow(/metricChoice.maxRank must be a non-negative integer, got 2.5/);
  });
});
