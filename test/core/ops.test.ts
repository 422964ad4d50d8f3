import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ops } from '../../src/index.js';

describe('ops.logAddExp', () => {
  const cases: [number, number][] = [[0, 0], [-1, 2], [-1000, -1001], [5, -Infinity], [-Infinity, -Infinity]];
  const exact = (a: number, b: number) => {
    const m = Math.max(a, b);
    return m === -Infinity ? -Infinity : m + Math.log(Math.exp(a - m) + Math.exp(b - m));
  };
  it('numbers: stable, and -Infinity (not NaN) when both terms are -Infinity', () => {
    for (const [a, b] of cases) expect(ops.logAddExp(a, b)).toBeCloseTo(exact(a, b), 12);
    expect(ops.logAddExp(-Infinity, -Infinity)).toBe(-Infinity);
  });
  it('tensors: the same values, no NaN, and a finite gradient where one term is finite', () => {
    const a = tf.tensor1d(cases.map((c) => c[0]));
    const b = tf.tensor1d(cases.map((c) => c[1]));
    const got = Array.from((ops.logAddExp(a, b) as tf.Tensor).dataSync());
    cases.forEach(([x, y], i) => expect(got[i]).toBeCloseTo(exact(x, y), 4));
    expect(got[4]).toBe(-Infinity);
    const g = tf.grad((x: tf.Tensor) => tf.sum(ops.logAddExp(x, tf.tensor1d([0, 0])) as tf.Tensor))(tf.tensor1d([0, -Infinity]));
    expect(Array.from(g.dataSync())).toEqual([0.5, 0]);
  });
});

describe("location-scale parameters follow Stan's rule (finite loc, positive finite scale)", () => {
  // A NUTS trajectory that diverges far out reaches loc = mu1 + exp(1264) = Infinity and scale = Infinity;
  // Normal(Inf, Inf).logProb(y) is NaN (Inf/Inf), which is an error; an invalid parameter rejects the point.
  it('an infinite loc or scale is an InvalidParameterError, not a NaN log density', async () => {
    const { Normal, InvalidParameterError } = await import('../../src/index.js');
    expect(() => Normal(Infinity, 1)).toThrow(InvalidParameterError);
    expect(() => Normal(0, Infinity)).toThrow(InvalidParameterError);
    expect(() => Normal(tf.tensor1d([0, Infinity]), 1)).toThrow(/parameter loc must be finite/);
    expect(Normal(0, 1).logProb(0)).toBeCloseTo(-0.9189385, 6);
  });
});
