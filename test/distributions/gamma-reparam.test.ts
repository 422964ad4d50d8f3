/**
 * Special functions behind the gamma family (digamma, the regularised
 * incomplete gamma and its derivative in the shape, erf) and the implicit
 * reparameterisation gradients of Gamma, Beta, InverseGamma and StudentT draws.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng } from '../../src/core/rng.js';
import {
  digammaNumber,
  digammaTensor,
  erfNumber,
  gammaincDerivShape,
  gammaincDerivShapeRatio,
  gammaincNumber,
  gammainccNumber,
  xlog1py,
  xlogy,
} from '../../src/core/special.js';
import { Beta } from '../../src/distributions/beta.js';
import { Gamma, sampleGamma, standardGammaLogGrad } from '../../src/distributions/gamma.js';
import { InverseGamma } from '../../src/distributions/inverse-gamma.js';
import { StudentT } from '../../src/distributions/student-t.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

describe('special functions', () => {
  it('digamma matches known values and the recurrence', () => {
    expect(digammaNumber(1)).toBeCloseTo(-0.5772156649015329, 14);
    expect(digammaNumber(0.5)).toBeCloseTo(-0.5772156649015329 - 2 * Math.LN2, 14);
    expect(digammaNumber(10)).toBeCloseTo(2.251752589066721, 14);
    expect(digammaNumber(-0.5)).toBeCloseTo(0.03648997397857652, 13);
    expect(digammaNumber(0)).toBeNaN();
    for (const x of [1e-3, 0.37, 2.5, 9.99, 55, 1e6]) expect(digammaNumber(x + 1) - digammaNumber(x)).toBeCloseTo(1 / x, 10);
    const xs = [0.05, 0.7, 3, 12, 300];
    const t = tf.tidy(() => Array.from(digammaTensor(tf.tensor1d(xs)).dataSync()));
    xs.forEach((x, i) => expect(Math.abs(t[i] - digammaNumber(x))).toBeLessThan(1e-5 * Math.max(1, Math.abs(digammaNumber(x)))));
  });

  it('the incomplete gamma matches closed forms for integer and half-integer shapes', () => {
    for (const x of [1e-8, 0.1, 1, 3, 10, 40]) {
      expect(rel(gammaincNumber(1, x), -Math.expm1(-x))).toBeLessThan(1e-13);
      const q3 = Math.exp(-x) * (1 + x + (x * x) / 2);
      expect(rel(gammainccNumber(3, x), q3)).toBeLessThan(1e-13);
      expect(Math.abs(gammaincNumber(3, x) + q3 - 1)).toBeLessThan(1e-15);
    }
    expect(rel(erfNumber(1), 0.8427007929497149)).toBeLessThan(1e-14);
    expect(rel(erfNumber(-0.5), -0.5204998778130465)).toBeLessThan(1e-14);
    expect(rel(erfNumber(1e-10), 2e-10 / Math.sqrt(Math.PI))).toBeLessThan(1e-14);
    expect(gammaincNumber(2, 0)).toBe(0);
    expect(gammaincNumber(2, Infinity)).toBe(1);
    expect(gammaincNumber(-1, 1)).toBeNaN();
    expect(gammaincNumber(1, -1)).toBeNaN();
  });

  it('the derivative in the shape matches a fourth-order difference of log P or log Q', () => {
    const fd4 = (f: (a: number) => number, a: number, h: number) => (8 * (f(a + h) - f(a - h)) - (f(a + 2 * h) - f(a - 2 * h))) / (12 * h);
    for (const a of [0.01, 0.3, 1, 4.5, 50, 1000]) {
      for (const x of [a * 0.01, a * 0.5, a, a + 1.5, a * 2, a * 3 + 10]) {
        const h = 1e-3 * Math.min(a, 1) * Math.max(1, Math.sqrt(a));
        const p = gammaincNumber(a, x);
        const want = p < 0.5 ? p * fd4((s) => Math.log(gammaincNumber(s, x)), a, h) : -gammainccNumber(a, x) * fd4((s) => Math.log(gammainccNumber(s, x)), a, h);
        if (want === 0 || !Number.isFinite(want)) continue; // P or Q underflows: no reference
        expect(rel(gammaincDerivShape(a, x), want), `a=${a} x=${x}`).toBeLessThan(1e-8);
      }
    }
  });

  it('the shape-derivative ratio is continuous where the method switches (x = a + 1) and finite where x underflows', () => {
    for (const a of [0.05, 0.5, 3, 100, 5000, 1e5]) {
      const lx = Math.log(a + 1);
      expect(rel(gammaincDerivShapeRatio(a, lx - 1e-12), gammaincDerivShapeRatio(a, lx + 1e-12))).toBeLessThan(1e-9);
    }
    // x = e^-2000: only the leading term survives, (log x - psi(a + 1)) / a
    expect(rel(gammaincDerivShapeRatio(0.001, -2000), (-2000 - digammaNumber(1.001)) / 0.001)).toBeLessThan(1e-14);
  });

  it('xlogy and xlog1py are 0 where x = 0, with finite gradients', () => {
    expect(xlogy(0, 0)).toBe(0);
    expect(xlog1py(0, -1)).toBe(0);
    expect(xlogy(2, 3)).toBeCloseTo(2 * Math.log(3), 15);
    tf.tidy(() => {
      const g = tf.grad((x: tf.Tensor) => tf.sum(xlogy(x, tf.tensor1d([0, 2])) as tf.Tensor))(tf.tensor1d([0, 1]));
      expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    });
  });
});

/** log z with P(a, z) = u, by bisection in log z (float64). */
function logQuantile(a: number, u: number): number {
  const below = (lz: number) => (u < 0.5 ? gammaincNumber(a, Math.exp(lz)) < u : gammainccNumber(a, Math.exp(lz)) > 1 - u);
  let lo = -700;
  let hi = Math.log(a + 100 * Math.sqrt(a) + 100);
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (below(mid)) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

describe('implicit reparameterisation', () => {
  it('d log z / d alpha equals the derivative of the quantile at fixed u', () => {
    for (const a of [0.02, 0.3, 1, 4.5, 60, 2000, 1e5]) {
      for (const u of [1e-3, 0.05, 0.5, 0.95, 1 - 1e-6]) {
        const lz = logQuantile(a, u);
        const h = 1e-4 * a;
        const fd = (logQuantile(a + h, u) - logQuantile(a - h, u)) / (2 * h);
        expect(rel(standardGammaLogGrad(a, lz), fd), `a=${a} u=${u}`).toBeLessThan(1e-5);
      }
    }
  });

  it('sampleGamma returns numbers, plain tensors or differentiable tensors, and checks shapes', () => {
    const rng = new Rng(3);
    expect(typeof sampleGamma(rng, 2, [])).toBe('number');
    tf.tidy(() => {
      const plain = sampleGamma(rng, 2, [5]) as tf.Tensor;
      expect(plain.shape).toEqual([5]);
      const alpha = tf.tensor1d([0.5, 4]);
      const z = sampleGamma(new Rng(9), alpha, [6, 2]) as tf.Tensor;
      expect(z.shape).toEqual([6, 2]);
      // the gradient of one draw is z * dlog z / d alpha, summed over broadcast draws
      const g = tf.grad((a: tf.Tensor) => tf.sum(sampleGamma(new Rng(9), a, [6, 2]) as tf.Tensor))(alpha).dataSync();
      const zs = z.dataSync();
      const want = [0, 0];
      for (let i = 0; i < zs.length; i++) want[i % 2] += zs[i] * standardGammaLogGrad(i % 2 === 0 ? 0.5 : 4, Math.log(zs[i]));
      expect(rel(g[0], want[0])).toBeLessThan(1e-4);
      expect(rel(g[1], want[1])).toBeLessThan(1e-4);
    });
    expect(() => sampleGamma(rng, tf.tensor1d([1, 2]), [3])).toThrow(/sampleGamma: alpha/);
  });

  it('sampling and differentiating does not leak tensors', () => {
    const alpha = tf.tensor1d([0.5, 2]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grad((a: tf.Tensor) => tf.sum(Beta(a, 2).sample(new Rng(1), [10]) as tf.Tensor))(alpha);
      tf.grad((a: tf.Tensor) => tf.sum(Gamma(a, 2).sample(new Rng(1), [10]) as tf.Tensor))(alpha);
    });
    expect(tf.memory().numTensors).toBe(before);
    alpha.dispose();
  });
});

describe('Monte Carlo gradients of expectations match analytic derivatives', () => {
  const n = 20000;

  /**
   * Per-draw gradients: parameters are given at full shape [n, k], so
   * tf.grad returns one derivative per draw; returns the column means and
   * their Monte Carlo standard errors.
   */
  function perDrawGradients(f: (...p: tf.Tensor[]) => tf.Tensor, params: number[][]): { mean: number[]; se: number[] }[] {
    return tf.tidy(() => {
      const full = params.map((p) => tf.tile(tf.tensor2d([p]), [n, 1]));
      const grads = tf.grads((...p: tf.Tensor[]) => tf.sum(f(...p)))(full);
      return grads.map((g) => {
        const v = g.dataSync();
        const k = params[0].length;
        const mean: number[] = [];
        const se: number[] = [];
        for (let j = 0; j < k; j++) {
          let m = 0;
          for (let i = 0; i < n; i++) m += v[i * k + j];
          m /= n;
          let s = 0;
          for (let i = 0; i < n; i++) s += (v[i * k + j] - m) ** 2;
          mean.push(m);
          se.push(Math.sqrt(s / (n - 1) / n));
        }
        return { mean, se };
      });
    });
  }

  function expectWithin(got: { mean: number[]; se: number[] }, want: number[], what: string): void {
    want.forEach((w, j) => expect(Math.abs(got.mean[j] - w), `${what}[${j}]: ${got.mean[j]} vs ${w} (se ${got.se[j]})`).toBeLessThan(4.5 * got.se[j]));
  }

  it('Gamma: d E[z] / d alpha = 1 / rate and d E[z] / d rate = -alpha / rate^2', () => {
    const alpha = [0.3, 2, 7, 0.05];
    const rate = [2, 0.5, 1, 3];
    const rng = new Rng('gamma-grad');
    const [ga, gr] = perDrawGradients((a, r) => Gamma(a, r).sample(rng) as tf.Tensor, [alpha, rate]);
    expectWithin(ga, rate.map((r) => 1 / r), 'dE/dalpha');
    expectWithin(gr, alpha.map((a, j) => -a / rate[j] ** 2), 'dE/drate');
  });

  it('Gamma: the gradient through a broadcast tensor alpha is the sum of the per-draw gradients', () => {
    tf.tidy(() => {
      const m = 500;
      const alpha = [0.3, 2];
      const summed = tf.grad((a: tf.Tensor) => tf.sum(Gamma(a, 2).sample(new Rng(5), [m]) as tf.Tensor))(tf.tensor1d(alpha)).dataSync();
      const perDraw = tf.grad((a: tf.Tensor) => tf.sum(Gamma(a, 2).sample(new Rng(5)) as tf.Tensor))(tf.tile(tf.tensor2d([alpha]), [m, 1]));
      const cols = tf.sum(perDraw, 0).dataSync();
      expect(rel(summed[0], cols[0])).toBeLessThan(1e-5);
      expect(rel(summed[1], cols[1])).toBeLessThan(1e-5);
    });
  });

  it('Beta: d E[x] / d a = b / (a+b)^2 and d E[x] / d b = -a / (a+b)^2', () => {
    const a = [0.5, 3, 0.2, 10];
    const b = [2, 0.7, 0.3, 10];
    const rng = new Rng('beta-grad');
    const [ga, gb] = perDrawGradients((p, q) => Beta(p, q).sample(rng) as tf.Tensor, [a, b]);
    expectWithin(ga, a.map((x, j) => b[j] / (x + b[j]) ** 2), 'dE/da');
    expectWithin(gb, a.map((x, j) => -x / (x + b[j]) ** 2), 'dE/db');
  });

  it('InverseGamma: d E[x] / d a = -rate / (a-1)^2', () => {
    const a = [6, 9];
    const r = [1.5, 0.5];
    const rng = new Rng('invgamma-grad');
    const [ga, gr] = perDrawGradients((p, q) => InverseGamma(p, q).sample(rng) as tf.Tensor, [a, r]);
    expectWithin(ga, a.map((x, j) => -r[j] / (x - 1) ** 2), 'dE/da');
    expectWithin(gr, a.map((x) => 1 / (x - 1)), 'dE/drate');
  });

  it('StudentT: d E[(x - loc)^2] / d df = -2 scale^2 / (df - 2)^2', () => {
    const df = [12, 20];
    const rng = new Rng('t-grad');
    const [gd] = perDrawGradients((d) => tf.square(StudentT(d, 0, 1.5).sample(rng) as tf.Tensor), [df]);
    expectWithin(gd, df.map((d) => (-2 * 2.25) / (d - 2) ** 2), 'dE/ddf');
  });
});
