import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { valueAndGradsAsync } from '../../src/backend/autodiff.js';
import { initBackend } from '../../src/backend/select.js';
import { model, execute, substituteHandler, Rng } from '../../src/core/index.js';
import { Normal } from '../../src/distributions/normal.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

describe('gradients through async code', () => {
  it('match tf.grad exactly across awaits', async () => {
    const x = tf.tensor1d([0.3, -1.2, 2.5]);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.sin(t), tf.exp(tf.mul(t, 0.5)))) as tf.Scalar;
    const want = tf.grad(f)(x);
    const { value, grads } = await valueAndGradsAsync(async () => {
      const a = tf.sin(x);
      await tick();
      const b = tf.exp(tf.mul(x, 0.5));
      await tick();
      return tf.sum(tf.mul(a, b));
    }, [x]);
    expect(Array.from(grads[0].dataSync())).toEqual(Array.from(want.dataSync()));
    expect(value.dataSync()[0]).toBe(f(x).dataSync()[0]);
  });

  it('differentiates a model log joint and leaks no tensors', async () => {
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 0.5), tf.tensor1d([0.1, 0.4]));
    });
    const mu = tf.scalar(0.2);
    const run = () =>
      valueAndGradsAsync(async () => {
        const { trace } = await execute(m, { rng: new Rng(1), handlers: [substituteHandler({ mu })] });
        return trace.logJoint() as tf.Tensor;
      }, [mu]);
    const first = await run();
    first.value.dispose();
    first.grads.forEach((g) => g.dispose());
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) {
      const r = await run();
      // d/dmu [log N(mu|0,1) + sum log N(y|mu,0.5)] = -mu + sum (y - mu) / 0.25
      expect(r.grads[0].dataSync()[0]).toBeCloseTo(-0.2 + ((0.1 - 0.2) + (0.4 - 0.2)) / 0.25, 5);
      r.value.dispose();
      r.grads.forEach((g) => g.dispose());
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('serialises concurrent gradient computations', async () => {
    const x = tf.scalar(2);
    const results = await Promise.all(
      [1, 2, 3].map((k) =>
        valueAndGradsAsync(async () => {
          await tick();
          return tf.mul(tf.square(x), k);
        }, [x]),
      ),
    );
    expect(results.map((r) => r.grads[0].dataSync()[0])).toEqual([4, 8, 12]);
  });
});

describe('Maximum / Minimum gradients with broadcasting', () => {
  it('sum the gradient down to a broadcast input (tfjs 4.22 does not) with tfjs tie rules', () => {
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.scalar(2);
    const [gaMax, gbMax] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.maximum(x, y)))([a, b]);
    expect(Array.from(gaMax!.dataSync())).toEqual([0, 1, 1]); // a tie goes to a
    expect(gbMax!.shape).toEqual([]);
    expect(gbMax!.dataSync()[0]).toBe(1);
    const [gaMin, gbMin] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.minimum(x, y)))([a, b]);
    expect(Array.from(gaMin!.dataSync())).toEqual([1, 1, 0]);
    expect(gbMin!.dataSync()[0]).toBe(1);
    tf.dispose([a, b, gaMax!, gbMax!, gaMin!, gbMin!]);
  });
});
