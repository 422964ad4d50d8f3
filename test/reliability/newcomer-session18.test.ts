/**
 * NEWUSER5, session 18: models written as a newcomer would, checked for what
 * the docs promise. Each test fails on the code before its fix or with its
 * planted bug (named in the title).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Categorical, Flat, Normal, infer, model, ops } from '../../src/index.js';
import { ORDINAL_X, ORDINAL_Y } from './newcomer-session17-ordinal.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('importance and smc refusing a `Flat` site hold tf.memory().numTensors flat (session 17 left-over: 2 tensors per refused call on the ordered logistic model; the same leak as the layout probe\'s dependent bounds, closed by 0a612db: planted, the old layoutOnly that keeps every bound leaks 2 a call here)', () => {
  // session 17's ordinal model (three cutpoints written Flat({ low: previous }), docs/modelling.md's `ordered`), 20 rows
  const x = tf.tensor1d(ORDINAL_X.slice(0, 20));
  const y = ORDINAL_Y.slice(0, 20).map((v) => v - 1);
  const ordinal = model(async ({ sample, observe, factor }) => {
    const beta = await sample('beta', Normal(0, 5));
    const c1 = await sample('c1', Flat());
    const c2 = await sample('c2', Flat({ low: c1 }));
    const c3 = await sample('c3', Flat({ low: c2 }));
    factor('cprior', ops.add(ops.add(Normal(0, 5).logProb(c1), Normal(0, 5).logProb(c2)), Normal(0, 5).logProb(c3)));
    const eta = ops.mul(beta, x);
    const q1 = ops.sigmoid(ops.sub(eta, c1));
    const q2 = ops.sigmoid(ops.sub(eta, c2));
    const q3 = ops.sigmoid(ops.sub(eta, c3));
    await observe('y', Categorical(tf.stack([ops.sub(1, q1), ops.sub(q1, q2), ops.sub(q2, q3), q3] as tf.Tensor[], 1)), y);
  });

  it('three refused calls of each leave the count where it was, and the refusal names the site', async () => {
    for (const method of ['importance', 'smc'] as const) {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        await expect(infer(ordinal, { method, seed: i + 1 })).rejects.toThrow(/site "c1".*Flat/);
      }
      expect(tf.memory().numTensors, method).toBe(before);
    }
  });
});
