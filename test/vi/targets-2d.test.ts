/**
 * The 2-D targets of `src/testing/targets-2d.ts`: each exact sampler agrees
 * with its log density (histogram chi-square against grid quadrature), each
 * density is normalised (quadrature), the quadrature is right on a Gaussian
 * with a known normaliser, and a flow fitted to two-moons draws beats the
 * maximum-likelihood Gaussian on held-out draws (its own sampler and density
 * agreeing too).
 *
 * Error rates: every chi-square check passes at p > 0.001, so a correct
 * sampler fails one with probability 0.001 (the seeds are fixed, so the
 * outcome is reproducible); the planted bugs give p-values below 1e-9.
 * The quadrature tolerance (1e-3) is far above the midpoint rule's error on
 * these smooth densities over boxes that leave out < 1e-4 of the mass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import { fitFlow, maf, reverse } from '../../src/flows/index.js';
import {
  type Target2D,
  banana,
  gaussianMle,
  histogramChiSquare,
  logBesselI0,
  quadratureLogZ,
  ringMixture,
  targetDistribution,
  twoMoons,
} from '../../src/testing/targets-2d.js';
import { meanAndSe } from '../../src/diagnostics/empirical.js';

beforeAll(async () => {
  await initBackend('cpu');
});


const TARGETS: [Target2D, Target2D][] = [
  // [the target, the same family with a slightly wrong parameter (a planted sampler bug)]
  [banana(), banana({ noise: 0.6 })],
  [twoMoons(), twoMoons({ noise: 0.12 })],
  [ringMixture(), ringMixture({ sd: 0.28 })],
];

describe('2-D targets', () => {
  it('log I0 matches reference values', () => {
    // I0(1), I0(10) (Abramowitz and Stegun, table 9.8)
    expect(logBesselI0(0)).toBe(0);
    expect(Math.abs(logBesselI0(1) - Math.log(1.2660658777520082))).toBeLessThan(1e-13);
    expect(Math.abs(logBesselI0(10) - Math.log(2815.716628466254))).toBeLessThan(1e-12);
    expect(() => logBesselI0(-1)).toThrow(/logBesselI0/);
  });

  it('quadrature gets log Z of an unnormalised correlated Gaussian', () => {
    // exp(-x' P x / 2) with covariance S = [[1, 0.6], [0.6, 2]] about (0.3, -0.2): log Z = log 2 pi + log det S / 2
    const S = [1, 0.6, 2];
    const det = S[0]! * S[2]! - S[1]! ** 2;
    const P = [S[2]! / det, -S[1]! / det, S[0]! / det];
    const logDensity = (x: tf.Tensor) =>
      tf.tidy(() => {
        const [a, b] = tf.unstack(tf.sub(x, [0.3, -0.2]), 1);
        return tf.mul(tf.add(tf.add(tf.mul(tf.square(a!), P[0]!), tf.mul(tf.mul(a!, b!), 2 * P[1]!)), tf.mul(tf.square(b!), P[2]!)), -0.5);
      });
    const exact = Math.log(2 * Math.PI) + 0.5 * Math.log(det);
    const box = [-8, 8.6, -11.5, 11.1] as const; // 8 sd each way
    expect(Math.abs(quadratureLogZ(logDensity, box, 256) - exact)).toBeLessThan(1e-4);
    // a box cutting off a tail gets a smaller value: the check can fail
    expect(quadratureLogZ(logDensity, [0.3, 8.6, -11.5, 11.1], 256) - exact).toBeLessThan(Math.log(0.51));
    expect(() => quadratureLogZ(logDensity, [1, 0, 0, 1])).toThrow(/quadratureLogZ: box/);
  });

  for (const [target, wrong] of TARGETS) {
    it(`${target.name}: the density is normalised and the sampler follows it (chi-square)`, () => {
      const before = tf.memory().numTensors;
      expect(Math.abs(quadratureLogZ(target.logDensity, target.box) - target.logZ)).toBeLessThan(1e-3);
      const draws = target.sample(20000, new Rng(`targets-2d/${target.name}`));
      const ok = histogramChiSquare(target.logDensity, draws, target.box, { bins: 24 });
      expect(ok.df).toBeGreaterThan(30);
      expect(ok.pValue).toBeGreaterThan(1e-3);
      // a sampler with a slightly wrong parameter fails the same check
      const bad = histogramChiSquare(target.logDensity, wrong.sample(20000, new Rng(`targets-2d/${target.name}`)), target.box, { bins: 24 });
      console.log(`${target.name}: chi-square ${ok.statistic.toFixed(1)} on ${ok.df} df, p = ${ok.pValue.toFixed(3)}; planted bug p = ${bad.pValue.toExponential(1)}`);
      expect(bad.pValue).toBeLessThan(1e-9);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('wraps a target as a distribution over R^2 and rejects bad input', () => {
    const d = targetDistribution(twoMoons());
    const x = d.sample(new Rng(1), [3, 4]) as tf.Tensor;
    expect(x.shape).toEqual([3, 4, 2]);
    const lp = d.logProb(x) as tf.Tensor;
    expect(lp.shape).toEqual([3, 4]);
    expect(Array.from(lp.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([x, lp]);
    expect(() => d.logProb(tf.zeros([3]))).toThrow(/Target2D\(twoMoons\)\.logProb: expected a value whose last dimension is \[2\]/);
    expect(() => twoMoons().logDensity(tf.zeros([4, 3]))).toThrow(/twoMoons.logDensity: expected points of shape \[\.\.\., 2\]/);
    expect(() => twoMoons({ noise: -1 })).toThrow(/twoMoons: noise must be a positive/);
    expect(() => ringMixture({ components: 0 })).toThrow(/ringMixture: components/);
    expect(() => histogramChiSquare(twoMoons().logDensity, [1, 2, 3], twoMoons().box)).toThrow(/even length/);
  });

  it('a MAF fitted to two-moons draws beats the Gaussian on held-out draws by > 4 standard errors', () => {
    const t = twoMoons();
    const rng = new Rng('targets-2d/fit');
    const n = 1000;
    const train = tf.tensor2d(Float32Array.from(t.sample(n, rng)), [n, 2]);
    const test = tf.tensor2d(Float32Array.from(t.sample(n, rng)), [n, 2]);
    const before = tf.memory().numTensors;
    const fitted = fitFlow(train, [maf({ hidden: 16 }), reverse(), maf({ hidden: 16 }), reverse(), maf({ hidden: 16 })], { steps: 120, batchSize: 200, optimizer: { name: 'adam', lr: 0.01 }, seed: 1 });
    const values = (t: tf.Tensor): Float64Array => {
      const v = Float64Array.from(t.dataSync());
      t.dispose();
      return v;
    };
    const flowLL = values(fitted.logProb(test));
    const gauss = gaussianMle(train);
    const gaussLL = values(gauss.logProb(test) as tf.Tensor);
    tf.dispose([gauss.loc, gauss.scaleTril]);
    // paired differences of held-out log-likelihoods, one per test point
    const d = meanAndSe(Float64Array.from(flowLL, (v, i) => v - gaussLL[i]!));
    console.log(`two moons, held-out log-likelihood per point: MAF ${meanAndSe(flowLL).mean.toFixed(3)}, Gaussian ${meanAndSe(gaussLL).mean.toFixed(3)}, difference ${d.mean.toFixed(3)} ± ${d.se.toFixed(3)}`);
    expect(d.mean).toBeGreaterThan(4 * d.se);
    // the fitted flow's sampler follows its own density
    const s = fitted.sample(5000, new Rng(2));
    const check = histogramChiSquare(fitted.logProb, s, t.box, { bins: 16, sub: 6 });
    console.log(`fitted MAF: its draws against its density, chi-square ${check.statistic.toFixed(1)} on ${check.df} df, p = ${check.pValue.toFixed(3)}`);
    expect(check.pValue).toBeGreaterThan(1e-3);
    s.dispose();
    fitted.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([train, test]);
  });
});
