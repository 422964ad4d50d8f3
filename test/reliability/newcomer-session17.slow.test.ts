/**
 * NEWUSER4, session 17 (slow tier): an ordinal (ordered logistic) regression written as a newcomer
 * would from the Stan code, with no `OrderedLogistic` family: cutpoints as the modelling table writes
 * `ordered` (`Flat({ low: c1 })`, the normal(0, 5) prior by `factor`), the category probabilities as
 * differences of sigmoids stacked into a `Categorical`. Checked against rstan's posterior.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Categorical, Flat, Normal, infer, model, ops } from '../../src/index.js';
import { ORDINAL_REFERENCE, ORDINAL_X, ORDINAL_Y } from './newcomer-session17-ordinal.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** The ordinal model; `sign` -1 plants a wrong link (eta = -beta x). */
function ordinal(sign: 1 | -1) {
  const x = tf.tensor1d([...ORDINAL_X]);
  const y = ORDINAL_Y.map((v) => v - 1);
  return model(async ({ sample, observe, factor }) => {
    const beta = await sample('beta', Normal(0, 5));
    const c1 = await sample('c1', Flat());
    const c2 = await sample('c2', Flat({ low: c1 }));
    const c3 = await sample('c3', Flat({ low: c2 }));
    factor('cprior', ops.add(ops.add(Normal(0, 5).logProb(c1), Normal(0, 5).logProb(c2)), Normal(0, 5).logProb(c3)));
    const eta = ops.mul(ops.mul(sign, beta), x);
    const q1 = tf.sigmoid(tf.sub(eta, c1));
    const q2 = tf.sigmoid(tf.sub(eta, c2));
    const q3 = tf.sigmoid(tf.sub(eta, c3));
    await observe('y', Categorical(tf.stack([tf.sub(1, q1), tf.sub(q1, q2), tf.sub(q2, q3), q3], 1)), y);
  });
}

/** Parameters whose mean or sd is more than 4 combined standard errors from rstan's (engine MCSE and the reference's). */
function misses(post: { summary(): { rows: readonly unknown[] } }): string[] {
  const rows = post.summary().rows as readonly { name: string; mean: number; sd: number; mcse_mean: number; mcse_sd: number }[];
  const ours: Record<string, string> = { beta: 'beta', 'c[1]': 'c1', 'c[2]': 'c2', 'c[3]': 'c3' };
  return ORDINAL_REFERENCE.flatMap((r) => {
    const q = rows.find((w) => w.name === ours[r.name])!;
    const se = r.sd / Math.sqrt(r.ess);
    const ok = Math.abs(q.mean - r.mean) <= 4 * Math.hypot(q.mcse_mean, se) && Math.abs(q.sd - r.sd) <= 4 * Math.hypot(q.mcse_sd, se / Math.SQRT2);
    return ok ? [] : [`${r.name}: ${q.mean.toFixed(3)} (${q.sd.toFixed(3)}) against ${r.mean} (${r.sd})`];
  });
}

describe('ordered logistic regression written from the Stan code (not tried here before), against rstan', () => {
  it('nuts and hmc at their defaults: every mean and sd within 4 combined standard errors, no warning, tensors flat; planted: the link written eta = -beta x is rejected', async () => {
    const before = tf.memory().numTensors;
    for (const method of ['nuts', 'hmc'] as const) {
      const post = await infer(ordinal(1), { method, seed: 1 });
      expect(post.warnings, post.warnings.join('\n')).toEqual([]);
      expect(misses(post)).toEqual([]);
      post.dispose();
    }
    expect(tf.memory().numTensors).toBe(before + 2); // the two models' data tensors (x), made outside the runs
    const planted = await infer(ordinal(-1), { method: 'nuts', seed: 1 });
    expect(misses(planted).length).toBeGreaterThan(0);
    planted.dispose();
  }, 300_000);
});
