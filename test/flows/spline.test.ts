/**
 * Rational-quadratic spline coupling and flows as distributions:
 * log|det J| against finite differences (src/testing's checker, a planted
 * wrong derivative term must fail it), exact inverse inside and in the
 * tails, monotonicity, gradients; maximum-likelihood fit on a 2-D target
 * with a bimodal conditional against the affine-coupling baseline and the
 * true density; FlowDistribution against Transformed, a grid integral, and
 * as a prior / observation in models run by importance sampling.
 */
import { fc } from '@fast-check/vitest';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { Rng, model } from '../../src/core/index.js';
import { Independent } from '../../src/distributions/independent.js';
import { Normal } from '../../src/distributions/normal.js';
import { Transformed } from '../../src/distributions/transformed.js';
import {
  Flow, type FlowBijector, type FlowLayer, type SplineBin, SplineCouplingBijector, affine, affineCoupling, couplingMask, fitFlow, flowLogProb, maf, pushForward, reverse,
  smallNormal, splineBins, splineCoupling, splineIaf, splineLogSlope, splineMaf, standardNormalLogDensity,
} from '../../src/flows/index.js';
import { infer } from '../../src/infer/index.js';
import { AutoFlow, SVI } from '../../src/infer/vi/index.js';
import { checkLogDetJacobian } from '../../src/testing/jacobian.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A layer's initial parameters perturbed by N(0, sd^2) noise (so not the identity). */
function randomParams(layer: FlowLayer, dim: number, seed: number, sd = 0.5): Record<string, tf.Tensor> {
  const rng = new Rng(seed);
  const params: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(layer.init(dim, rng))) params[k] = tf.add(v, smallNormal(rng, v.shape, sd));
  return params;
}
/** The layer's bijector at {@link randomParams}. */
function randomLayer(layer: FlowLayer, dim: number, seed: number, sd = 0.5): FlowBijector {
  return layer.build(dim, randomParams(layer, dim, seed, sd));
}

/** A planted bug: the knot derivatives swapped in the log-derivative only. */
class SwappedSlope extends SplineCouplingBijector {
  protected override logSlope(bin: SplineBin): tf.Tensor {
    return splineLogSlope({ ...bin, d0: bin.d1, d1: bin.d0 });
  }
}

const D = 3;
const spline = (flip: boolean) => splineCoupling({ bins: 5, bound: 2, hidden: 6, flip });

describe('rational-quadratic spline coupling', () => {
  // inputs in [-4, 4]^3 with bound 2: about half the coordinates lie in the identity tails
  const inputs = fc.tuple(fc.integer({ min: 1, max: 1e6 }), fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: D, maxLength: D }));
  const ldProperty = (make: (seed: number) => FlowBijector) =>
    fc.property(inputs, ([seed, x]) => {
      tf.engine().startScope();
      const r = checkLogDetJacobian(make(seed), x, { step: 1e-3 });
      tf.engine().endScope();
      if (!r.pass) throw new Error(`seed ${seed} at ${JSON.stringify(x)}: logDet ${r.analytic} but finite differences give ${r.numeric}`);
    });

  it('log|det J| matches finite differences on random inputs and parameters, and a wrong derivative term fails', () => {
    const ar = { bins: 5, bound: 2, hidden: 7 };
    for (const layer of [spline(false), spline(true), splineMaf(ar), splineIaf(ar)]) fc.assert(ldProperty((s) => randomLayer(layer, D, s)), { numRuns: 30, seed: 3 });
    const shape = (randomLayer(spline(false), D, 1) as SplineCouplingBijector).shape;
    const mutant = (s: number) => new SwappedSlope(couplingMask(D, false), randomParams(spline(false), D, s), shape);
    const caught = fc.check(ldProperty(mutant), { numRuns: 30, seed: 3 });
    expect(caught.failed).toBe(true);
    expect(String(caught.errorInstance)).toMatch(/finite differences give/);
  });

  it('a new layer is the identity; knots span [-B, B] with the minimum bin sizes and derivatives', () => {
    tf.tidy(() => {
      const layer = splineCoupling({ bins: 4, bound: 2 });
      const b = layer.build(D, layer.init(D, new Rng(1)));
      const x = tf.tensor2d([[0.3, -1.7, 5], [-3, 0.01, 1.99]]);
      expect(Math.max(...tf.abs(tf.sub(b.forward(x) as tf.Tensor, x)).dataSync())).toBeLessThan(1e-6);
      expect(Math.max(...tf.abs(b.logDetJacobian(x) as tf.Tensor).dataSync())).toBeLessThan(1e-6);
      const shape = { bins: 4, bound: 2, minWidth: 0.01, minHeight: 0.02, minDerivative: 0.05 };
      // extreme raw values, so the minimum sizes and derivatives are reached
      const raw = (n: number) => tf.tensor2d([Array.from({ length: n }, (_, i) => (i % 3) * 40 - 40)]);
      const k = splineBins({ widths: raw(4), heights: raw(4), derivatives: raw(3) }, shape);
      const [xl, w, yl, h] = [k.xLeft, k.widths, k.yLeft, k.heights].map((t) => Array.from(t.dataSync()));
      expect(xl[0]).toBe(-2);
      expect(yl[0]).toBe(-2);
      expect(xl[3]! + w[3]!).toBeCloseTo(2, 5);
      expect(yl[3]! + h[3]!).toBeCloseTo(2, 5);
      for (let i = 0; i < 4; i++) {
        expect(w[i]!).toBeGreaterThanOrEqual(0.01 * 4 - 1e-6);
        expect(h[i]!).toBeGreaterThanOrEqual(0.02 * 4 - 1e-6);
        if (i > 0) expect(xl[i]!).toBeCloseTo(xl[i - 1]! + w[i - 1]!, 5);
      }
      const d = [...Array.from(k.dLeft.dataSync()), ...Array.from(k.dRight.dataSync())];
      expect(d[0]).toBe(1);
      expect(d[7]).toBe(1);
      expect(d.slice(1, 4)).toEqual(d.slice(4, 7));
      for (const v of d) expect(v).toBeGreaterThanOrEqual(0.05 - 1e-6);
    });
  });

  it('inverse(forward(x)) = x and forward(inverse(y)) = y, inside and in the tails', () => {
    tf.tidy(() => {
      const rng = new Rng(11);
      for (let seed = 1; seed <= 10; seed++) {
        // D = 2: one transformed coordinate, so a row's log|det J| is that coordinate's log-slope
        const b = randomLayer(splineCoupling({ bins: 5, bound: 2, hidden: 6, flip: seed % 2 === 0 }), 2, seed, 0.8);
        const x = tf.tensor2d(Float32Array.from(rng.normals(600), (v) => 2.5 * v), [300, 2]);
        const y = b.forward(x) as tf.Tensor;
        const xs = x.arraySync() as number[][];
        const back = (b.inverse(y) as tf.Tensor).arraySync() as number[][];
        const slope = Array.from((b.logDetJacobian(x) as tf.Tensor).dataSync(), Math.exp);
        // float32 rounding of y (about 1e-6 relative after a few operations) moves the preimage by that over the slope,
        // which is tiny only on near-flat pieces of sharp splines (log-slopes down to about -10 here)
        for (let i = 0; i < 300; i++) for (let j = 0; j < 2; j++) expect(Math.abs(back[i]![j]! - xs[i]![j]!)).toBeLessThan(1e-4 + 4e-6 / slope[i]!);
        const fwd = b.forward(b.inverse(x)) as tf.Tensor;
        expect(Math.max(...tf.abs(tf.sub(fwd, x)).dataSync())).toBeLessThan(2e-4);
      }
    });
  });

  it('is strictly increasing in each transformed coordinate and the identity outside [-B, B]', () => {
    tf.tidy(() => {
      // D = 2, mask [1, 0]: coordinate 0 conditions the spline of coordinate 1
      const n = 2001;
      for (let seed = 1; seed <= 5; seed++) {
        const b = randomLayer(splineCoupling({ bins: 6, bound: 2, hidden: 6 }), 2, seed, 0.8);
        const grid = Float32Array.from({ length: n }, (_, i) => -4 + (8 * i) / (n - 1));
        const x = tf.stack([tf.fill([n], 0.7 * seed - 2), tf.tensor1d(grid)], 1);
        const y = (b.forward(x) as tf.Tensor).arraySync() as number[][];
        for (let i = 1; i < n; i++) expect(y[i]![1]!).toBeGreaterThan(y[i - 1]![1]!);
        for (let i = 0; i < n; i++) {
          expect(y[i]![0]).toBeCloseTo(0.7 * seed - 2, 6);
          if (Math.abs(grid[i]!) >= 2) expect(y[i]![1]).toBe(grid[i]);
        }
      }
    });
  });

  it('passes finite gradients to every parameter', () => {
    const layer = spline(false);
    const init = layer.init(D, new Rng(2));
    const vars = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, tf.variable(tf.add(v, smallNormal(new Rng(3), v.shape, 0.5)), true, `spline-grad-${k}`)]));
    const x = tf.tensor2d([[0.5, -1, 3], [1.5, 0.2, -0.7], [-2.5, 1.9, 0.1]]);
    const { grads } = tf.variableGrads(() => tf.sum(flowLogProb([layer.build(D, vars)], x)) as tf.Scalar, Object.values(vars));
    for (const [k, v] of Object.entries(vars)) {
      const g = grads[v.name]!.dataSync();
      expect(g.every(Number.isFinite), k).toBe(true);
      expect(Math.max(...g.map(Math.abs)), k).toBeGreaterThan(0);
    }
    tf.dispose([...Object.values(vars), ...Object.values(grads), x, ...Object.values(init)]);
  });
});

describe('density estimation with splines', () => {
  // x1 ~ N(0, 1); x2 | x1 ~ 0.5 N(x1 / 2 - 1.5, 0.4^2) + 0.5 N(x1 / 2 + 1.5, 0.4^2): a bimodal conditional,
  // which one affine coupling layer (a Gaussian conditional given x1) cannot represent and one spline layer can
  const SD = 0.4;
  const draw = (rng: Rng, n: number) => {
    const out = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const a = rng.normal();
      out[2 * i] = a;
      out[2 * i + 1] = 0.5 * a + (rng.uniform() < 0.5 ? -1.5 : 1.5) + SD * rng.normal();
    }
    return tf.tensor2d(out, [n, 2]);
  };
  const trueLogProb = (x: tf.Tensor) =>
    tf.tidy(() => {
      const [a, b] = tf.unstack(x, 1) as [tf.Tensor, tf.Tensor];
      const comp = (m: number) => tf.sub(tf.mul(-0.5, tf.square(tf.div(tf.sub(b, tf.add(tf.mul(a, 0.5), m)), SD))), Math.log(SD * Math.sqrt(2 * Math.PI)) + Math.log(2));
      const mix = tf.logSumExp(tf.stack([comp(-1.5), comp(1.5)], 1), 1);
      return tf.add(tf.sub(tf.mul(-0.5, tf.square(a)), 0.5 * Math.log(2 * Math.PI)), mix);
    });
  /** Mean and standard error of per-point values. */
  const meanSe = (t: tf.Tensor) => {
    const v = Array.from(t.dataSync());
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
    return { m, se: sd / Math.sqrt(v.length) };
  };

  it('a spline coupling layer and a spline MAF layer beat an affine coupling layer on held-out log-likelihood', () => {
    const rng = new Rng(21);
    const train = draw(rng, 1000);
    const test = draw(rng, 2000);
    const opts = { steps: 60, batchSize: 200, optimizer: { name: 'adam' as const, lr: 0.02 }, seed: 1 };
    const sp = fitFlow(train, [splineCoupling({ bins: 8, bound: 4, hidden: 16 })], opts);
    const sm = fitFlow(train, [splineMaf({ bins: 8, bound: 4, hidden: 16 })], opts);
    const af = fitFlow(train, [affineCoupling({ hidden: 16 })], opts);
    const llSpline = sp.logProb(test);
    const llMaf = sm.logProb(test);
    const llAffine = af.logProb(test);
    const llTrue = trueLogProb(test);
    const gain = tf.tidy(() => meanSe(tf.sub(llSpline, llAffine)));
    const gainMaf = tf.tidy(() => meanSe(tf.sub(llMaf, llAffine)));
    console.log(
      `held-out log-likelihood per point: spline coupling ${meanSe(llSpline).m.toFixed(3)}, spline MAF ${meanSe(llMaf).m.toFixed(3)}, affine coupling ${meanSe(llAffine).m.toFixed(3)}, true density ${meanSe(llTrue).m.toFixed(3)}; ` +
        `spline - affine ${gain.m.toFixed(3)} ± ${gain.se.toFixed(3)}, spline MAF - affine ${gainMaf.m.toFixed(3)} ± ${gainMaf.se.toFixed(3)}`,
    );
    // paired differences on the same held-out points; 4.5 standard errors
    expect(gain.m).toBeGreaterThan(4.5 * gain.se);
    expect(gainMaf.m).toBeGreaterThan(4.5 * gainMaf.se);
    // mean(log q - log p) estimates -KL(p || q) <= 0: a flow density that is not normalised could exceed it
    for (const ll of [llSpline, llMaf]) {
      const gap = tf.tidy(() => meanSe(tf.sub(ll, llTrue)));
      expect(gap.m).toBeLessThan(4.5 * gap.se);
    }
    // the fitted flow as a distribution gives the same density
    const viaDist = sp.distribution().logProb(test) as tf.Tensor;
    expect(Math.max(...tf.tidy(() => tf.abs(tf.sub(viaDist, llSpline))).dataSync())).toBeLessThan(1e-5);
    tf.dispose([train, test, llSpline, llMaf, llAffine, llTrue, viaDist]);
    sp.dispose();
    sm.dispose();
    af.dispose();
  });
});

describe('spline layers in AutoFlow', () => {
  it('an AutoFlow guide of spline couplings improves the ELBO on a banana', async () => {
    // a ~ N(0, 1), b ~ N(a^2 - 1, 0.5): normalised, so -ELBO = KL(q || p)
    const banana = model(async ({ sample }) => {
      const a = await sample('a', Normal(0, 1));
      await sample('b', Normal(tf.sub(tf.square(a), 1), 0.5));
    });
    const guide = new AutoFlow({ init: 'zero', initScale: 1, layers: [splineCoupling({ bins: 6, hidden: 8, flip: true }), splineCoupling({ bins: 6, hidden: 8 })] });
    const svi = new SVI(banana, guide, { particles: 8, seed: 3, optimizer: { lr: 0.03 } });
    const before = await svi.evaluate([], 1000);
    for (let k = 0; k < 80; k++) await svi.step([]);
    const after = await svi.evaluate([], 1000);
    console.log(`banana KL(q || p) with spline AutoFlow: ${(-before.bound).toFixed(3)} ± ${before.stderr.toFixed(3)} at the start, ${(-after.bound).toFixed(3)} ± ${after.stderr.toFixed(3)} after 80 steps`);
    expect(after.bound - before.bound).toBeGreaterThan(4.5 * Math.hypot(before.stderr, after.stderr));
    expect(-after.bound).toBeGreaterThan(-4.5 * after.stderr); // a KL is nonnegative
    svi.dispose();
  });
});

describe('FlowDistribution', () => {
  const layers: FlowLayer[] = [splineCoupling({ bins: 6, bound: 3, hidden: 8 }), reverse(), maf({ hidden: 8 }), splineCoupling({ bins: 6, bound: 3, hidden: 8, flip: true })];
  const flow = layers.map((l, i) => randomLayer(l, 2, 40 + i, 0.5));
  const dist = Flow(2, flow);

  it('has the density of Transformed(N(0, I), bijectors) and of the pushed-forward base draws', () => {
    tf.tidy(() => {
      const u = tf.tensor2d(Float32Array.from(new Rng(4).normals(400)), [200, 2]);
      const { y, logDet } = pushForward(flow, u);
      const pushed = tf.sub(standardNormalLogDensity(u), logDet);
      const lp = dist.logProb(y) as tf.Tensor;
      expect(lp.shape).toEqual([200]);
      expect(Math.max(...tf.abs(tf.sub(lp, pushed)).dataSync())).toBeLessThan(2e-3);
      const viaTransformed = Transformed(Independent(Normal(tf.zeros([2]), 1), 1), flow).logProb(y) as tf.Tensor;
      expect(Math.max(...tf.abs(tf.sub(lp, viaTransformed)).dataSync())).toBeLessThan(1e-4);
      // batched over any leading axes, and draws of the asked shape
      expect((dist.logProb(tf.reshape(y, [10, 20, 2])) as tf.Tensor).shape).toEqual([10, 20]);
      expect((dist.sample(new Rng(1)) as tf.Tensor).shape).toEqual([2]);
      expect((dist.sample(new Rng(1), [3, 4]) as tf.Tensor).shape).toEqual([3, 4, 2]);
      expect(() => dist.logProb(tf.zeros([5, 3]))).toThrow(/FlowDistribution\.logProb: expected vectors of length 2/);
    });
  });

  it('integrates to 1, and as a prior in a model run by importance sampling matches the grid posterior', async () => {
    // a 1-D flow (random splines around an affine map), so a fine grid is cheap: 24000 midpoints on [-12, 12]
    const flow1 = [splineCoupling({ bins: 8, bound: 3, hidden: 4 }), affine(), splineCoupling({ bins: 8, bound: 3, hidden: 4 })].map((l, i) => randomLayer(l, 1, 60 + i, 0.5));
    const dist1 = Flow(1, flow1);
    const obs = 0.8;
    const noise = 0.7;
    const G = 24000;
    const H = 24 / G;
    const [mass, z, m, v] = tf.tidy(() => {
      const x = tf.tensor1d(Float32Array.from({ length: G }, (_, i) => -12 + (i + 0.5) * H));
      const p = tf.exp(dist1.logProb(tf.expandDims(x, -1)) as tf.Tensor);
      const w = tf.mul(p, tf.exp(Normal(x, noise).logProb(tf.fill([G], obs)) as tf.Tensor));
      const s = (t: tf.Tensor) => tf.sum(t).dataSync()[0]! * H;
      const zz = s(w);
      const mean = s(tf.mul(w, x)) / zz;
      return [s(p), zz, mean, s(tf.mul(w, tf.square(tf.sub(x, mean)))) / zz];
    });
    // midpoint-rule and truncation error: far below what a missing or wrong log-Jacobian term gives
    expect(Math.abs(mass - 1)).toBeLessThan(1e-3);
    const prior = model(async ({ sample, observe }) => {
      const x = await sample('x', dist1);
      await observe('y', Normal(tf.squeeze(x), noise), obs);
    });
    const N = 400;
    const post = await infer(prior, { method: 'importance', particles: N, seed: 5 });
    const xs = post.draws.map((d) => (d.values.x as tf.Tensor).dataSync()[0]!);
    const mean = xs.reduce((s, x, i) => s + post.weights[i]! * x, 0);
    console.log(`flow prior: grid mass ${mass.toFixed(5)}; log Z grid ${Math.log(z).toFixed(4)} vs IS ${post.logZ.toFixed(4)}; posterior mean grid ${m.toFixed(3)} vs IS ${mean.toFixed(3)} (ESS ${post.ess.toFixed(0)})`);
    // self-normalised IS: the mean's standard error is about sd / sqrt(ESS); log Z-hat's is sqrt((N / ESS - 1) / N)
    expect(Math.abs(mean - m)).toBeLessThan((4.5 * Math.sqrt(v)) / Math.sqrt(post.ess));
    expect(Math.abs(post.logZ - Math.log(z))).toBeLessThan(4.5 * Math.sqrt((N / post.ess - 1) / N) + 1e-3);
  });

  it('scores observations, alone and in a plate, with tf memory flat', async () => {
    const data = tf.tensor2d([[0.3, -1.2], [2.5, 0.4], [-4, 3.5], [0.1, 0.1]]);
    const exact = tf.tidy(() => tf.sum(dist.logProb(data) as tf.Tensor).dataSync()[0]!);
    const one = model(async ({ observe }) => {
      await observe('y', dist, tf.tensor1d([0.3, -1.2]));
    });
    const plated = model(async ({ observe, plate }) => {
      await plate('data', 4, (_i, p) => p.observe('y', dist, data));
    });
    const single = await infer(one, { method: 'importance', particles: 2, seed: 1 });
    expect(single.logZ).toBeCloseTo(tf.tidy(() => (dist.logProb(tf.tensor1d([0.3, -1.2])) as tf.Tensor).dataSync()[0]!), 5);
    const all = await infer(plated, { method: 'importance', particles: 2, seed: 1 });
    expect(all.logZ).toBeCloseTo(exact, 4);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const s = dist.sample(new Rng(i), [10]);
      (dist.logProb(s) as tf.Tensor).dispose();
      (s as tf.Tensor).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    data.dispose();
  });
});
