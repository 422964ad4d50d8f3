/**
 * Session 13, found by the lead while closing NEWUSER's open item: a probability of exactly 0 in
 * `Categorical` or `Multinomial` (tensor probabilities) gave the log-mass its right value but a NaN
 * gradient in every entry that was 0, even where that entry is not the one scored: `tf.log`'s
 * gradient at 0 is 0 / 0. A Dirichlet draw that underflows in float32, or probabilities made as
 * `z * p` with a discrete `z` of 0, then stall a gradient sampler (as session 13's M0 model did
 * through the count distributions). The gradient through the normaliser alone is finite:
 * d/dp_j [log p_x - log sum(p)] = [j = x] / p_x - 1 / sum(p).
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Categorical, Dirichlet, Multinomial, infer, initBackend, model } from '../../src/index.js';

describe('Categorical and Multinomial: the gradient with respect to probabilities with an entry of exactly 0', () => {
  it('equals the normaliser-only gradient (finite) for Categorical scalars, vectors and Multinomial counts', async () => {
    await initBackend();
    const p = [0, 0.25, 0.75];
    const sum = 1;
    const cases: [string, (q: tf.Tensor) => tf.Tensor, number[]][] = [
      // x = 1: [-1, 1/0.25 - 1, -1]
      ['Categorical, x = 1', (q) => Categorical(q).logProb(tf.scalar(1)) as tf.Tensor, [-1 / sum, 1 / 0.25 - 1 / sum, -1 / sum]],
      // x = [1, 2]: summed
      ['Categorical, x = [1, 2]', (q) => tf.sum(Categorical(q).logProb(tf.tensor1d([1, 2])) as tf.Tensor), [-2 / sum, 1 / 0.25 - 2 / sum, 1 / 0.75 - 2 / sum]],
      // counts [0, 2, 3], n = 5: c_j / p_j - n / sum
      ['Multinomial, counts [0, 2, 3]', (q) => Multinomial(5, q).logProb(tf.tensor1d([0, 2, 3])) as tf.Tensor, [-5 / sum, 2 / 0.25 - 5 / sum, 3 / 0.75 - 5 / sum]],
    ];
    for (const [name, f, expected] of cases) {
      const g = tf.grad(f)(tf.tensor1d(p));
      const got = Array.from(g.dataSync());
      g.dispose();
      got.forEach((v, j) => expect(v, `${name}, entry ${j}`).toBeCloseTo(expected[j]!, 5));
    }
  });

  it('the log-masses are unchanged (-Infinity at the zero entry) and a Dirichlet-Categorical model still compiles under NUTS, its mean within 4 MCSE of the conjugate one', async () => {
    const q = tf.tensor1d([0, 0.25, 0.75]);
    expect(Array.from((Categorical(q).logProb(tf.tensor1d([0, 1, 2])) as tf.Tensor).dataSync())).toEqual([-Infinity, Math.fround(Math.log(0.25)), Math.fround(Math.log(0.75))]);
    const data = [0, 1, 1, 2, 2, 2, 2, 1, 0, 2];
    const m = model(async ({ sample, observe }) => {
      const w = await sample('w', Dirichlet([1, 1, 1]));
      await observe('x', Categorical(w), tf.tensor1d(data));
    });
    const post = await infer(m, { method: 'nuts', chains: 4, warmup: 500, samples: 500, seed: 3 });
    expect(post.diagnostics.compiled).toBe(true);
    // conjugate: Dirichlet(1 + counts) = Dirichlet(3, 4, 6), mean of w[2] = 6 / 13
    const row = post.summary().rows.find((r) => r.name === 'w[2]');
    expect(row).toBeDefined();
    expect(Math.abs((row!.mean - 6 / 13) / Number(row!.mcse_mean))).toBeLessThanOrEqual(4);
  });
});
