/**
 * A model that branches on a tensor comparison (`if (ops.gt(mu, 0))`): in a tensor run the
 * comparison is a boolean tensor, always true in a JS condition, so the compiled record (NUTS,
 * HMC, VI) and every tfjs run follow the first branch. The JIT recorder sees a boolean tensor
 * made from the parameters that nothing consumed or read and reports it; the engines stop with
 * the shared error naming the site. Compiled MH falls back to the model-running kernel (where a
 * draw is a number and the branch is right), and its safety net (an accepted state's model run
 * against the compiled density) catches a record that follows the wrong branch undetected.
 *
 * Exact answers by quadrature; statistical checks within 4 MCSE, each shown failing on the
 * wrong answer the bug gave (the first branch always taken).
 *
 * `infer` now refuses these models before they run (the static check of the source,
 * test/trust/condition-lint.test.ts); `checkConditions: false` turns that off here so that the
 * run-time line of defence is what is tested.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { HalfNormal, Normal, Uniform, type Value, infer, model, ops } from '../../src/index.js';
import { traceTensorFunction } from '../../src/backend/jit/trace.js';
import { initBackend } from '../../src/backend/select.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { exactMean } from '../helpers/branch-quadrature.js';

const EXACT = exactMean((x) => (x > 0 ? 0.5 : 3)); // -0.6784
const FIRST_BRANCH_ALWAYS = exactMean(() => 0.5); // -0.8000: what the bug gave

function zOf(post: Posterior, exact: number): number {
  const row = post.summary().rows.find((r) => r.name === 'mu')!;
  return (row.mean - exact) / Number(row.mcse_mean);
}
const within4 = (z: number): boolean => Number.isFinite(z) && Math.abs(z) <= 4;

const truthy = model(async ({ sample, observe }) => {
  const mu = await sample('mu', Normal(0, 1));
  // the bug under test: a tensor in a JS condition
  if (ops.gt(mu, 0) as unknown as boolean) await observe('y', Normal(mu, 0.5), -1.0);
  else await observe('y', Normal(mu, 3), -1.0);
});

const MESSAGE = /^site "y": the model branches on a tensor comparison \(e\.g\. `if \(ops\.gt\(x, 0\)\)`\): a tensor is always true in a JS condition\. Use ops\.where/;

describe('a model that branches on a tensor comparison', () => {
  it('the recorder reports an unconsumed boolean made from the input, not a consumed or read one', async () => {
    await initBackend();
    const x = tf.tensor1d([0.5, -0.2]);
    const branched = await traceTensorFunction((t) => {
      tf.greater(t, 0); // made and dropped: a JS condition
      return tf.sum(t);
    }, x);
    expect(branched.branchesOnTensor).toEqual({ site: '(before the first site)' });
    const chosen = await traceTensorFunction((t) => tf.sum(tf.where(tf.greater(t, 0), t, tf.neg(t))), x);
    expect(chosen.graph).toBeDefined();
    const guarded = await traceTensorFunction((t) => {
      if (!tf.all(tf.greater(t, -1)).dataSync()[0]) throw new Error('invalid');
      return tf.sum(t);
    }, x);
    expect(guarded.graph?.guards.length).toBe(1);
    x.dispose();
  });

  it('nuts (vectorised, sequential, compile: false), hmc and vi stop with the shared error naming the site', async () => {
    const short = { seed: 1, chains: 2, warmup: 10, samples: 10 };
    for (const o of [{ method: 'nuts' }, { method: 'nuts', vectorize: false }, { method: 'nuts', compile: false }, { method: 'nuts', vectorize: false, compile: false }, { method: 'hmc' }]) {
      await expect(infer(truthy, { ...short, ...o, checkConditions: false } as never), JSON.stringify(o)).rejects.toThrow(MESSAGE);
    }
    await expect(infer(truthy, { method: 'vi', seed: 1, steps: 20, checkConditions: false })).rejects.toThrow(MESSAGE);
    await expect(infer(truthy, { method: 'vi', seed: 1, steps: 20, compile: false, checkConditions: false })).rejects.toThrow(MESSAGE);
  });

  it('mh (compile by default) falls back to model runs and is right within 4 MCSE (the first-branch answer is not)', async () => {
    const post = await infer(truthy, { method: 'mh', seed: 1, chains: 4, warmup: 300, samples: 3000, checkConditions: false });
    expect(String(post.diagnostics.compiled)).toMatch(/site "y": the model branches on a tensor comparison/);
    expect(within4(zOf(post, EXACT))).toBe(true);
    expect(within4(zOf(post, FIRST_BRANCH_ALWAYS))).toBe(false); // planted: the bug's answer fails the check
  });

  it('ops.where(ops.gt(...)) compiles under nuts and is right (no false alarm)', async () => {
    const chosen = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, ops.where(ops.gt(mu, 0), 0.5, 3) as Value), -1.0);
    });
    const post = await infer(chosen, { method: 'nuts', seed: 2, chains: 4, warmup: 300, samples: 500 });
    expect(post.diagnostics.compiled).toBe(true);
    expect(within4(zOf(post, EXACT))).toBe(true);
    expect(within4(zOf(post, FIRST_BRANCH_ALWAYS))).toBe(false);
  });

  it('a boolean support check inside a distribution (a guard) still compiles', async () => {
    const bounded = model(async ({ sample, observe }) => {
      const s = await sample('s', HalfNormal(1));
      await observe('y', Uniform(0, s), 0.3);
    });
    const post = await infer(bounded, { method: 'nuts', seed: 3, chains: 2, warmup: 100, samples: 100 });
    expect(post.diagnostics.compiled).toBe(true);
  });

  it("compiled MH's safety net: a record that follows the wrong branch undetected (the comparison is also used) restarts the run on model runs", async () => {
    // c is consumed by ops.where, so the recorder cannot tell it also steered a JS `if`
    const sneaky = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      const c = ops.gt(mu, 0);
      const s = ops.where(c, 0.5, 3) as Value;
      if (c as unknown as boolean) await observe('y', Normal(mu, s), -1.0);
      else await observe('y', Normal(mu, 1), -1.0);
    });
    const exact = exactMean((x) => (x > 0 ? 0.5 : 1));
    const recorded = exactMean((x) => (x > 0 ? 0.5 : 3)); // what the compiled record scores
    const post = await infer(sneaky, { method: 'mh', seed: 1, chains: 4, warmup: 300, samples: 3000, checkConditions: false });
    expect(String(post.diagnostics.compiled)).toMatch(/^abandoned, the run restarted on model runs: the compiled density disagreed with a model run/);
    expect(within4(zOf(post, exact))).toBe(true);
    expect(within4(zOf(post, recorded))).toBe(false); // planted: the record's answer fails the check
  });
});
