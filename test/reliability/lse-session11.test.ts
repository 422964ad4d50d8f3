/**
 * LSE (session 11): `tf.logSumExp` of terms that are all -Infinity is NaN on
 * tfjs (it subtracts the maximum, and -Infinity - -Infinity is NaN), so a
 * point of zero density became a NaN error instead of a rejection (posteriordb
 * `hmm_example` under NUTS 4 x (200 + 200), seed 1: 'site "forward": factor
 * log-weight is NaN', once a simplex component underflowed to 0). `ops.logSumExp`
 * now takes a tensor and gives -Infinity there, with a gradient of 0 (not NaN),
 * on tfjs and in the compiled replay. On the old code `ops.logSumExp` threw a
 * TypeError for every tensor, so each tensor case here fails there; the
 * `tf.logSumExp` cases show the trap the fix avoids. The NUTS run on
 * hmm_example is in lse-session11.slow.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import { layoutOf, logDensityFn } from '../../src/infer/mcmc/potential.js';
import { Categorical, Exponential, Mixture, MixtureSameFamily, Normal, Poisson, infer, model, ops } from '../../src/index.js';
import { logSumMass } from '../../src/distributions/truncated-discrete.js';
import { logMeanExp } from '../../src/infer/vi/objectives.js';

beforeAll(async () => {
  await initBackend();
});

const NEG = -Infinity;
const read = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe('ops.logSumExp on tensors', () => {
  it('gives -Infinity where every term is -Infinity (tf.logSumExp gives NaN there)', () => {
    expect(read(tf.logSumExp(tf.tensor1d([NEG, NEG]))).map(Number.isNaN)).toEqual([true]); // the trap
    expect(read(ops.logSumExp(tf.tensor1d([NEG, NEG])))).toEqual([NEG]);
    expect(read(ops.logSumExp(tf.tensor1d([])))).toEqual([NEG]);
    expect(read(ops.logSumExp(tf.tensor1d([0, NEG])))).toEqual([0]);
    expect(ops.logSumExp(tf.tensor1d([1, 2, 3])).dataSync()[0]).toBeCloseTo(ops.logSumExp([1, 2, 3]), 5);
    expect(ops.logSumExp(tf.tensor1d([1000, 1000])).dataSync()[0]).toBeCloseTo(1000 + Math.log(2), 3);
    expect(ops.logSumExp(tf.tensor1d([-1000, -1000])).dataSync()[0]).toBeCloseTo(-1000 + Math.log(2), 3);
  });

  it('gives +Infinity when a term is +Infinity and NaN when a term is NaN', () => {
    expect(read(ops.logSumExp(tf.tensor1d([0, Infinity])))).toEqual([Infinity]);
    expect(read(ops.logSumExp(tf.tensor1d([NEG, Infinity])))).toEqual([Infinity]);
    expect(Number.isNaN(ops.logSumExp(tf.tensor1d([0, NaN])).dataSync()[0])).toBe(true);
    expect(Number.isNaN(ops.logSumExp(tf.tensor1d([NEG, NaN])).dataSync()[0])).toBe(true);
    // the number path agrees
    expect(ops.logSumExp([NEG, NEG])).toBe(NEG);
    expect(ops.logSumExp([0, Infinity])).toBe(Infinity);
  });

  it('reduces over an axis (kept with keepDims) as tf.logSumExp does where that is finite', () => {
    const x = tf.tensor2d([[0, NEG, 1], [NEG, NEG, 2]]);
    const cols = ops.logSumExp(x, 0);
    expect(cols.shape).toEqual([3]);
    expect(read(cols)[0]).toBeCloseTo(0, 6);
    expect(read(cols)[1]).toBe(NEG);
    expect(read(cols)[2]).toBeCloseTo(read(tf.logSumExp(tf.tensor1d([1, 2])))[0]!, 6);
    expect(ops.logSumExp(x, 1, true).shape).toEqual([2, 1]);
    expect(ops.logSumExp(x, -1).shape).toEqual([2]);
    expect(ops.logSumExp(x).shape).toEqual([]);
    expect(read(ops.logSumExp(x, [0, 1]))[0]).toBeCloseTo(read(tf.logSumExp(tf.tensor1d([0, 1, 2])))[0]!, 6);
  });

  it('has gradient softmax where finite and 0 (not NaN) where every term is -Infinity', () => {
    const c = tf.tensor1d([NEG, NEG]);
    const oldGrad = tf.grad((x: tf.Tensor) => tf.logSumExp(tf.add(x, c)))(tf.tensor1d([0.5, -0.5]));
    expect(read(oldGrad).some(Number.isNaN)).toBe(true); // the trap
    const g = tf.grad((x: tf.Tensor) => ops.logSumExp(tf.add(x, c)))(tf.tensor1d([0.5, -0.5]));
    expect(read(g)).toEqual([0, 0]);
    const mixed = tf.grad((x: tf.Tensor) => ops.logSumExp(tf.add(x, tf.tensor1d([0, NEG, 0]))))(tf.tensor1d([1, 2, 3]));
    const e = [Math.exp(1), 0, Math.exp(3)];
    const z = e[0]! + e[2]!;
    read(mixed).forEach((v, i) => expect(v).toBeCloseTo(e[i]! / z, 5));
    // axis reduction: a column with every term -Infinity gets gradient 0, the other the softmax
    const g2 = tf.grad((x: tf.Tensor) => tf.sum(ops.logSumExp(tf.add(x, tf.tensor2d([[0, NEG], [0, NEG]])), 0)))(tf.tensor2d([[0, 0], [0, 0]]));
    expect(read(g2)).toEqual([0.5, 0, 0.5, 0]);
  });

  it('keeps the tensor count flat and rejects what is neither an array nor a tensor', () => {
    const x = tf.tensor1d([NEG, NEG]);
    ops.logSumExp(x).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) ops.logSumExp(x, 0, true).dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => ops.logSumExp(3 as unknown as number[])).toThrow(/ops\.logSumExp: expected an array of numbers or a tensor, got/);
  });
});

describe('the other log-sum-exps over tensors', () => {
  it('a mixture where every component has zero density: -Infinity with gradient 0, not NaN (its own log-sum-exp had a NaN gradient)', () => {
    const mixing = Categorical({ probs: [0.5, 0.5] });
    for (const m of [Mixture(mixing, [Exponential(1), Exponential(2)]), MixtureSameFamily(mixing, Exponential(tf.tensor1d([1, 2])))]) {
      const f = (x: tf.Tensor) => m.logProb(x) as tf.Tensor;
      expect(read(f(tf.scalar(-3)))).toEqual([NEG]);
      expect(read(tf.grad(f)(tf.scalar(-3)))).toEqual([0]);
      // inside the support: d/dx log(0.5 e^-x + e^-2x) at 0.5
      const want = -(0.5 * Math.exp(-0.5) + 2 * Math.exp(-1)) / (0.5 * Math.exp(-0.5) + Math.exp(-1));
      expect(read(tf.grad(f)(tf.scalar(0.5)))[0]).toBeCloseTo(want, 5);
    }
  });

  it("VI's logMeanExp (IWAE/VR objectives) of weights that are all -Infinity: -Infinity with gradient 0, not NaN", () => {
    const x = tf.tensor2d([[-Infinity, -Infinity], [0, Math.log(3)]]);
    const v = logMeanExp(x);
    expect(Array.from(v.dataSync())).toEqual([-Infinity, Math.fround(Math.log(2))]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.where(tf.isFinite(logMeanExp(t)), logMeanExp(t), tf.zerosLike(logMeanExp(t)))))(x);
    expect(Array.from(g.dataSync()).map((a) => Math.round(a * 1e6) / 1e6)).toEqual([0, 0, 0.25, 0.75]);
    tf.dispose([x, v, g]);
  });

  it('a truncated discrete mass over an interval with no mass is -Infinity, not NaN (tensor parameters)', () => {
    const got = read(logSumMass(Poisson(tf.tensor1d([0, 2])), 1, 3) as tf.Tensor);
    expect(got[0]).toBe(NEG); // rate 0: no mass on 1..3 (tf.logSumExp gave NaN)
    const p2 = [1, 2, 3].map((k) => Math.exp(k * Math.log(2) - 2) / [1, 2, 6][k - 1]!);
    expect(got[1]).toBeCloseTo(Math.log(p2.reduce((a, b) => a + b)), 5);
  });
});

describe('a density with a log-sum-exp of -Infinity terms', () => {
  // factor = log sum_k exp(x + c_k): c all -Infinity is a point of zero density
  const lseModel = (c: number[], lse: (t: tf.Tensor) => tf.Tensor) =>
    model(async ({ sample, factor }) => {
      const x = await sample('x', Normal(0, 1));
      await factor('f', lse(tf.add(x, tf.tensor1d(c))));
    });

  it('is -Infinity with a finite gradient on tfjs and in the compiled replay', async () => {
    for (const compile of [false, true]) {
      const m = lseModel([NEG, NEG], (t) => ops.logSumExp(t));
      const { layout } = await layoutOf(m, [], rngFrom(1));
      const f = logDensityFn(m, [], layout, { compile });
      const r = await f(Float64Array.of(0.3));
      expect(r.logp, `compile: ${compile}`).toBe(NEG);
      expect(Array.from(r.grad).every(Number.isFinite), `compile: ${compile}`).toBe(true);
      if (compile) expect(f.compileStatus()).toBe(true);
      // a finite case through the same path: log N(x; 0, 1) + x + log 2
      const m2 = lseModel([0, 0], (t) => ops.logSumExp(t));
      const f2 = logDensityFn(m2, [], layout, { compile });
      const r2 = await f2(Float64Array.of(0.3));
      expect(r2.logp).toBeCloseTo(-0.5 * 0.09 - 0.5 * Math.log(2 * Math.PI) + 0.3 + Math.log(2), 4);
      expect(r2.grad[0]).toBeCloseTo(-0.3 + 1, 4);
      if (compile) expect(f2.compileStatus()).toBe(true);
    }
  });

  it('names ops.logSumExp in the NaN-factor error of a model that calls tf.logSumExp', async () => {
    const m = lseModel([NEG, NEG], (t) => tf.logSumExp(t));
    await expect(infer(m, { method: 'importance', particles: 200, seed: 1 })).rejects.toThrow(/site "f": factor log-weight is NaN \(a tf\.logSumExp whose terms are all -Infinity gives NaN in tfjs: use ops\.logSumExp/);
    // the same model with ops.logSumExp is a point of zero density, not an error
    const ok = lseModel([0, NEG], (t) => ops.logSumExp(t));
    await expect(infer(ok, { method: 'importance', particles: 200, seed: 1 })).resolves.toBeDefined();
  });
});
