/**
 * Kernels tfjs-backend-wasm lacks (src/backend/missing-kernels.ts): the
 * gradient of `tf.gather` needs `UnsortedSegmentSum`, so a hierarchical model
 * written with `tf.gather(alpha, group)` failed on the default backend under
 * every gradient engine. Checked on the real wasm backend: the gradient
 * against the hand answer, and NUTS on tfjs (`compile: false`) and compiled
 * against the conjugate posterior.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, test } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { unsortedSegmentSumValues } from '../../src/backend/missing-kernels.js';
import { Normal, infer, model } from '../../src/index.js';

const group = [0, 1, 2, 0, 1, 2, 0, 1, 3];
const y = [1.2, 0.3, -0.5, 1.0, 0.1, -0.7, 0.9, 0.4, 2.0];
const NOISE_SD = 0.5;

/** Exact posterior of a[k] ~ N(0, 1), y_i ~ N(a[group_i], NOISE_SD): mean and sd per group. */
function exact(noiseSd: number): { mean: number; sd: number }[] {
  return [0, 1, 2, 3].map((k) => {
    const ys = y.filter((_, i) => group[i] === k);
    const precision = 1 + ys.length / noiseSd ** 2;
    return { mean: ys.reduce((s, v) => s + v, 0) / noiseSd ** 2 / precision, sd: 1 / Math.sqrt(precision) };
  });
}

const groupModel = model(async ({ sample, observe }) => {
  const a = await sample('a', Normal(tf.zeros([4]), 1));
  await observe('y', Normal(tf.gather(a as tf.Tensor, tf.tensor1d(group, 'int32')), NOISE_SD), y);
});

/** Largest |mean - exact| / MCSE over the groups (MCSE from the bulk ESS of each row). */
function worstZ(post: Awaited<ReturnType<typeof infer>>, truth: { mean: number; sd: number }[]): number {
  const rows = post.summary().rows;
  let worst = 0;
  truth.forEach((t, k) => {
    const row = rows.find((r) => r.name === `a[${k}]`);
    if (!row) throw new Error(`no summary row a[${k}]`);
    const mcse = t.sd / Math.sqrt(Number(row.ess_bulk));
    worst = Math.max(worst, Math.abs(row.mean - t.mean) / mcse);
  });
  return worst;
}

describe('kernels wasm lacks', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  test('segment sums in float64, ids outside the range dropped', () => {
    expect([...unsortedSegmentSumValues([1, 2, 3, 4, 5, 6], [1, 0, 1], 2, 2)]).toEqual([3, 4, 6, 8]);
    expect([...unsortedSegmentSumValues([1, 2, 3], [0, 5, -1], 2, 1)]).toEqual([1, 0]);
  });

  test('the gradient of tf.gather on wasm is the segment sum of the upstream gradient', () => {
    expect(tf.getBackend()).toBe('wasm');
    const w = tf.tensor1d(y);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, tf.tensor1d(group, 'int32')), w)))(tf.zeros([4]));
    const want = [0, 1, 2, 3].map((k) => y.reduce((s, v, i) => (group[i] === k ? s + v : s), 0));
    const got = Array.from(g.dataSync());
    got.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 5));
    // a matrix gathered by rows: the rows' gradients add up
    const gm = tf.grad((m: tf.Tensor) => tf.sum(tf.gather(m, tf.tensor1d([2, 0, 2], 'int32'))))(tf.zeros([3, 2]));
    expect(Array.from(gm.dataSync())).toEqual([1, 1, 0, 0, 2, 2]);
    tf.dispose([w, g, gm]);
  });

  test('NUTS on a gather model (tfjs and compiled) matches the conjugate posterior; a wrong noise scale fails the same check', async () => {
    const truth = exact(NOISE_SD);
    for (const compile of [false, true]) {
      const post = await infer(groupModel, { method: 'nuts', chains: 2, warmup: 300, samples: 500, seed: 11, compile });
      expect(worstZ(post, truth), `compile: ${compile}`).toBeLessThan(4);
      if (compile) expect(worstZ(post, exact(1.0))).toBeGreaterThan(4); // planted: the posterior of a different model
      post.dispose();
    }
  }, 120_000);
});
