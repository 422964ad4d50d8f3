/**
 * NEWUSER4, session 17: models written as a newcomer would, checked for what
 * the docs promise. Each test fails on the code before its fix (the old
 * behaviour is in the titles).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { Flat, Normal, infer, model, ops } from '../../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('tensors held flat after a run with supports that depend on other sites (found: ordered cutpoints written as the modelling table says, `c2 ~ Flat({ low: c1 })`, left 1-2 tensors alive after every nuts run: the layout probe\'s bounds, kept by the layout and never freed)', () => {
  // ordered cutpoints as docs/modelling.md writes `positive_ordered`: each bound is the site before
  const cutpoints = model(async ({ sample, factor, observe }) => {
    const c1 = await sample('c1', Normal(0, 1));
    const c2 = await sample('c2', Flat({ low: c1, high: 5 }));
    const c3 = await sample('c3', Flat({ low: c2 }));
    factor('c3prior', Normal(2, 1).logProb(c3));
    await observe('y', Normal(ops.add(c1, c3), 1), 1.5);
  });

  it('nuts and hmc leave tf.memory().numTensors where it was (old code: 1 more after each run here, 2 on the three-cutpoint ordinal model)', async () => {
    for (const method of ['nuts', 'hmc'] as const) {
      const before = tf.memory().numTensors;
      const post = await infer(cutpoints, { method, seed: 1, chains: 1, warmup: 30, samples: 30 });
      expect(post.draws.length).toBe(30);
      post.dispose();
      expect(tf.memory().numTensors, method).toBe(before);
    }
  });

  it('the dependent bounds still hold in the draws (c1 < c2 < 5, c2 < c3), so the freed probe bounds were not the ones used', async () => {
    const post = await infer(cutpoints, { method: 'nuts', seed: 2, chains: 1, warmup: 30, samples: 30 });
    const cols = post.chainColumns()!;
    const [c1, c2, c3] = ['c1', 'c2', 'c3'].map((k) => cols.get(k)![0]!);
    for (let i = 0; i < c1!.length; i++) {
      expect(c1![i]!).toBeLessThan(c2![i]!);
      expect(c2![i]!).toBeLessThan(5);
      expect(c2![i]!).toBeLessThan(c3![i]!);
    }
    post.dispose();
  });
});
