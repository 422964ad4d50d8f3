/**
 * Fast paths that run a model in tensor mode fall back to their exact slow path when the model
 * branches on a tensor comparison (`if (ops.gt(x, 0))` is always true on a tensor), found by
 * `backend/condition-watch.ts` (a boolean tensor made during the run and never consumed):
 *
 * - vectorised Gibbs (`mh` with `gibbs: true`): the branch runs only when another site w is 1, so
 *   the once-per-site check passed it; every vectorised run is now watched, and the update falls
 *   back for good with the shared message in `diagnostics.gibbsVectorized`. E[z] within 4 MCSE
 *   of enumeration; the buggy answer (the model that always takes the first branch) fails the
 *   same check; the same model written with `ops.where` stays vectorised and right;
 * - batched program SMC: a branch taken with prior probability 0.0062 escapes the 16-particle
 *   probe; the whole batched run is now watched, and SMC runs per particle with the shared
 *   message in `diagnostics.notBatched`. log Z within 4 standard errors (the importance-weight
 *   variance, exact) of the exact value; the buggy answer (log Z = 0, every particle in the first
 *   branch) fails the same check; the `ops.where` version runs batched and is right.
 *
 * These models would be refused before they run by the static check of the source
 * (`core/condition-lint.ts`, test/trust/condition-lint.test.ts); `checkConditions: false` turns it
 * off here so that the run-time line of defence is what is tested.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BRANCH_ON_TENSOR_MESSAGE } from '../../src/core/errors.js';
import { Bernoulli, Categorical, Normal, type Value, infer, model, ops, toNumber } from '../../src/index.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { normalCdfNumber } from '../../src/math/special.js';

const message = (site: string) => `site "${site}": ${BRANCH_ON_TENSOR_MESSAGE}`;

/** z-score of a posterior mean (summary row) against an exact value, using the row's MCSE. */
function zOf(post: Pick<Posterior, 'summary'>, name: string, exact: number): number {
  const row = post.summary().rows.find((r) => r.name === name);
  if (!row) throw new Error(`no summary row ${name}`);
  return (row.mean - exact) / Number(row.mcse_mean);
}
const within4 = (z: number): boolean => Number.isFinite(z) && Math.abs(z) <= 4;

describe('vectorised Gibbs: a branch on a tensor comparison behind another site', () => {
  const pz = [0.2, 0.3, 0.5];
  // The mh runs give z's probabilities as a tensor: with plain numbers the lean Gibbs update (GIBBS2, session 17;
  // tried before the vectorised one) runs the model on numbers, where `ops.gt(z, 0)` is a real boolean, and the
  // vectorised update (whose watch this tests) never runs. `truthyNumbers` checks that lean answer below.
  const pzTensor = tf.tensor1d(pz);
  const models = (probs: number[] | tf.Tensor1D) => ({
    truthy: model(async ({ sample, factor }) => {
      const z = await sample('z', Categorical(probs));
      const w = await sample('w', Bernoulli(0.5));
      if (toNumber(w) === 1) {
        if (ops.gt(z, 0) as unknown as boolean) await factor('f', 0); // a newcomer's mistake
        else await factor('f', 2.5);
      } else await factor('f', ops.mul(z, 0.1));
    }),
    // what the bug computed: the first branch always
    alwaysFirst: model(async ({ sample, factor }) => {
      const z = await sample('z', Categorical(probs));
      const w = await sample('w', Bernoulli(0.5));
      if (toNumber(w) === 1) await factor('f', 0);
      else await factor('f', ops.mul(z, 0.1));
    }),
    written: model(async ({ sample, factor }) => {
      const z = await sample('z', Categorical(probs));
      const w = await sample('w', Bernoulli(0.5));
      if (toNumber(w) === 1) await factor('f', ops.where(ops.gt(z, 0), 0, 2.5));
      else await factor('f', ops.mul(z, 0.1));
    }),
  });
  const truthyNumbers = models(pz).truthy;
  const { truthy, alwaysFirst, written } = models(pzTensor);
  // exact E[z]: p(z, w) ∝ pz * 0.5 * exp(f(z, w))
  const weights = pz.map((p, z) => p * (Math.exp(z > 0 ? 0 : 2.5) + Math.exp(0.1 * z)));
  const ez = weights.reduce((s, v, z) => s + v * z, 0) / weights.reduce((a, b) => a + b, 0);
  const opts = { method: 'mh', gibbs: true, chains: 4, samples: 1500, warmup: 100, seed: 2, checkConditions: false } as const;

  it('falls back for good with the shared message, and E[z] is within 4 MCSE of enumeration', async () => {
    const ex = await infer(truthyNumbers, { method: 'enumerate', checkConditions: false });
    expect(Math.abs(ex.marginal('z').prob(0) - 0.602112)).toBeLessThan(1e-5); // enumeration runs per value (numbers)
    ex.dispose();
    const post = await infer(truthy, opts);
    expect(post.diagnostics.gibbsVectorized).toEqual({ z: message('f') });
    expect(within4(zOf(post, 'z', ez))).toBe(true);
    post.dispose();
    // planted: the answer the unwatched fast path gave fails the same check
    const bug = await infer(alwaysFirst, { ...opts, vectorizeGibbs: false });
    expect(within4(zOf(bug, 'z', ez))).toBe(false);
    bug.dispose();
    // the same mistake with plain-number probabilities: the lean Gibbs update runs it on numbers, where it is right
    const lean = await infer(truthyNumbers, opts);
    expect(lean.diagnostics.gibbsLean).toBe(true);
    expect(within4(zOf(lean, 'z', ez))).toBe(true);
    lean.dispose();
  }, 120_000);

  it('the same model written with ops.where stays vectorised (no false alarm) and is right', async () => {
    const post = await infer(written, opts);
    expect(post.diagnostics.gibbsVectorized).toEqual({ z: true });
    expect(within4(zOf(post, 'z', ez))).toBe(true);
    post.dispose();
  }, 120_000);
});

describe('batched program SMC: a rarely taken branch on a tensor comparison', () => {
  const cut = -2.5;
  const truthy = model(async ({ sample, factor }) => {
    const x = await sample('x', Normal(0, 1));
    if (ops.gt(x, cut) as unknown as boolean) await factor('f', 0); // a newcomer's mistake
    else await factor('f', 5);
  });
  const written = model(async ({ sample, factor }) => {
    const x = await sample('x', Normal(0, 1));
    await factor('f', ops.where(ops.gt(x, cut), 0, 5) as Value);
  });
  // importance weights w = exp(f(x)), x ~ N(0, 1): Z = E[w], and the standard error of log Zhat
  // with n particles (one weighting, no earlier resampling) is sd(w) / (Z sqrt(n))
  const p = normalCdfNumber(cut);
  const Z = 1 - p + p * Math.exp(5);
  const sd = Math.sqrt(1 - p + p * Math.exp(10) - Z * Z);
  const n = 2000;
  const se = sd / (Z * Math.sqrt(n));
  const ok = (logZ: number) => Math.abs(logZ - Math.log(Z)) <= 4 * se;

  it('runs per particle with the shared message, and log Z is within 4 s.e. of the exact value', async () => {
    expect(Math.log(Z)).toBeCloseTo(0.6499, 4);
    for (const seed of [1, 2]) {
      const post = await infer(truthy, { method: 'smc', particles: n, seed, checkConditions: false });
      expect(post.diagnostics.execution).toBe('per-particle');
      expect(post.diagnostics.notBatched).toBe(message('f'));
      expect(ok(post.logZ), `seed ${seed}: log Z ${post.logZ}`).toBe(true);
      post.dispose();
    }
    // planted: what the unwatched batched run gave (every particle in the first branch) fails the same check
    expect(ok(0)).toBe(false);
  }, 120_000);

  it('the same model written with ops.where runs batched (no false alarm) and is right', async () => {
    const post = await infer(written, { method: 'smc', particles: n, seed: 1 });
    expect(post.diagnostics.execution).toBe('batched');
    expect(ok(post.logZ), `log Z ${post.logZ}`).toBe(true);
    post.dispose();
  }, 120_000);
});
