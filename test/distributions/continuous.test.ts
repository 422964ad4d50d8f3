/**
 * Scalar continuous families: closed-form log densities (number and tensor
 * paths), sample moments within Monte Carlo error, supports, parameter
 * validation, and properties over random parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { gammaincNumber, lgammaNumber, normalCdfNumber } from '../../src/core/special.js';
import { type Value, add } from '../../src/core/value.js';
import { Beta } from '../../src/distributions/beta.js';
import { Cauchy, HalfCauchy } from '../../src/distributions/cauchy.js';
import type { Distribution } from '../../src/distributions/distribution.js';
import { Exponential } from '../../src/distributions/exponential.js';
import { FLOAT32_TINY, Gamma } from '../../src/distributions/gamma.js';
import { HalfNormal } from '../../src/distributions/half-normal.js';
import { InverseGamma } from '../../src/distributions/inverse-gamma.js';
import { Laplace } from '../../src/distributions/laplace.js';
import { LogNormal } from '../../src/distributions/lognormal.js';
import { StudentT } from '../../src/distributions/student-t.js';
import { Uniform } from '../../src/distributions/uniform.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const SQRT_PI = Math.sqrt(Math.PI);
const SQRT_2PI = Math.sqrt(2 * Math.PI);
const N = 20000;

type Make = (...p: Value[]) => Distribution;

interface Family {
  label: string;
  make: Make;
  params: number[];
  /** Closed-form density. */
  pdf: (x: number) => number;
  /** Points in the support where the density is finite and positive. */
  xs: number[];
  /** Points outside the support. */
  outside: number[];
  mean?: number;
  variance?: number;
  /** Excess kurtosis, for the Monte Carlo error of the sample variance. */
  kurtosis?: number;
}

const families: Family[] = [
  {
    label: 'LogNormal(0.3, 0.5)',
    make: (m, s) => LogNormal(m, s),
    params: [0.3, 0.5],
    pdf: (x) => Math.exp(-((Math.log(x) - 0.3) ** 2) / 0.5) / (x * 0.5 * SQRT_2PI),
    xs: [0.1, 0.5, 1, 2.5, 10],
    outside: [-1, 0],
    mean: Math.exp(0.3 + 0.125),
    variance: Math.expm1(0.25) * Math.exp(0.85),
    kurtosis: Math.exp(1) + 2 * Math.exp(0.75) + 3 * Math.exp(0.5) - 6,
  },
  {
    label: 'HalfNormal(1.7)',
    make: (s) => HalfNormal(s),
    params: [1.7],
    pdf: (x) => (Math.SQRT2 / (1.7 * SQRT_PI)) * Math.exp(-(x * x) / (2 * 2.89)),
    xs: [0, 0.3, 1, 4],
    outside: [-0.5, -1e-12],
    mean: 1.7 * Math.sqrt(2 / Math.PI),
    variance: 2.89 * (1 - 2 / Math.PI),
    kurtosis: (8 * (Math.PI - 3)) / (Math.PI - 2) ** 2,
  },
  {
    label: 'Cauchy(-1, 2)',
    make: (m, s) => Cauchy(m, s),
    params: [-1, 2],
    pdf: (x) => 1 / (Math.PI * 2 * (1 + ((x + 1) / 2) ** 2)),
    xs: [-10, -1, 0, 3, 100],
    outside: [],
  },
  {
    label: 'HalfCauchy(1.5)',
    make: (s) => HalfCauchy(s),
    params: [1.5],
    pdf: (x) => 2 / (Math.PI * 1.5 * (1 + (x / 1.5) ** 2)),
    xs: [0, 0.5, 3, 50],
    outside: [-0.1],
  },
  {
    label: 'StudentT(10, 1, 2)',
    make: (df, m, s) => StudentT(df, m, s),
    params: [10, 1, 2],
    // Gamma(5.5) = 4.5 * 3.5 * 2.5 * 1.5 * 0.5 * sqrt(pi), Gamma(5) = 24
    pdf: (x) => ((4.5 * 3.5 * 2.5 * 1.5 * 0.5 * SQRT_PI) / (24 * Math.sqrt(10 * Math.PI) * 2)) * (1 + ((x - 1) / 2) ** 2 / 10) ** -5.5,
    xs: [-20, -1, 1, 2.5, 30],
    outside: [],
    mean: 1,
    variance: 5,
    kurtosis: 1,
  },
  {
    label: 'StudentT(3)',
    make: (df) => StudentT(df),
    params: [3],
    pdf: (x) => (2 / (Math.PI * Math.sqrt(3))) * (1 + (x * x) / 3) ** -2,
    xs: [-5, 0, 0.7, 40],
    outside: [],
    mean: 0,
    variance: 3,
  },
  {
    label: 'Laplace(0.5, 1.5)',
    make: (m, s) => Laplace(m, s),
    params: [0.5, 1.5],
    pdf: (x) => Math.exp(-Math.abs(x - 0.5) / 1.5) / 3,
    xs: [-4, 0.5, 0.6, 7],
    outside: [],
    mean: 0.5,
    variance: 4.5,
    kurtosis: 3,
  },
  {
    label: 'Uniform(-2, 3)',
    make: (l, h) => Uniform(l, h),
    params: [-2, 3],
    pdf: () => 0.2,
    xs: [-2, 0, 1.3, 3],
    outside: [-2.01, 3.5],
    mean: 0.5,
    variance: 25 / 12,
    kurtosis: -1.2,
  },
  {
    label: 'Exponential(2.5)',
    make: (r) => Exponential(r),
    params: [2.5],
    pdf: (x) => 2.5 * Math.exp(-2.5 * x),
    xs: [0, 0.1, 3],
    outside: [-1e-9, -3],
    mean: 0.4,
    variance: 0.16,
    kurtosis: 6,
  },
  {
    label: 'Gamma(2.5, 1.5)',
    make: (a, b) => Gamma(a, b),
    params: [2.5, 1.5],
    pdf: (x) => (1.5 ** 2.5 * x ** 1.5 * Math.exp(-1.5 * x)) / ((3 * SQRT_PI) / 4),
    xs: [0.01, 1, 5, 20],
    outside: [0, -1],
    mean: 2.5 / 1.5,
    variance: 2.5 / 2.25,
    kurtosis: 6 / 2.5,
  },
  {
    label: 'Gamma(0.5, 2)',
    make: (a, b) => Gamma(a, b),
    params: [0.5, 2],
    pdf: (x) => (Math.SQRT2 * x ** -0.5 * Math.exp(-2 * x)) / SQRT_PI,
    xs: [1e-8, 0.3, 4],
    outside: [-2],
    mean: 0.25,
    variance: 0.125,
    kurtosis: 12,
  },
  {
    label: 'InverseGamma(7, 2)',
    make: (a, b) => InverseGamma(a, b),
    params: [7, 2],
    pdf: (x) => (2 ** 7 * x ** -8 * Math.exp(-2 / x)) / 720,
    xs: [0.05, 0.3, 1, 8],
    outside: [0, -0.5],
    mean: 2 / 6,
    variance: 4 / (36 * 5),
    kurtosis: (6 * (5 * 7 - 11)) / (4 * 3),
  },
  {
    label: 'Beta(2, 3)',
    make: (a, b) => Beta(a, b),
    params: [2, 3],
    pdf: (x) => 12 * x * (1 - x) ** 2,
    xs: [0.01, 0.2, 0.5, 0.99],
    outside: [-0.1, 1.0001],
    mean: 0.4,
    variance: 0.04,
    kurtosis: (6 * (1 * 6 - 6 * 7)) / (6 * 7 * 8),
  },
  {
    label: 'Beta(0.5, 0.5)',
    make: (a, b) => Beta(a, b),
    params: [0.5, 0.5],
    pdf: (x) => 1 / (Math.PI * Math.sqrt(x * (1 - x))),
    xs: [1e-6, 0.3, 0.5, 0.999],
    outside: [-1, 2],
    mean: 0.5,
    variance: 0.125,
    kurtosis: -1.5,
  },
  {
    label: 'Beta(0.2, 0.3)',
    make: (a, b) => Beta(a, b),
    params: [0.2, 0.3],
    pdf: (x) => Math.exp(-0.8 * Math.log(x) - 0.7 * Math.log1p(-x) - (lgammaNumber(0.2) + lgammaNumber(0.3) - lgammaNumber(0.5))),
    xs: [1e-3, 0.5, 0.9],
    outside: [-1e-3, 1.5],
    mean: 0.4,
    variance: 0.06 / (0.25 * 1.5),
    kurtosis: (6 * (0.01 * 1.5 - 0.06 * 2.5)) / (0.06 * 2.5 * 3.5),
  },
];

const tensorParams = (f: Family): tf.Tensor[] => f.params.map((p) => tf.tensor1d([p]));
const data = (v: Value): Float32Array => (typeof v === 'number' ? Float32Array.of(v) : (v.dataSync() as Float32Array));

/** |a - b| within `rel` relative to max(1, |b|), treating equal infinities as equal. */
function close(a: number, b: number, rel: number): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));
}

function moments(xs: ArrayLike<number>): { mean: number; variance: number } {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m += xs[i];
  m /= xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - m) ** 2;
  return { mean: m, variance: v / (xs.length - 1) };
}

/** Mean within 4.5 MCSE; variance too when the excess kurtosis is known. */
function expectMoments(xs: ArrayLike<number>, f: Family): void {
  const { mean, variance } = moments(xs);
  const sd = Math.sqrt(f.variance!);
  expect(Math.abs(mean - f.mean!), `${f.label} mean ${mean}`).toBeLessThan((4.5 * sd) / Math.sqrt(xs.length));
  if (f.kurtosis !== undefined) {
    const se = f.variance! * Math.sqrt((f.kurtosis + 2) / xs.length);
    expect(Math.abs(variance - f.variance!), `${f.label} variance ${variance}`).toBeLessThan(4.5 * se);
  }
}

/**
 * Kolmogorov–Smirnov statistic of draws against a continuous cdf. Draws may
 * be clamped up to `floor` (float32 gamma draws are clamped to the smallest
 * normal float32), which puts an atom of mass cdf(floor) there; ties are
 * grouped so that atom is compared correctly.
 */
function ksStatistic(xs: ArrayLike<number>, cdf: (x: number) => number, floor = 0): number {
  const s = Float64Array.from(xs).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && s[j] === s[i]) j++;
    const f = cdf(s[i]);
    const left = s[i] <= floor ? 0 : f;
    d = Math.max(d, j / n - f, left - i / n);
    i = j;
  }
  return d;
}
/** KS critical value at level 1e-5 (asymptotic). */
const ksBound = (n: number): number => Math.sqrt(-Math.log(0.5e-5) / 2) / Math.sqrt(n);

describe('log densities match closed forms', () => {
  for (const f of families) {
    it(f.label, () => {
      const d = f.make(...f.params);
      for (const x of f.xs) {
        const want = Math.log(f.pdf(x));
        const got = d.logProb(x);
        expect(typeof got).toBe('number');
        expect(close(got as number, want, 1e-9), `${f.label} at ${x}: ${got} vs ${want}`).toBe(true);
      }
      // tensor path: tensor parameters and values, float32 precision
      tf.tidy(() => {
        const dt = f.make(...tensorParams(f));
        const lp = dt.logProb(tf.tensor2d(f.xs, [f.xs.length, 1])) as tf.Tensor;
        expect(lp.shape).toEqual([f.xs.length, 1]);
        const got = lp.dataSync();
        f.xs.forEach((x, i) => expect(close(got[i], Math.log(f.pdf(x)), 1e-4), `${f.label} tensor at ${x}: ${got[i]}`).toBe(true));
        // number parameters with a tensor value agree as well
        const mixed = d.logProb(tf.tensor1d(f.xs)) as tf.Tensor;
        mixed.dataSync().forEach((v, i) => expect(close(v, Math.log(f.pdf(f.xs[i])), 1e-4)).toBe(true));
      });
    });
  }
});

describe('supports', () => {
  for (const f of families) {
    it(`${f.label}: -Infinity outside the support and at NaN/Infinity, never NaN`, () => {
      const d = f.make(...f.params);
      for (const x of [...f.outside, NaN, Infinity, -Infinity]) expect(d.logProb(x), `${f.label} at ${x}`).toBe(-Infinity);
      tf.tidy(() => {
        const bad = [...f.outside, NaN, Infinity, -Infinity];
        const lp = f.make(...tensorParams(f)).logProb(tf.tensor2d(bad, [bad.length, 1])) as tf.Tensor;
        for (const v of lp.dataSync()) expect(v).toBe(-Infinity);
      });
    });
  }

  it('Gamma at 0 (its closed support, as Stan, SciPy, PyTorch and Exponential): rate for a = 1, +Infinity below, -Infinity above, never NaN', () => {
    expect(Gamma(1, 3).logProb(0)).toBeCloseTo(Math.log(3), 12);
    expect(Gamma(0.5, 2).logProb(0)).toBe(Infinity);
    expect(Gamma(2, 2).logProb(0)).toBe(-Infinity);
    tf.tidy(() => {
      const v = (Gamma(tf.tensor1d([0.5, 2, 1]), tf.tensor1d([2, 2, 3])).logProb(tf.zeros([3])) as tf.Tensor).dataSync();
      expect(v[0]).toBe(Infinity);
      expect(v[1]).toBe(-Infinity);
      expect(v[2]).toBeCloseTo(Math.log(3), 5);
    });
  });

  it('Beta at the end points: finite, +Infinity or -Infinity by the exponents, never NaN', () => {
    expect(Beta(1, 1).logProb(0)).toBeCloseTo(0, 12);
    expect(Beta(1, 3).logProb(0)).toBeCloseTo(Math.log(3), 12);
    expect(Beta(0.5, 2).logProb(0)).toBe(Infinity);
    expect(Beta(2, 2).logProb(0)).toBe(-Infinity);
    expect(Beta(2, 1).logProb(1)).toBeCloseTo(Math.log(2), 12);
    expect(Beta(2, 0.5).logProb(1)).toBe(Infinity);
    tf.tidy(() => {
      const lp = Beta(tf.tensor1d([1, 0.5, 2]), tf.tensor1d([3, 2, 2])).logProb(tf.zeros([3])) as tf.Tensor;
      const v = lp.dataSync();
      expect(v[0]).toBeCloseTo(Math.log(3), 5);
      expect(v[1]).toBe(Infinity);
      expect(v[2]).toBe(-Infinity);
    });
  });

  it('gradients of the log density stay finite when some values fall outside the support', () => {
    tf.tidy(() => {
      const x = tf.tensor1d([-1, 0.5, 2]);
      for (const make of [(a: tf.Tensor) => Gamma(a, 2), (a: tf.Tensor) => Beta(a, 2), (a: tf.Tensor) => InverseGamma(a, 1), (a: tf.Tensor) => LogNormal(0, a)]) {
        const g = tf.grad((a: tf.Tensor) => tf.sum(tf.where(tf.isFinite(make(a).logProb(x) as tf.Tensor), make(a).logProb(x) as tf.Tensor, tf.zerosLike(x))))(tf.scalar(1.5));
        expect(Number.isFinite(g.dataSync()[0])).toBe(true);
      }
    });
  });

  it('a number outside the support gives a batch of -Infinity under tensor parameters', () => {
    tf.tidy(() => {
      const lp = Gamma(tf.tensor1d([1, 2])).logProb(-1) as tf.Tensor;
      expect(lp.shape).toEqual([2]);
      expect(Array.from(lp.dataSync())).toEqual([-Infinity, -Infinity]);
    });
  });

  it('Uniform with tensor bounds has an elementwise support', () => {
    tf.tidy(() => {
      const d = Uniform(tf.tensor1d([0, 1]), tf.tensor1d([2, 5]));
      expect(Array.from((d.logProb(tf.tensor1d([0.5, 0.5])) as tf.Tensor).dataSync())).toEqual([Math.fround(-Math.log(2)), -Infinity]);
      expect(Array.from((d.logProb(1.5) as tf.Tensor).dataSync())).toEqual([Math.fround(-Math.log(2)), Math.fround(-Math.log(4))]);
    });
  });
});

describe('sampling', () => {
  for (const f of families.filter((g) => g.mean !== undefined)) {
    it(`${f.label}: scalar and tensor draws match the mean and variance`, () => {
      const d = f.make(...f.params);
      const rng = new Rng(`moments ${f.label}`);
      const scalar = new Float64Array(N);
      expect(typeof d.sample(rng)).toBe('number');
      for (let i = 0; i < N; i++) scalar[i] = d.sample(rng) as number;
      expectMoments(scalar, f);
      expect(close(d.mean as number, f.mean!, 1e-12)).toBe(true);
      expect(close(d.variance as number, f.variance!, 1e-12)).toBe(true);
      tf.tidy(() => {
        const dt = f.make(...tensorParams(f));
        const draws = dt.sample(rng, [N]) as tf.Tensor;
        expect(draws.shape).toEqual([N, 1]);
        expect(draws.dtype).toBe('float32');
        expectMoments(draws.dataSync(), f);
        expect(close((dt.mean as tf.Tensor).dataSync()[0], f.mean!, 1e-5)).toBe(true);
      });
    });
  }

  it('Cauchy and HalfCauchy draws have the right median and quartiles', () => {
    const rng = new Rng('cauchy');
    const bound = 4.5 * Math.sqrt(0.25 / N);
    const frac = (xs: ArrayLike<number>, p: (x: number) => boolean) => Array.from(xs).filter(p).length / xs.length;
    const c = data(Cauchy(-1, 2).sample(rng, [N]));
    expect(Math.abs(frac(c, (x) => x < -1) - 0.5)).toBeLessThan(bound);
    expect(Math.abs(frac(c, (x) => Math.abs(x + 1) < 2) - 0.5)).toBeLessThan(bound);
    const h = Array.from({ length: N }, () => HalfCauchy(1.5).sample(rng) as number);
    expect(Math.abs(frac(h, (x) => x < 1.5) - 0.5)).toBeLessThan(bound);
    expect(Math.abs(frac(h, (x) => x < 1.5 * Math.tan(Math.PI / 8)) - 0.25)).toBeLessThan(bound);
    expect(h.every((x) => x >= 0)).toBe(true);
  });

  it('Gamma, Beta and Exponential draws pass Kolmogorov–Smirnov tests against their cdfs', () => {
    const rng = new Rng('ks');
    const scalarDraws = (d: Distribution) => Array.from({ length: N }, () => d.sample(rng) as number);
    const cases: [Distribution, (x: number) => number][] = [
      [Gamma(0.3), (x) => gammaincNumber(0.3, x)],
      [Gamma(5, 2), (x) => gammaincNumber(5, 2 * x)],
      [Gamma(0.01), (x) => gammaincNumber(0.01, x)],
      [Beta(0.3, 1), (x) => x ** 0.3],
      [Beta(1, 0.4), (x) => 1 - (1 - x) ** 0.4],
      [Exponential(3), (x) => -Math.expm1(-3 * x)],
    ];
    for (const [d, cdf] of cases) {
      expect(ksStatistic(scalarDraws(d), cdf), `${d.name} scalar`).toBeLessThan(ksBound(N));
      tf.tidy(() => {
        expect(ksStatistic(data(d.sample(rng, [N])), cdf, FLOAT32_TINY), `${d.name} tensor`).toBeLessThan(ksBound(N));
      });
    }
  });

  it('draws have shape sampleShape ++ batchShape and are reproducible from the seed', () => {
    tf.tidy(() => {
      for (const f of families) {
        const d = f.make(...f.params.map((p) => tf.tensor1d([p, p])));
        expect(d.batchShape).toEqual([2]);
        const a = d.sample(new Rng(7), [3]) as tf.Tensor;
        const b = d.sample(new Rng(7), [3]) as tf.Tensor;
        expect(a.shape).toEqual([3, 2]);
        expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
        expect(f.make(...f.params).batchShape).toEqual([]);
        expect((f.make(...f.params).sample(new Rng(1), [4, 5]) as tf.Tensor).shape).toEqual([4, 5]);
        expect(d.hasRsample).toBe(true);
      }
    });
  });

  it('tiny concentrations give positive draws inside the support', () => {
    const rng = new Rng('tiny');
    tf.tidy(() => {
      const g = data(Gamma(tf.scalar(0.001)).sample(rng, [1000]));
      expect(g.every((x) => x > 0)).toBe(true);
      const b = data(Beta(0.01, 0.01).sample(rng, [1000]));
      expect(b.every((x) => x > 0 && x < 1)).toBe(true);
      // each draw sits near an end point, each end with probability 1/2
      expect(Math.abs(b.filter((x) => x < 0.5).length / 1000 - 0.5)).toBeLessThan(4.5 * Math.sqrt(0.25 / 1000));
    });
    for (let i = 0; i < 100; i++) {
      const x = Beta(0.01, 0.02).sample(rng) as number;
      expect(x > 0 && x < 1).toBe(true);
      expect(Number.isFinite(Beta(0.01, 0.02).logProb(x) as number)).toBe(true);
    }
  });
});

describe('moments', () => {
  it('Cauchy moments are undefined and say so; HalfCauchy moments are infinite', () => {
    expect(() => Cauchy(0, 1).mean).toThrow(/Cauchy: the mean is undefined/);
    expect(() => Cauchy(0, 1).variance).toThrow(/Cauchy: the variance is undefined/);
    expect(HalfCauchy(1).mean).toBe(Infinity);
    expect(HalfCauchy(1).variance).toBe(Infinity);
  });

  it('StudentT and InverseGamma moments follow their existence conditions', () => {
    expect(() => StudentT(1).mean).toThrow(/StudentT: the mean is undefined unless df > 1/);
    expect(() => StudentT(tf.tensor1d([3, 0.5])).variance).toThrow(/StudentT: the variance/);
    expect(StudentT(1.5).variance).toBe(Infinity);
    expect(StudentT(4, 0, 2).variance).toBeCloseTo(8, 12);
    expect(InverseGamma(0.5).mean).toBe(Infinity);
    expect(InverseGamma(1.5).variance).toBe(Infinity);
    tf.tidy(() => {
      const v = (InverseGamma(tf.tensor1d([3, 2]), 2).variance as tf.Tensor).dataSync();
      expect(v[0]).toBeCloseTo(1, 5);
      expect(v[1]).toBe(Infinity);
    });
  });
});

describe('parameter validation', () => {
  const bad: [() => unknown, RegExp][] = [
    [() => LogNormal(0, 0), /LogNormal: parameter scale must be positive/],
    [() => HalfNormal(-1), /HalfNormal: parameter scale must be positive/],
    [() => Cauchy(0, -1), /Cauchy: parameter scale/],
    [() => HalfCauchy(0), /HalfCauchy: parameter scale/],
    [() => StudentT(0), /StudentT: parameter df/],
    [() => StudentT(3, 0, -2), /StudentT: parameter scale/],
    [() => Laplace(0, 0), /Laplace: parameter scale/],
    [() => Uniform(1, 1), /Uniform: parameter high must be greaterThan\(1\)/],
    [() => Exponential(-2), /Exponential: parameter rate/],
    [() => Gamma(-1), /Gamma: parameter concentration/],
    [() => Gamma(1, 0), /Gamma: parameter rate/],
    [() => Gamma(NaN), /Gamma: parameter concentration is NaN/],
    [() => InverseGamma(0), /InverseGamma: parameter concentration/],
    [() => InverseGamma(1, -1), /InverseGamma: parameter rate/],
    [() => Beta(0, 1), /Beta: parameter concentration1/],
    [() => Beta(1, -1), /Beta: parameter concentration0/],
    [() => Gamma(tf.tensor1d([1, -1])), /Gamma: parameter concentration must be positive, got tensor of shape \[2\]/],
    [() => Uniform(tf.tensor1d([0, 2]), tf.tensor1d([1, 1])), /Uniform: parameter high/],
    // (deferred from construction to the distribution's first use, so that a model's site can name itself: minor-session8)
    [() => Gamma(tf.tensor1d([1, 2]), tf.tensor1d([1, 2, 3])).sample(new Rng(1)), /Gamma: parameters concentration of shape \[2\] and rate of shape \[3\] do not broadcast/],
  ];
  for (const [make, msg] of bad) it(`throws ${msg.source}`, () => expect(make).toThrow(msg));
});

describe('properties over random parameters', () => {
  const pos = (min: number, max: number) => fc.double({ min, max, noNaN: true });

  it('logProb is finite on the support and the tensor path agrees with the number path', () => {
    const cases: [string, fc.Arbitrary<number[]>, (p: Value[]) => Distribution, (p: number[], u: number) => number][] = [
      ['Gamma', fc.tuple(pos(0.05, 50), pos(0.05, 20)), (p) => Gamma(p[0], p[1]), (p, u) => (u * 10 * p[0]) / p[1] + 1e-6],
      ['Beta', fc.tuple(pos(0.05, 50), pos(0.05, 50)), (p) => Beta(p[0], p[1]), (_, u) => 1e-4 + u * (1 - 2e-4)],
      ['InverseGamma', fc.tuple(pos(0.05, 50), pos(0.05, 20)), (p) => InverseGamma(p[0], p[1]), (p, u) => p[1] / (u * 10 * p[0] + 1e-3)],
      ['StudentT', fc.tuple(pos(0.1, 100), pos(-10, 10), pos(0.01, 10)), (p) => StudentT(p[0], p[1], p[2]), (p, u) => p[1] + p[2] * (u - 0.5) * 100],
      ['LogNormal', fc.tuple(pos(-3, 3), pos(0.05, 3)), (p) => LogNormal(p[0], p[1]), (p, u) => Math.exp(p[0] + p[1] * (u - 0.5) * 10)],
      ['Laplace', fc.tuple(pos(-10, 10), pos(0.01, 10)), (p) => Laplace(p[0], p[1]), (p, u) => p[0] + p[1] * (u - 0.5) * 40],
      ['Uniform', fc.tuple(pos(-10, 10), pos(0.01, 10)), (p) => Uniform(p[0], add(p[0], p[1])), (p, u) => p[0] + u * p[1]],
      ['HalfNormal', fc.tuple(pos(0.01, 10)), (p) => HalfNormal(p[0]), (p, u) => p[0] * u * 5],
      ['HalfCauchy', fc.tuple(pos(0.01, 10)), (p) => HalfCauchy(p[0]), (p, u) => (p[0] * u) / (1 - u + 1e-3)],
      ['Cauchy', fc.tuple(pos(-10, 10), pos(0.01, 10)), (p) => Cauchy(p[0], p[1]), (p, u) => p[0] + p[1] * Math.tan(Math.PI * (u - 0.5) * 0.99)],
      ['Exponential', fc.tuple(pos(0.01, 10)), (p) => Exponential(p[0]), (p, u) => (u * 10) / p[0]],
    ];
    for (const [name, params, make, point] of cases) {
      fc.assert(
        fc.property(params, fc.double({ min: 0, max: 1, noNaN: true }), (p, u) => {
          const x = point(p, u);
          const lp = make(p).logProb(x) as number;
          expect(Number.isFinite(lp), `${name}(${p}) at ${x}: ${lp}`).toBe(true);
          const lt = tf.tidy(() => (make(p.map((v) => tf.scalar(v))).logProb(tf.scalar(x)) as tf.Tensor).dataSync()[0]);
          expect(Math.abs(lt - lp), `${name}(${p}) tensor at ${x}: ${lt} vs ${lp}`).toBeLessThan(2e-4 * Math.max(1, Math.abs(lp)));
        }),
        { numRuns: 40, seed: 20261123 },
      );
    }
  });

  /** Trapezoid rule of exp(logProb(x(s)) + log x'(s)) over s in [lo, hi]: spectrally accurate for these integrands. */
  function integrate(d: Distribution, map: (s: number) => [number, number], lo: number, hi: number, h = 0.01): number {
    let sum = 0;
    for (let s = lo; s <= hi; s += h) {
      const [x, logJac] = map(s);
      sum += Math.exp((d.logProb(x) as number) + logJac);
    }
    return sum * h;
  }
  const expMap = (s: number): [number, number] => [Math.exp(s), s];

  it('densities integrate to 1 (numerical quadrature)', () => {
    const cases: [string, fc.Arbitrary<number[]>, (p: number[]) => number][] = [
      ['Gamma', fc.tuple(pos(0.5, 30), pos(0.2, 5)), (p) => integrate(Gamma(p[0], p[1]), expMap, -120, 8)],
      ['InverseGamma', fc.tuple(pos(0.5, 30), pos(0.2, 5)), (p) => integrate(InverseGamma(p[0], p[1]), expMap, -8, 120)],
      ['Beta', fc.tuple(pos(1, 30), pos(1, 30)), (p) => integrate(Beta(p[0], p[1]), (s) => [1 / (1 + Math.exp(-s)), -Math.log1p(Math.exp(-s)) - Math.log1p(Math.exp(s))], -36, 36)],
      ['StudentT', fc.tuple(pos(0.5, 50), pos(-5, 5), pos(0.1, 5)), (p) => integrate(StudentT(p[0], p[1], p[2]), (s) => [p[1] + p[2] * Math.sinh(s), Math.log(p[2] * Math.cosh(s))], -90, 90)],
      ['LogNormal', fc.tuple(pos(-2, 2), pos(0.1, 2)), (p) => integrate(LogNormal(p[0], p[1]), expMap, p[0] - 40 * p[1], p[0] + 40 * p[1], 0.002)],
    ];
    for (const [name, params, total] of cases) {
      fc.assert(
        fc.property(params, (p) => {
          const z = total(p);
          expect(Math.abs(z - 1), `${name}(${p}) integrates to ${z}`).toBeLessThan(1e-6);
        }),
        { numRuns: 12, seed: 7 },
      );
    }
  });
});

describe('cdf and icdf', () => {
  const Phi = normalCdfNumber;
  const cases: { label: string; d: () => Distribution; cdf: (x: number) => number; xs: number[]; below?: number; icdf: boolean }[] = [
    { label: 'Exponential(2.5)', d: () => Exponential(2.5), cdf: (x) => 1 - Math.exp(-2.5 * x), xs: [0, 0.1, 1, 5], below: -1, icdf: true },
    { label: 'Uniform(-2, 3)', d: () => Uniform(-2, 3), cdf: (x) => (x + 2) / 5, xs: [-2, 0, 2.5, 3], below: -3, icdf: true },
    { label: 'Laplace(0.5, 1.5)', d: () => Laplace(0.5, 1.5), cdf: (x) => (x < 0.5 ? 0.5 * Math.exp((x - 0.5) / 1.5) : 1 - 0.5 * Math.exp(-(x - 0.5) / 1.5)), xs: [-5, 0, 0.5, 2, 9], icdf: true },
    { label: 'Cauchy(-1, 2)', d: () => Cauchy(-1, 2), cdf: (x) => 0.5 + Math.atan((x + 1) / 2) / Math.PI, xs: [-30, -1, 0, 4], icdf: true },
    { label: 'HalfCauchy(1.5)', d: () => HalfCauchy(1.5), cdf: (x) => (2 / Math.PI) * Math.atan(x / 1.5), xs: [0, 0.4, 1.5, 20], below: -1, icdf: true },
    { label: 'HalfNormal(1.7)', d: () => HalfNormal(1.7), cdf: (x) => 2 * Phi(x / 1.7) - 1, xs: [0, 0.5, 1.7, 5], below: -0.1, icdf: true },
    { label: 'LogNormal(0.3, 0.5)', d: () => LogNormal(0.3, 0.5), cdf: (x) => Phi((Math.log(x) - 0.3) / 0.5), xs: [0.2, 1, 1.35, 6], below: -1, icdf: true },
    { label: 'Gamma(3, 2)', d: () => Gamma(3, 2), cdf: (x) => 1 - Math.exp(-2 * x) * (1 + 2 * x + 2 * x * x), xs: [0.01, 0.5, 1.5, 8], below: -1, icdf: false },
    { label: 'InverseGamma(3, 2)', d: () => InverseGamma(3, 2), cdf: (x) => Math.exp(-2 / x) * (1 + 2 / x + 2 / (x * x)), xs: [0.05, 0.5, 1, 30], below: -1, icdf: false },
  ];
  for (const c of cases) {
    it(`${c.label}: closed form, tensor path${c.icdf ? ', icdf inverts it' : ''}`, () => {
      const d = c.d();
      for (const x of c.xs) {
        const f = d.cdf(x) as number;
        expect(Math.abs(f - c.cdf(x)), `${c.label} cdf(${x})`).toBeLessThan(1e-12);
        if (c.icdf && f > 0 && f < 1) expect(close(d.icdf(f) as number, x, 1e-9), `${c.label} icdf(cdf(${x}))`).toBe(true);
      }
      if (c.below !== undefined) expect(d.cdf(c.below)).toBe(0);
      tf.tidy(() => {
        const t = (d.cdf(tf.tensor1d(c.xs)) as tf.Tensor).dataSync();
        c.xs.forEach((x, i) => expect(Math.abs(t[i] - c.cdf(x))).toBeLessThan(1e-6));
      });
    });
  }

  it('Gamma and InverseGamma cdfs are differentiable: d/dx is the density, d/dalpha matches a finite difference', () => {
    tf.tidy(() => {
      const xs = tf.tensor1d([0.3, 1.2, 4]);
      for (const make of [(a: Value) => Gamma(a, 1.5), (a: Value) => InverseGamma(a, 1.5)]) {
        const a = tf.scalar(2.5);
        const dx = tf.grad((x: tf.Tensor) => tf.sum(make(a).cdf(x) as tf.Tensor))(xs).dataSync();
        const dens = (tf.exp(make(a).logProb(xs) as tf.Tensor) as tf.Tensor).dataSync();
        dx.forEach((v, i) => expect(close(v, dens[i], 1e-5)).toBe(true));
        const da = tf.grad((s: tf.Tensor) => tf.sum(make(s).cdf(xs) as tf.Tensor))(a).dataSync()[0];
        const h = 1e-5;
        const fd = [0.3, 1.2, 4].reduce((acc, x) => acc + ((make(2.5 + h).cdf(x) as number) - (make(2.5 - h).cdf(x) as number)) / (2 * h), 0);
        expect(close(da, fd, 1e-5)).toBe(true);
      }
    });
  });
});
