/**
 * Distribution methods called directly with plain JS arrays (as from JS, tsx
 * or a notebook): every family reads an array value as the tensor of its
 * shape (`valueArg` in distribution.ts), so `logProb(array)` equals
 * `logProb(tensor)`, and wrong inputs get an error naming the family, the
 * method and the expected vs given shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import type { Value } from '../../src/core/value.js';
import * as D from '../../src/distributions/index.js';
import type { Distribution } from '../../src/distributions/distribution.js';
import { Exp } from '../../src/transforms/elementwise.js';
import { Flow } from '../../src/flows/flow-distribution.js';
import { banana, targetDistribution } from '../../src/testing/targets-2d.js';

beforeAll(async () => {
  await initBackend('cpu');
});

type Nested = number | Nested[];

function read(v: Value): number[] {
  return typeof v === 'number' ? [v] : Array.from(v.dataSync());
}
function shape(v: Value): number[] {
  return typeof v === 'number' ? [] : v.shape;
}

/** Each family with a valid value of a non-trivial shape, as a plain array. */
const cases: [string, () => Distribution, Nested][] = [
  ['Normal', () => D.Normal(0.5, 2), [0.1, -1.2, 3]],
  ['Bernoulli', () => D.Bernoulli(0.3), [0, 1, 1]],
  ['Beta', () => D.Beta(2, 3), [0.2, 0.7]],
  ['Categorical', () => D.Categorical([0.2, 0.5, 0.3]), [0, 2, 1]],
  ['Categorical.expand', () => D.Categorical([0.2, 0.8]).expand([3]), [0, 1, 1]],
  ['Binomial', () => D.Binomial(5, 0.4), [0, 3, 5]],
  ['Poisson', () => D.Poisson(2.5), [0, 4]],
  ['Geometric', () => D.Geometric(0.3), [0, 2]],
  ['NegativeBinomial', () => D.NegativeBinomial(3, 0.4), [1, 6]],
  ['Multinomial', () => D.Multinomial(3, [0.2, 0.8]), [1, 2]],
  ['Multinomial batch', () => D.Multinomial(3, [0.2, 0.3, 0.5]), [[1, 1, 1], [0, 0, 3]]],
  ['Delta', () => D.Delta([2, 3]), [2, 3]],
  ['Transformed', () => D.Transformed(D.Normal(0, 1), Exp()), [0.5, 2]],
  ['MultivariateNormal', () => D.MultivariateNormal([0, 1], { covariance: [[2, 0.5], [0.5, 1]] }), [0.1, 0.2]],
  ['MultivariateNormal batch', () => D.MultivariateNormal([0, 1], { covariance: [[2, 0.5], [0.5, 1]] }), [[0.1, 0.2], [1, -1]]],
  ['Dirichlet', () => D.Dirichlet([1.5, 2, 3]), [0.2, 0.3, 0.5]],
  ['Dirichlet batch', () => D.Dirichlet([1.5, 2, 3]), [[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]],
  ['LKJCholesky', () => D.LKJCholesky(2, 2), [[1, 0], [0.6, 0.8]]],
  ['Independent', () => D.Independent(D.Normal([0, 1], 1), 1), [0.3, 0.4]],
  ['Mixture', () => D.Mixture(D.Categorical([0.3, 0.7]), [D.Normal(-1, 1), D.Normal(2, 0.5)]), [0, 1.5]],
  ['MixtureSameFamily', () => D.MixtureSameFamily(D.Categorical([0.3, 0.7]), D.Normal([-1, 2], [1, 0.5])), [0, 1.5]],
  ['Truncated', () => D.Truncated(D.Normal(0, 1), { low: -1, high: 2 }), [0.5, -0.5]],
  ['Gamma', () => D.Gamma(2, 3), [0.5, 1.5]],
  ['InverseGamma', () => D.InverseGamma(2, 3), [0.5, 1.5]],
  ['Exponential', () => D.Exponential(2), [0.5, 1.5]],
  ['LogNormal', () => D.LogNormal(0, 1), [0.5, 1.5]],
  ['HalfNormal', () => D.HalfNormal(2), [0.5, 1.5]],
  ['Cauchy', () => D.Cauchy(0, 1), [0.5, -1.5]],
  ['HalfCauchy', () => D.HalfCauchy(1), [0.5, 1.5]],
  ['StudentT', () => D.StudentT(4, 0, 1), [0.5, -1.5]],
  ['HalfStudentT', () => D.HalfStudentT(4, 1), [0.5, 1.5]],
  ['Laplace', () => D.Laplace(0, 1), [0.5, -1.5]],
  ['Logistic', () => D.Logistic(0, 1), [0.5, -1.5]],
  ['Uniform', () => D.Uniform(0, 2), [0.5, 1.5]],
  ['Flat', () => D.Flat(), [0.5, 1.5]],
  ['PoissonLog', () => D.PoissonLog(0.5), [0, 3]],
  ['BernoulliLogit', () => D.BernoulliLogit(-0.5), [0, 1]],
  ['BinomialLogit', () => D.BinomialLogit(4, 0.5), [0, 3]],
  ['NormalIdGlm', () => D.NormalIdGlm([[1, 0], [0, 1], [1, 1]], 0.5, [1, -1], 2), [0.5, -1, 1]],
  // the two subclasses outside src/distributions
  ['Flow (no layers: N(0, I))', () => Flow(2, []), [[0.5, -1], [0, 0]]],
  ['Target2D(banana)', () => targetDistribution(banana()), [[0.5, -1], [0, 0]]],
];

/** The elementwise cdf-side methods, with a valid array for `icdf`. */
const cdfMethods = ['cdf', 'logCdf', 'logSurvival', 'icdf'] as const;
const withCdf = ['Normal', 'Beta', 'Binomial', 'Poisson', 'Geometric', 'NegativeBinomial', 'Truncated', 'Gamma', 'InverseGamma', 'Exponential', 'LogNormal', 'HalfNormal', 'Cauchy', 'HalfCauchy', 'StudentT', 'HalfStudentT', 'Laplace', 'Logistic', 'Uniform'];

describe('distribution methods take plain arrays as values', () => {
  it('logProb(array) equals logProb(tensor) for every family', () => {
    const failures: string[] = [];
    for (const [name, make, value] of cases) {
      const d = make();
      try {
        const fromArray = d.logProb(value);
        const fromTensor = d.logProb(tf.tensor(value as number[]));
        expect(shape(fromArray), name).toEqual(shape(fromTensor));
        const a = read(fromArray);
        const t = read(fromTensor);
        expect(a.length, name).toBeGreaterThan(0);
        a.forEach((x, i) => {
          expect(Number.isFinite(x), `${name}[${i}] = ${x}`).toBe(true);
          expect(x, `${name}[${i}]`).toBeCloseTo(t[i]!, 5);
        });
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('cdf, logCdf, logSurvival and icdf take arrays where a family has them', () => {
    const failures: string[] = [];
    for (const [name, make, value] of cases) {
      if (!withCdf.includes(name)) continue;
      const d = make();
      for (const m of cdfMethods) {
        const arg: number[] = m === 'icdf' ? [0.2, 0.9] : (value as number[]);
        if (m === 'icdf' && ['Binomial', 'Poisson', 'Geometric', 'NegativeBinomial', 'Beta', 'Gamma', 'InverseGamma', 'StudentT', 'HalfStudentT'].includes(name)) continue;
        try {
          const fromArray = read(d[m](arg));
          const fromTensor = read(d[m](tf.tensor(arg)));
          expect(fromArray.length, `${name}.${m}`).toBe(arg.length);
          fromArray.forEach((x, i) => expect(x, `${name}.${m}[${i}]`).toBeCloseTo(fromTensor[i]!, 5));
        } catch (e) {
          failures.push(`${name}.${m}: ${(e as Error).message}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('the values the newcomer reported (session 10) have their hand-computed densities', () => {
    // Dirichlet(1, 1, 1) is uniform on the simplex: density Gamma(3) = 2
    expect(read(D.Dirichlet([1, 1, 1]).logProb([0.2, 0.3, 0.5]))[0]).toBeCloseTo(Math.log(2), 5);
    // Multinomial(3, [0.2, 0.8]) at [1, 2]: 3 * 0.2 * 0.8^2
    expect(read(D.Multinomial(3, [0.2, 0.8]).logProb([1, 2]))[0]).toBeCloseTo(Math.log(3 * 0.2 * 0.64), 5);
    // MultivariateNormal(0, I) in 2-d at [0, 0]: -log(2 pi)
    expect(read(D.MultivariateNormal([0, 0], { covariance: [[1, 0], [0, 1]] }).logProb([0, 0]))[0]).toBeCloseTo(-Math.log(2 * Math.PI), 5);
    const cat = read(D.Categorical([0.2, 0.8]).expand([3]).logProb([0, 1, 1]));
    [0.2, 0.8, 0.8].forEach((p, i) => expect(cat[i]).toBeCloseTo(Math.log(p), 6));
  });
});

describe('other array-like values', () => {
  it('typed arrays and booleans are read as observe reads them', () => {
    const d = D.Dirichlet([1.5, 2, 3]);
    const want = read(d.logProb(tf.tensor([0.2, 0.3, 0.5])))[0]!;
    expect(read(d.logProb(Float64Array.from([0.2, 0.3, 0.5])))[0]).toBeCloseTo(want, 6);
    expect(read(D.Bernoulli(0.3).logProb(true))[0]).toBeCloseTo(Math.log(0.3), 12);
    expect(read(D.Bernoulli(0.3).logProb([true, false] as never))).toEqual(read(D.Bernoulli(0.3).logProb(tf.tensor([1, 0]))));
  });

  it('the same array again adds no tensors (one cached conversion per array)', () => {
    const d = D.MultivariateNormal([0, 1], { covariance: [[2, 0.5], [0.5, 1]] });
    const x = [[0.1, 0.2], [1, -1]];
    const once = () => tf.dispose(d.logProb(x) as tf.Tensor);
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) once();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('wrong array values are reported with the family, the method and the shapes', () => {
  const mvn = () => D.MultivariateNormal([0, 0], { covariance: [[1, 0], [0, 1]] });
  it.each([
    ['Dirichlet, wrong length', () => D.Dirichlet([1, 1, 1]).logProb([0.5, 0.5]), /^Dirichlet\.logProb: expected a value whose last dimension is \[3\], got tensor of shape \[2\]/],
    ['Dirichlet, wrong nesting', () => D.Dirichlet([1, 1, 1]).logProb([[0.2], [0.3], [0.5]]), /^Dirichlet\.logProb: expected a value whose last dimension is \[3\], got tensor of shape \[3, 1\]/],
    ['Dirichlet, a string', () => D.Dirichlet([1, 1, 1]).logProb(['0.2', 0.3, 0.5] as never), /^Dirichlet\.logProb: value: element \[0\] is the string "0\.2"/],
    ['MultivariateNormal, wrong length', () => mvn().logProb([0.1, 0.2, 0.3]), /^MultivariateNormal\.logProb: expected a value whose last dimension is \[2\], got tensor of shape \[3\]/],
    ['LKJCholesky, flat', () => D.LKJCholesky(2, 1).logProb([1, 0, 0, 1]), /^LKJCholesky\.logProb: expected a value whose last 2 dimensions are \[2, 2\], got tensor of shape \[4\]/],
    ['Multinomial, wrong length', () => D.Multinomial(3, [0.2, 0.8]).logProb([1, 1, 1]), /^Multinomial\.logProb: value has 3 categories on its last axis, expected 2/],
    ['Normal, ragged', () => D.Normal(0, 1).logProb([[1, 2], [3]] as never), /^Normal\.logProb: value: the array is ragged: element \[1\] has length 1, element \[0\] has length 2/],
    ['Normal, a string', () => D.Normal(0, 1).logProb('1' as never), /^Normal\.logProb: value: expected a number, boolean, array or tensor, got string/],
    ['Normal.cdf, a null', () => D.Normal(0, 1).cdf([0, null] as never), /^Normal\.cdf: value: element \[1\] is null/],
    ['Categorical.expand, wrong length', () => D.Categorical([0.2, 0.8]).expand([3]).logProb([0, 1]), /^Categorical\.logProb: the value's batch shape \[2\] and the distribution's batch shape \[3\] do not broadcast \(expected a value of shape \[3\]\)$/],
    ['Dirichlet.expand, wrong batch', () => D.Dirichlet([1, 1, 1]).expand([2]).logProb([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]), /^Dirichlet\.logProb: the value's batch shape \[3\] and the distribution's batch shape \[2\] do not broadcast \(expected a value of shape \[2\], then the event shape \[3\]\)$/],
  ])('%s', (_label, call, message) => {
    expect(call).toThrow(message);
  });
});
