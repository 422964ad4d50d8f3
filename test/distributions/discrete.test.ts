import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { model } from '../../src/core/index.js';
import { Rng } from '../../src/core/rng.js';
import type { Value } from '../../src/core/value.js';
import { Bernoulli } from '../../src/distributions/bernoulli.js';
import { Binomial } from '../../src/distributions/binomial.js';
import { Categorical } from '../../src/distributions/categorical.js';
import { Delta } from '../../src/distributions/delta.js';
import type { Distribution } from '../../src/distributions/distribution.js';
import { Geometric } from '../../src/distributions/geometric.js';
import { Multinomial } from '../../src/distributions/multinomial.js';
import { NegativeBinomial } from '../../src/distributions/negative-binomial.js';
import { Poisson } from '../../src/distributions/poisson.js';
import { infer } from '../../src/infer/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// ---------------------------------------------------------------- helpers

/** logProb of a number on the number path, checked to be a number. */
function lp(d: Distribution, k: number): number {
  const v = d.logProb(k);
  expect(typeof v).toBe('number');
  return v as number;
}

function arr(v: Value): number[] {
  return typeof v === 'number' ? [v] : Array.from(v.dataSync());
}

/** Exact binomial coefficient for small n (multiplicative formula, exact in float64 here). */
function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
}
function factorial(k: number): number {
  let f = 1;
  for (let i = 2; i <= k; i++) f *= i;
  return f;
}
/** Gamma(k + r) / Gamma(r) = r (r + 1) ... (r + k - 1). */
function risingFactorial(r: number, k: number): number {
  let f = 1;
  for (let j = 0; j < k; j++) f *= r + j;
  return f;
}

/** Sum of exp(logProb) over 0..kmax on the number path. */
function massUpTo(d: Distribution, kmax: number): number {
  let s = 0;
  for (let k = 0; k <= kmax; k++) s += Math.exp(lp(d, k));
  return s;
}

/** Number-path draws. */
function draws(d: Distribution, n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = d.sample(rng) as number;
  return out;
}

/** Sample mean and variance within 4.5 Monte Carlo standard errors of the truth. */
function expectMoments(xs: ArrayLike<number>, mean: number, variance: number): void {
  const n = xs.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += xs[i];
  m /= n;
  let s2 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = xs[i] - m;
    s2 += d * d;
    m4 += d * d * d * d;
  }
  s2 /= n - 1;
  m4 /= n;
  expect(Math.abs(m - mean)).toBeLessThan(4.5 * Math.sqrt(variance / n));
  expect(Math.abs(s2 - variance)).toBeLessThan(4.5 * Math.sqrt(Math.max(m4 - s2 * s2, 1e-300) / n));
}

/**
 * Pearson chi-square test of integer draws against a mass function: cells
 * with expected count >= 5, the rest pooled. Asserts the Wilson–Hilferty
 * normal score of the statistic is below 4.5.
 */
function expectFits(xs: ArrayLike<number>, pmf: (k: number) => number, kmax: number): void {
  const n = xs.length;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) counts.set(xs[i], (counts.get(xs[i]) ?? 0) + 1);
  let stat = 0;
  let cells = 0;
  let pooledExpected = n;
  let pooledObserved = n;
  for (let k = 0; k <= kmax; k++) {
    const e = n * pmf(k);
    if (e < 5) continue;
    const o = counts.get(k) ?? 0;
    stat += ((o - e) * (o - e)) / e;
    cells++;
    pooledExpected -= e;
    pooledObserved -= o;
  }
  if (pooledExpected >= 5) {
    stat += ((pooledObserved - pooledExpected) ** 2) / pooledExpected;
    cells++;
  } else {
    expect(pooledObserved).toBeLessThan(pooledExpected + 4.5 * Math.sqrt(pooledExpected) + 5);
  }
  const df = cells - 1;
  expect(df).toBeGreaterThan(0);
  const z = (Math.cbrt(stat / df) - (1 - 2 / (9 * df))) / Math.sqrt(2 / (9 * df));
  expect(z).toBeLessThan(4.5);
}

/** float32 tensor result against float64 number result. */
function expectClose32(actual: number, expected: number): void {
  if (expected === -Infinity) expect(actual).toBe(-Infinity);
  else expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(expected)));
}

// ---------------------------------------------------------------- closed forms

describe('mass functions against closed forms (number path, 1e-12)', () => {
  const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-12);

  it('Bernoulli, from probs and from logits', () => {
    close(lp(Bernoulli(0.3), 1), Math.log(0.3));
    close(lp(Bernoulli(0.3), 0), Math.log(0.7));
    const l = 0.8;
    close(lp(Bernoulli({ logits: l }), 1), Math.log(1 / (1 + Math.exp(-l))));
    close(lp(Bernoulli({ logits: l }), 0), Math.log(1 / (1 + Math.exp(l))));
    close(lp(Bernoulli({ probs: 0.25 }), 1), Math.log(0.25));
    expect(lp(Bernoulli(0), 0) + 0).toBe(0); // -0 is fine
    expect(lp(Bernoulli(1), 0)).toBe(-Infinity);
  });

  it('Categorical, from probs and from logits', () => {
    const p = [0.2, 0.5, 0.3];
    for (let k = 0; k < 3; k++) close(lp(Categorical(p), k), Math.log(p[k]));
    const logits = [1, -2, 0.5, 3];
    const z = logits.reduce((s, x) => s + Math.exp(x), 0);
    for (let k = 0; k < 4; k++) close(lp(Categorical({ logits }), k), logits[k] - Math.log(z));
    close(lp(Categorical(Float64Array.of(0.6, 0.4)), 1), Math.log(0.4));
  });

  it('Binomial', () => {
    for (const [n, p] of [[10, 0.3], [25, 0.9], [1, 0.5], [0, 0.4], [40, 0.05]]) {
      for (let k = 0; k <= n; k++) close(lp(Binomial(n, p), k), Math.log(choose(n, k) * p ** k * (1 - p) ** (n - k)));
    }
    const l = -0.7;
    const p = 1 / (1 + Math.exp(-l));
    for (let k = 0; k <= 7; k++) close(lp(Binomial(7, { logits: l }), k), Math.log(choose(7, k) * p ** k * (1 - p) ** (7 - k)));
    expect(lp(Binomial(5, 0), 0)).toBe(0);
    expect(lp(Binomial(5, 1), 5)).toBe(0);
  });

  it('Poisson', () => {
    for (const rate of [0.1, 3.5, 20]) {
      for (let k = 0; k <= 40; k++) close(lp(Poisson(rate), k), k * Math.log(rate) - rate - Math.log(factorial(k)));
    }
    expect(lp(Poisson(0), 0)).toBe(0);
    expect(lp(Poisson(0), 1)).toBe(-Infinity);
  });

  it('Geometric (failures before the first success)', () => {
    for (const p of [0.3, 0.9, 0.01]) for (let k = 0; k <= 30; k++) close(lp(Geometric(p), k), Math.log((1 - p) ** k * p));
    expect(lp(Geometric(1), 0)).toBe(0);
    expect(lp(Geometric(1), 1)).toBe(-Infinity);
  });

  it('NegativeBinomial (Pyro/TFP: successes before the r-th failure)', () => {
    for (const [r, p] of [[2.5, 0.4], [1, 0.7], [7, 0.1], [0.3, 0.5]]) {
      for (let k = 0; k <= 30; k++) {
        const pmf = (risingFactorial(r, k) / factorial(k)) * p ** k * (1 - p) ** r;
        close(lp(NegativeBinomial(r, p), k), Math.log(pmf));
      }
    }
    // Geometric(q) is NegativeBinomial(1, 1 - q)
    for (let k = 0; k < 10; k++) close(lp(NegativeBinomial(1, 0.35), k), lp(Geometric(0.65), k));
    // logits: log(mean / r) = logits
    expect(Math.abs((NegativeBinomial(3, { logits: 0.4 }).mean as number) - 3 * Math.exp(0.4))).toBeLessThan(1e-12);
    expect(lp(NegativeBinomial(2, 0), 0)).toBe(0);
  });

  it('Multinomial (float64 path for a JS probability vector)', () => {
    const d = Multinomial(5, [0.2, 0.3, 0.5]);
    const v = d.logProb(tf.tensor1d([1, 2, 2]));
    expect(typeof v).toBe('number');
    close(v as number, Math.log((factorial(5) / (1 * 2 * 2)) * 0.2 * 0.3 ** 2 * 0.5 ** 2));
    expect(d.logProb(tf.tensor1d([1, 2, 1]))).toBe(-Infinity);
    expect(d.logProb(tf.tensor1d([1.5, 1.5, 2]))).toBe(-Infinity);
    expect(d.logProb(tf.tensor1d([-1, 3, 3]))).toBe(-Infinity);
    expect(Multinomial(3, [1, 0]).logProb(tf.tensor1d([3, 0]))).toBe(0);
  });

  it('Delta', () => {
    expect(Delta(2.5).logProb(2.5)).toBe(0);
    expect(Delta(2.5).logProb(2.4)).toBe(-Infinity);
    expect(Delta(2.5).logProb(NaN)).toBe(-Infinity);
    expect(Delta(2.5, { logDensity: -1.25 }).logProb(2.5)).toBe(-1.25);
  });
});

// ---------------------------------------------------------------- normalisation

describe('mass functions sum to 1 over the support', () => {
  it('finite supports exactly, infinite ones truncated (1e-9)', () => {
    expect(Math.abs(massUpTo(Bernoulli(0.37), 1) - 1)).toBeLessThan(1e-12);
    expect(Math.abs(massUpTo(Categorical([0.1, 0.2, 0.3, 0.4]), 3) - 1)).toBeLessThan(1e-12);
    expect(Math.abs(massUpTo(Binomial(60, 0.37), 60) - 1)).toBeLessThan(1e-12);
    expect(Math.abs(massUpTo(Poisson(12.5), 100) - 1)).toBeLessThan(1e-9);
    expect(Math.abs(massUpTo(Geometric(0.2), 200) - 1)).toBeLessThan(1e-9);
    expect(Math.abs(massUpTo(NegativeBinomial(3.3, 0.6), 200) - 1)).toBeLessThan(1e-9);
  });

  it('Multinomial over all count vectors', () => {
    const d = Multinomial(4, [0.1, 0.2, 0.3, 0.4]);
    let s = 0;
    for (const x of compositions(4, 4)) s += Math.exp(d.logProb(tf.tensor1d(x)) as number);
    expect(Math.abs(s - 1)).toBeLessThan(1e-12);
  });
});

/** All vectors of k nonnegative integers summing to n. */
function compositions(n: number, k: number): number[][] {
  if (k === 1) return [[n]];
  const out: number[][] = [];
  for (let first = 0; first <= n; first++) for (const rest of compositions(n - first, k - 1)) out.push([first, ...rest]);
  return out;
}

describe('properties over random parameters (fast-check)', () => {
  const prob = fc.double({ min: 0, max: 1, noNaN: true });
  const runs = { numRuns: 60, seed: 42 };
  const sumsToOne = (d: Distribution, kmax: number, tol: number) => {
    let s = 0;
    let max = -Infinity;
    for (let k = 0; k <= kmax; k++) {
      const l = d.logProb(k) as number;
      if (!(l <= max)) max = l;
      s += Math.exp(l);
    }
    expect(max).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(s - 1)).toBeLessThan(tol);
  };

  it('Bernoulli and Binomial', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), prob, (n, p) => {
        sumsToOne(Bernoulli(p), 1, 1e-12);
        sumsToOne(Binomial(n, p), n, 1e-9);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.double({ min: -30, max: 30, noNaN: true }), (n, l) => {
        sumsToOne(Bernoulli({ logits: l }), 1, 1e-12);
        sumsToOne(Binomial(n, { logits: l }), n, 1e-9);
      }),
      runs,
    );
  });

  it('Categorical (probs and logits)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 1, maxLength: 30 }), (w) => {
        const total = w.reduce((a, b) => a + b, 0);
        fc.pre(total > 1e-3);
        const p = w.map((x) => x / total);
        sumsToOne(Categorical(p), p.length - 1, 1e-12);
        sumsToOne(Categorical({ logits: w }), w.length - 1, 1e-12);
      }),
      runs,
    );
  });

  it('Poisson, Geometric and NegativeBinomial (truncated sums)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 200, noNaN: true }), (rate) => {
        sumsToOne(Poisson(rate), Math.ceil(rate + 15 * Math.sqrt(rate) + 40), 1e-9);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 1, noNaN: true }), (p) => {
        sumsToOne(Geometric(p), p === 1 ? 0 : Math.ceil(Math.log(1e-13) / Math.log1p(-p)), 1e-9);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 20, noNaN: true }), fc.double({ min: 0, max: 0.9, noNaN: true }), (r, p) => {
        const mean = (r * p) / (1 - p);
        const sd = Math.sqrt(mean / (1 - p));
        const kmax = p === 0 ? 0 : Math.ceil(mean + 40 * sd + Math.log(1e-13) / Math.log(p));
        sumsToOne(NegativeBinomial(r, p), kmax, 1e-9);
      }),
      runs,
    );
  });

  it('Multinomial over all count vectors', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }), (n, w) => {
        const total = w.reduce((a, b) => a + b, 0);
        const d = Multinomial(n, w.map((x) => x / total));
        let s = 0;
        for (const x of compositions(n, w.length)) {
          const l = d.logProb(tf.tensor1d(x)) as number;
          expect(l).toBeLessThanOrEqual(1e-12);
          s += Math.exp(l);
        }
        expect(Math.abs(s - 1)).toBeLessThan(1e-9);
      }),
      { numRuns: 25, seed: 7 },
    );
  });
});

// ---------------------------------------------------------------- sampling

describe('sampling (fixed seeds, MCSE bounds and chi-square fits)', () => {
  const N = 20000;

  it('Bernoulli, number and tensor paths', () => {
    expectMoments(draws(Bernoulli(0.3), N, 1), 0.3, 0.21);
    expectMoments(draws(Bernoulli({ logits: -2 }), N, 2), 1 / (1 + Math.exp(2)), Math.exp(2) / (1 + Math.exp(2)) ** 2);
    const x = Bernoulli(tf.tensor1d([0.1, 0.9])).sample(new Rng(3), [N]) as tf.Tensor;
    expect(x.shape).toEqual([N, 2]);
    const cols = tf.unstack(x, 1).map((c) => c.dataSync());
    expectMoments(cols[0], 0.1, 0.09);
    expectMoments(cols[1], 0.9, 0.09);
  });

  it('Categorical: linear scan, bisection (K > 16) and batched', () => {
    const p = [0.2, 0.5, 0.3];
    expectFits(draws(Categorical(p), N, 4), (k) => p[k] ?? 0, 3);
    const rng = new Rng(5);
    const w = Array.from({ length: 40 }, () => rng.uniform());
    const total = w.reduce((a, b) => a + b, 0);
    const q = w.map((x) => x / total);
    expectFits(draws(Categorical(q), N, 6), (k) => q[k] ?? 0, 40);
    const withZeros = [0, 0.5, 0, 0.5, 0];
    const xs = draws(Categorical(withZeros), 2000, 7);
    expect(xs.every((k) => k === 1 || k === 3)).toBe(true);
    const batch = Categorical(tf.tensor2d([p, [0.7, 0.1, 0.2]])).sample(new Rng(8), [N]) as tf.Tensor;
    expect(batch.shape).toEqual([N, 2]);
    const [a, b] = tf.unstack(batch, 1).map((c) => c.dataSync());
    expectFits(a, (k) => p[k] ?? 0, 3);
    expectFits(b, (k) => [0.7, 0.1, 0.2][k] ?? 0, 3);
  });

  it('Binomial: inversion, BTRS and the p > 1/2 reflection', () => {
    for (const [n, p, seed] of [[10, 0.3, 10], [1000, 0.3, 11], [50, 0.8, 12], [30, 0.9, 13], [200, 0.5, 14]]) {
      const xs = draws(Binomial(n, p), N, seed);
      expectMoments(xs, n * p, n * p * (1 - p));
      expectFits(xs, (k) => Math.exp(lp(Binomial(n, p), k)), n);
    }
    const t = Binomial(tf.tensor1d([5, 100]), tf.tensor1d([0.5, 0.2])).sample(new Rng(15), [N]) as tf.Tensor;
    const [a, b] = tf.unstack(t, 1).map((c) => c.dataSync());
    expectMoments(a, 2.5, 1.25);
    expectMoments(b, 20, 16);
  });

  it('Poisson: inversion and PTRS', () => {
    for (const [rate, seed] of [[0.5, 20], [3.5, 21], [10, 22], [50, 23], [1000, 24]]) {
      const xs = draws(Poisson(rate), N, seed);
      expectMoments(xs, rate, rate);
      expectFits(xs, (k) => Math.exp(lp(Poisson(rate), k)), Math.ceil(rate + 10 * Math.sqrt(rate) + 10));
    }
    expect(Poisson(0).sample(new Rng(1))).toBe(0);
  });

  it('Geometric', () => {
    for (const [p, seed] of [[0.3, 30], [0.02, 31], [0.95, 32]]) {
      const xs = draws(Geometric(p), N, seed);
      expectMoments(xs, (1 - p) / p, (1 - p) / (p * p));
      expectFits(xs, (k) => Math.exp(lp(Geometric(p), k)), Math.ceil(50 / p));
    }
    expect(Geometric(1).sample(new Rng(1))).toBe(0);
  });

  it('NegativeBinomial (gamma–Poisson mixture)', () => {
    for (const [r, p, seed] of [[2.5, 0.4, 40], [0.5, 0.7, 41], [20, 0.2, 42]]) {
      const xs = draws(NegativeBinomial(r, p), N, seed);
      expectMoments(xs, (r * p) / (1 - p), (r * p) / (1 - p) ** 2);
      expectFits(xs, (k) => Math.exp(lp(NegativeBinomial(r, p), k)), 400);
    }
  });

  it('Multinomial: marginals, totals and the full mass function', () => {
    const p = [0.2, 0.3, 0.5];
    const n = 6;
    const d = Multinomial(n, p);
    const x = d.sample(new Rng(50), [N]) as tf.Tensor;
    expect(x.shape).toEqual([N, 3]);
    expect(Array.from(tf.sum(x, -1).dataSync()).every((s) => s === n)).toBe(true);
    tf.unstack(x, 1).forEach((c, i) => expectMoments(c.dataSync(), n * p[i], n * p[i] * (1 - p[i])));
    // chi-square over the 28 count vectors, coded as integers
    const cells = compositions(n, 3);
    const code = (v: ArrayLike<number>) => v[0] * 49 + v[1] * 7 + v[2];
    const rows = x.arraySync() as number[][];
    const probs = new Map(cells.map((c) => [code(c), Math.exp(d.logProb(tf.tensor1d(c)) as number)]));
    expectFits(rows.map(code), (k) => probs.get(k) ?? 0, 7 * 49);
    // zero-probability categories are never drawn
    const z = Multinomial(10, [0, 0.5, 0, 0.5, 0]).sample(new Rng(51), [500]) as tf.Tensor;
    const cols = tf.unstack(z, 1).map((c) => tf.sum(c).dataSync()[0]);
    expect([cols[0], cols[2], cols[4]]).toEqual([0, 0, 0]);
  });

  it('Delta draws its point', () => {
    expect(Delta(1.5).sample(new Rng(1))).toBe(1.5);
    const s = Delta(tf.tensor1d([1, 2]), { eventDim: 1 }).sample(new Rng(1), [3]) as tf.Tensor;
    expect(s.shape).toEqual([3, 2]);
    expect(s.arraySync()).toEqual([[1, 2], [1, 2], [1, 2]]);
  });

  it('the same seed gives the same draws', () => {
    const a = Binomial(tf.tensor1d([10, 1000]), 0.3).sample(new Rng(9), [50]) as tf.Tensor;
    const b = Binomial(tf.tensor1d([10, 1000]), 0.3).sample(new Rng(9), [50]) as tf.Tensor;
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
  });
});

// ---------------------------------------------------------------- support

describe('values outside the support give -Infinity, never NaN', () => {
  it('number path', () => {
    for (const x of [2, 0.5, -1, NaN, Infinity]) expect(lp(Bernoulli(0.3), x)).toBe(-Infinity);
    for (const x of [3, 1.5, -1, NaN]) expect(lp(Categorical([0.2, 0.5, 0.3]), x)).toBe(-Infinity);
    for (const x of [6, 2.5, -1, NaN]) expect(lp(Binomial(5, 0.3), x)).toBe(-Infinity);
    for (const d of [Poisson(2), Geometric(0.4), NegativeBinomial(2, 0.5)]) {
      for (const x of [1.5, -1, -0.5, NaN, Infinity]) expect(lp(d, x)).toBe(-Infinity);
    }
    expect(lp(Categorical([0.5, 0, 0.5]), 1)).toBe(-Infinity);
  });

  it('tensor path', () => {
    const bad = (v: Value) => arr(v).forEach((x) => expect(x).toBe(-Infinity));
    bad(Bernoulli(tf.tensor1d([0.3, 0.3, 0.3, 0.3])).logProb(tf.tensor1d([2, 0.5, -1, NaN])));
    bad(Categorical(tf.tensor2d([[0.2, 0.5, 0.3]])).logProb(tf.tensor2d([[3], [1.5], [-1], [NaN]])));
    bad(Binomial(tf.tensor1d([5, 5, 5]), 0.3).logProb(tf.tensor1d([6, 2.5, -1])));
    bad(Poisson(tf.tensor1d([2, 2, 2])).logProb(tf.tensor1d([1.5, -1, NaN])));
    bad(Geometric(tf.tensor1d([0.4, 0.4])).logProb(tf.tensor1d([1.5, -1])));
    bad(NegativeBinomial(tf.tensor1d([2, 2]), 0.5).logProb(tf.tensor1d([1.5, -2])));
    bad(Multinomial(3, tf.tensor1d([0.5, 0.5])).logProb(tf.tensor2d([[1, 1], [4, -1], [1.5, 1.5]])));
    bad(Delta(tf.tensor1d([1, 2])).logProb(tf.tensor1d([0, 3])));
    // number parameters, tensor values
    bad(Bernoulli(0.3).logProb(tf.tensor1d([2, -1])));
    bad(Poisson(2).logProb(tf.tensor1d([0.5, -3])));
  });

  it('supports and discreteness', () => {
    expect(Bernoulli(0.3).support.name).toBe('boolean');
    expect(Categorical([0.2, 0.8]).support.name).toBe('integerInterval(0, 1)');
    expect(Binomial(4, 0.5).support.name).toBe('integerInterval(0, 4)');
    for (const d of [Poisson(1), Geometric(0.5), NegativeBinomial(1, 0.5)]) expect(d.support.name).toBe('nonnegativeInteger');
    for (const d of [Bernoulli(0.3), Categorical([1]), Binomial(2, 0.5), Poisson(1), Geometric(0.5), NegativeBinomial(1, 0.5), Multinomial(2, [0.5, 0.5])]) {
      expect(d.isDiscrete).toBe(true);
    }
    expect(Multinomial(2, [0.5, 0.5]).eventShape).toEqual([2]);
  });
});

// ---------------------------------------------------------------- validation

describe('invalid parameters throw RangeError naming the parameter', () => {
  it.each([
    ['Bernoulli(1.5)', () => Bernoulli(1.5), /Bernoulli.*probs/],
    ['Bernoulli(-0.1)', () => Bernoulli(-0.1), /Bernoulli.*probs/],
    ['Bernoulli(NaN)', () => Bernoulli(NaN), /Bernoulli.*probs/],
    ['Bernoulli(tensor)', () => Bernoulli(tf.tensor1d([0.2, 1.2])), /Bernoulli.*probs/],
    ['Categorical sum', () => Categorical([0.5, 0.6]), /Categorical.*probs.*sum/],
    ['Categorical negative', () => Categorical([-0.1, 1.1]), /Categorical.*probs/],
    ['Categorical tensor sum', () => Categorical(tf.tensor2d([[0.5, 0.5], [0.5, 0.4]])), /Categorical.*probs.*sum/],
    ['Categorical empty', () => Categorical([]), /Categorical.*probs/],
    ['Categorical scalar', () => Categorical(tf.scalar(1)), /Categorical.*probs.*vector/],
    ['Categorical logits', () => Categorical({ logits: [-Infinity, -Infinity] }), /Categorical.*logits/],
    ['Binomial negative count', () => Binomial(-1, 0.5), /Binomial.*totalCount/],
    ['Binomial fractional count', () => Binomial(2.5, 0.5), /Binomial.*totalCount/],
    ['Binomial probs', () => Binomial(3, 1.1), /Binomial.*probs/],
    ['Poisson', () => Poisson(-1), /Poisson.*rate/],
    ['Poisson tensor', () => Poisson(tf.tensor1d([1, -1])), /Poisson.*rate/],
    ['Geometric 0', () => Geometric(0), /Geometric.*probs/],
    ['Geometric > 1', () => Geometric(1.2), /Geometric.*probs/],
    ['NegativeBinomial count', () => NegativeBinomial(0, 0.5), /NegativeBinomial.*totalCount/],
    ['NegativeBinomial negative count', () => NegativeBinomial(-2, 0.5), /NegativeBinomial.*totalCount/],
    ['NegativeBinomial probs', () => NegativeBinomial(2, 1), /NegativeBinomial.*probs/],
    ['Multinomial count', () => Multinomial(-1, [0.5, 0.5]), /Multinomial.*totalCount/],
    ['Multinomial probs', () => Multinomial(3, [0.5, 0.7]), /Multinomial.*probs/],
    ['Delta eventDim', () => Delta(1, { eventDim: 1 }), /Delta.*eventDim/],
  ])('%s', (_name, make, message) => {
    expect(make).toThrow(RangeError);
    expect(make).toThrow(message);
  });

  it('probs and logits together is a TypeError', () => {
    expect(() => Bernoulli({ probs: 0.5, logits: 0 } as never)).toThrow(/exactly one of probs or logits/);
  });

  it('Categorical accepts float32 rounding of a normalised vector', () => {
    const w = Array.from({ length: 1000 }, (_, i) => i + 1);
    const total = w.reduce((a, b) => a + b, 0);
    expect(() => Categorical(tf.tensor1d(w.map((x) => x / total)))).not.toThrow();
  });
});

// ---------------------------------------------------------------- moments

describe('mean and variance', () => {
  const close = (a: Value, b: number) => expect(Math.abs((a as number) - b)).toBeLessThan(1e-12);
  it('number path', () => {
    close(Bernoulli(0.3).mean, 0.3);
    close(Bernoulli(0.3).variance, 0.21);
    close(Categorical([0.2, 0.5, 0.3]).mean, 1.1);
    close(Categorical([0.2, 0.5, 0.3]).variance, 0.5 + 4 * 0.3 - 1.1 * 1.1);
    close(Binomial(10, 0.3).mean, 3);
    close(Binomial(10, 0.3).variance, 2.1);
    close(Poisson(4).mean, 4);
    close(Poisson(4).variance, 4);
    close(Geometric(0.25).mean, 3);
    close(Geometric(0.25).variance, 12);
    close(NegativeBinomial(3, 0.4).mean, 2);
    close(NegativeBinomial(3, 0.4).variance, 2 / 0.6);
    close(Delta(2).mean, 2);
    close(Delta(2).variance, 0);
  });

  it('tensor path', () => {
    const v = (x: Value) => arr(x);
    expect(v(Bernoulli(tf.tensor1d([0.5, 0.2])).variance)).toEqual([0.25, expect.closeTo(0.16, 6)]);
    expect(v(Categorical(tf.tensor2d([[0.2, 0.5, 0.3]])).mean)[0]).toBeCloseTo(1.1, 5);
    expect(v(Binomial(tf.tensor1d([10, 20]), 0.5).mean)).toEqual([5, 10]);
    expect(v(Multinomial(10, [0.2, 0.8]).mean)).toEqual([2, 8]);
    expect(v(Multinomial(10, [0.5, 0.5]).variance)).toEqual([2.5, 2.5]);
    expect(v(Geometric(tf.tensor1d([0.5])).variance)[0]).toBeCloseTo(2, 5);
    expect(v(NegativeBinomial(tf.tensor1d([3]), { logits: tf.tensor1d([0]) }).mean)[0]).toBeCloseTo(3, 5);
  });
});

// ---------------------------------------------------------------- tensor path = number path

describe('the tensor path matches the number path elementwise', () => {
  /** logProb of values [V] against a batch of B parameter sets: tensor result [V, B] vs number path. */
  function compare(makeNumber: (i: number) => Distribution, makeTensor: () => Distribution, batch: number, values: number[]): void {
    const t = makeTensor().logProb(tf.tensor2d(values.map((x) => Array(batch).fill(x)))) as tf.Tensor;
    expect(t.shape).toEqual([values.length, batch]);
    const got = t.arraySync() as number[][];
    values.forEach((x, r) => {
      for (let b = 0; b < batch; b++) expectClose32(got[r][b], lp(makeNumber(b), x));
    });
  }
  const ks = [0, 1, 2, 3, 5, 8, 13, 1.5, -1];

  it('Bernoulli (probs and logits)', () => {
    const p = [0, 0.3, 0.99, 1];
    compare((i) => Bernoulli(p[i]), () => Bernoulli(tf.tensor1d(p)), 4, [0, 1, 2, 0.5, -1]);
    const l = [-3, 0, 2.5];
    compare((i) => Bernoulli({ logits: l[i] }), () => Bernoulli({ logits: tf.tensor1d(l) }), 3, [0, 1, 2]);
  });

  it('Categorical (probs and logits)', () => {
    const p = [[0.2, 0.5, 0.3], [0, 0.25, 0.75]];
    compare((i) => Categorical(p[i]), () => Categorical(tf.tensor2d(p)), 2, [0, 1, 2, 3, 0.5, -1]);
    const l = [[1, 2, 3], [0, -Infinity, 0]];
    compare((i) => Categorical({ logits: l[i] }), () => Categorical({ logits: tf.tensor2d(l) }), 2, [0, 1, 2, 3]);
  });

  it('Binomial, Poisson, Geometric, NegativeBinomial', () => {
    const n = [0, 5, 13, 30];
    const p = [0.3, 0, 0.6, 1];
    compare((i) => Binomial(n[i], p[i]), () => Binomial(tf.tensor1d(n), tf.tensor1d(p)), 4, ks);
    compare((i) => Binomial(n[i], { logits: -1 }), () => Binomial(tf.tensor1d(n), { logits: -1 }), 4, ks);
    const rate = [0, 0.5, 4, 25];
    compare((i) => Poisson(rate[i]), () => Poisson(tf.tensor1d(rate)), 4, ks);
    const g = [0.1, 0.5, 1];
    compare((i) => Geometric(g[i]), () => Geometric(tf.tensor1d(g)), 3, ks);
    const r = [0.5, 2, 10];
    const q = [0.3, 0, 0.8];
    compare((i) => NegativeBinomial(r[i], q[i]), () => NegativeBinomial(tf.tensor1d(r), tf.tensor1d(q)), 3, ks);
  });

  it('Multinomial and Delta', () => {
    const x = [[1, 2, 3], [6, 0, 0], [0, 0, 6], [2, 2, 1]];
    const t = Multinomial(6, tf.tensor1d([0.2, 0.3, 0.5])).logProb(tf.tensor2d(x)) as tf.Tensor;
    const got = Array.from(t.dataSync());
    x.forEach((row, i) => expectClose32(got[i], Multinomial(6, [0.2, 0.3, 0.5]).logProb(tf.tensor1d(row)) as number));
    const d = Delta(tf.tensor1d([1, 2, 3]), { logDensity: tf.tensor1d([0, -1, -2]) });
    expect(arr(d.logProb(tf.tensor1d([1, 0, 3])))).toEqual([0, -Infinity, -2]);
  });

  it('a scalar-tensor parameter gives a tensor; numbers give numbers', () => {
    expect(typeof Poisson(2).logProb(1)).toBe('number');
    const t = Poisson(tf.scalar(2)).logProb(1);
    expect(t).toBeInstanceOf(tf.Tensor);
    expectClose32(arr(t)[0], lp(Poisson(2), 1));
    expect(typeof Binomial(3, 0.5).sample(new Rng(1))).toBe('number');
    expect(Binomial(tf.scalar(3), 0.5).sample(new Rng(1))).toBeInstanceOf(tf.Tensor);
  });

  it('gradients flow to logits and probs', () => {
    const g = tf.grad((l: tf.Tensor) => Bernoulli({ logits: l }).logProb(tf.tensor1d([1, 0])) as tf.Tensor)(tf.tensor1d([0.3, -0.2]));
    const s = (x: number) => 1 / (1 + Math.exp(-x));
    const gb = g.arraySync() as number[];
    expect(gb[0]).toBeCloseTo(1 - s(0.3), 5);
    expect(gb[1]).toBeCloseTo(-s(-0.2), 5);
    const gc = tf.grad((l: tf.Tensor) => Categorical({ logits: l }).logProb(tf.scalar(1)) as tf.Tensor)(tf.tensor1d([0, 0, 0]));
    const e = gc.arraySync() as number[];
    [-1 / 3, 2 / 3, -1 / 3].forEach((v, i) => expect(e[i]).toBeCloseTo(v, 5));
    const gp = tf.grad((p: tf.Tensor) => Poisson(p).logProb(tf.scalar(3)) as tf.Tensor)(tf.scalar(2));
    expect(gp.arraySync()).toBeCloseTo(3 / 2 - 1, 5);
  });

  it('logProb on the tensor path leaks no tensors', () => {
    const dists = [
      Bernoulli(tf.tensor1d([0.2, 0.4])),
      Categorical(tf.tensor2d([[0.5, 0.5], [0.1, 0.9]])),
      Binomial(tf.tensor1d([3, 4]), { logits: tf.tensor1d([0.1, 0.2]) }),
      Poisson(tf.tensor1d([1, 2])),
      Geometric({ logits: tf.tensor1d([0.1, 0.2]) }),
      NegativeBinomial(tf.tensor1d([1, 2]), 0.5),
    ];
    const x = tf.tensor1d([1, 0]);
    for (const d of dists) {
      const before = tf.memory().numTensors;
      const out = d.logProb(x) as tf.Tensor;
      out.dispose();
      const s = d.sample(new Rng(1), [3]) as tf.Tensor;
      s.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

// ---------------------------------------------------------------- enumeration

describe('enumerateSupport', () => {
  it('finite families with batch shape [] give cached plain-number arrays', () => {
    expect(Bernoulli(0.3).enumerateSupport()).toEqual([0, 1]);
    expect(Bernoulli(tf.scalar(0.3)).enumerateSupport()).toEqual([0, 1]);
    expect(Categorical([0.1, 0.2, 0.7]).enumerateSupport()).toEqual([0, 1, 2]);
    expect(Categorical(tf.tensor1d([0.5, 0.5])).enumerateSupport()).toEqual([0, 1]);
    expect(Binomial(3, 0.5).enumerateSupport()).toEqual([0, 1, 2, 3]);
    expect(Binomial(tf.scalar(2), tf.scalar(0.5)).enumerateSupport()).toEqual([0, 1, 2]);
    expect(Delta(4).enumerateSupport()).toEqual([4]);
    expect(Bernoulli(0.3).enumerateSupport()).toBe(Bernoulli(0.9).enumerateSupport());
    expect(Object.isFrozen(Binomial(3, 0.5).enumerateSupport())).toBe(true);
  });

  it('batched or infinite supports give undefined', () => {
    expect(Bernoulli(tf.tensor1d([0.3, 0.4])).enumerateSupport()).toBeUndefined();
    expect(Categorical(tf.tensor2d([[0.5, 0.5]])).enumerateSupport()).toBeUndefined();
    expect(Binomial(tf.tensor1d([2, 3]), 0.5).enumerateSupport()).toBeUndefined();
    for (const d of [Poisson(1), Geometric(0.5), NegativeBinomial(2, 0.5)]) expect(d.enumerateSupport()).toBeUndefined();
  });

  it('exact enumeration of a Binomial/Categorical/Bernoulli model matches a hand sum', async () => {
    const m = model(async ({ sample, observe }) => {
      const k = await sample('k', Binomial(4, 0.3));
      const c = await sample('c', Categorical([0.5, 0.25, 0.25]));
      await observe('y', Bernoulli((k + c) / 6), 1);
      return k;
    });
    const post = await infer(m, { method: 'enumerate' });
    const joint = (k: number, c: number) => choose(4, k) * 0.3 ** k * 0.7 ** (4 - k) * [0.5, 0.25, 0.25][c] * ((k + c) / 6);
    let z = 0;
    for (let k = 0; k <= 4; k++) for (let c = 0; c < 3; c++) z += joint(k, c);
    expect(Math.abs(post.logZ - Math.log(z))).toBeLessThan(1e-12);
    const pk2 = [0, 1, 2].reduce((s, c) => s + joint(2, c), 0) / z;
    const marg = post.marginal('k');
    expect(Math.abs(marg.prob(2) - pk2)).toBeLessThan(1e-12);
  });
});

describe('Poisson with an infinite rate', () => {
  it('puts no mass on finite counts (-Infinity, not NaN), on both paths', async () => {
    const { Poisson } = await import('../../src/distributions/poisson.js');
    const tfc = await import('@tensorflow/tfjs-core');
    expect(Poisson(Infinity).logProb(1)).toBe(-Infinity);
    const lp = Poisson(tfc.tensor1d([Infinity, 2])).logProb(tfc.tensor1d([1, 1])) as import('@tensorflow/tfjs-core').Tensor;
    const v = lp.dataSync();
    expect(v[0]).toBe(-Infinity);
    expect(v[1]).toBeCloseTo(Math.log(2) - 2, 5);
  });
});
