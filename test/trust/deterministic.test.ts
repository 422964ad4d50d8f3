/**
 * Issue 11 item 9: `deterministic` sites and the model's return value in the posteriors of every
 * engine that samples in unconstrained space or from a guide (nuts, hmc, hmc-gibbs, neutra, vi,
 * svgd), as importance, smc, mh and tempered already keep them. Each draw's deterministic values
 * must be the model's function of that draw's latent values (checked per draw to float32 rounding),
 * batched or not, and `moments('theta[0]')` must exist.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Bernoulli, Normal, infer, model, ops } from '../../src/index.js';
import type { Posterior } from '../../src/infer/posterior.js';
import { replayDraws } from '../../src/infer/replay-draws.js';

const y = [2.8, 0.8, -0.3, 0.7, -0.1, 0.1, 1.8, 1.2];
const sigma = [1.5, 1, 1.6, 1.1, 0.9, 1.1, 1, 1.8];

/** Non-centred eight schools (scaled by 10) with theta recorded and returned. */
const schools = model(async ({ sample, observe, plate, deterministic }) => {
  const mu = await sample('mu', Normal(0, 1));
  const logTau = await sample('logTau', Normal(0, 1));
  const tau = deterministic('tau', ops.exp(logTau));
  return plate('school', y.length, async (_i, p) => {
    const z = await p.sample('z', Normal(0, 1));
    const theta = deterministic('theta', ops.add(mu, ops.mul(tau, z)));
    await p.observe('y', Normal(theta, tf.tensor1d(sigma)), tf.tensor1d(y));
    return { theta, tau };
  });
});

const num = (v: unknown): number => (typeof v === 'number' ? v : (v as tf.Tensor).dataSync()[0]!);
const arr = (v: unknown): number[] => Array.from((v as tf.Tensor).dataSync());

/** Every draw: tau = exp(logTau), theta = mu + tau z, returned as { theta, tau }. */
function checkDraws(post: Posterior): void {
  expect(post.draws.length).toBeGreaterThan(0);
  for (const d of post.draws) {
    const tau = Math.exp(num(d.values.logTau));
    expect(num(d.values.tau)).toBeCloseTo(tau, 4);
    const z = arr(d.values.z);
    const theta = arr(d.values.theta);
    z.forEach((zj, j) => expect(theta[j]!).toBeCloseTo(num(d.values.mu) + tau * zj, 3));
    const ret = d.returnValue as { theta: tf.Tensor; tau: number };
    expect(arr(ret.theta)).toEqual(theta);
    expect(num(ret.tau)).toBeCloseTo(tau, 4);
  }
  expect(Number.isFinite(post.moments('theta[0]').mean)).toBe(true);
  expect(post.summary().rows.map((r) => r.name)).toContain('theta[7]');
}

describe('deterministic sites and return values in every engine', () => {
  it.each([
    ['nuts, vectorised', { method: 'nuts', chains: 2, warmup: 100, samples: 50, seed: 1, vectorize: true }],
    ['nuts, chain by chain', { method: 'nuts', chains: 2, warmup: 100, samples: 50, seed: 1, vectorize: false }],
    ['hmc', { method: 'hmc', chains: 2, warmup: 100, samples: 50, seed: 1, numSteps: 8 }],
    ['vi (batched steps)', { method: 'vi', steps: 30, samples: 100, seed: 1 }],
    ['vi (per-draw steps)', { method: 'vi', steps: 50, samples: 30, seed: 1, vectorize: false }],
    ['svgd', { method: 'svgd', particles: 20, steps: 50, seed: 1 }],
    ['neutra', { method: 'neutra', guide: 'normal', viSteps: 30, chains: 2, warmup: 50, samples: 30, seed: 1 }],
  ] as const)('%s', async (_name, options) => {
    const post = await infer(schools, options as never);
    checkDraws(post);
    post.dispose?.();
  });

  it('hmc-gibbs keeps them next to the discrete sites', async () => {
    const switched = model(async ({ sample, observe, deterministic }) => {
      const b = await sample('b', Bernoulli(0.3));
      const x = await sample('x', Normal(b === 1 ? 2 : -1, 1));
      deterministic('x2', ops.mul(x, x));
      await observe('y', Normal(x, 0.5), 1.2);
      return b;
    });
    const post = await infer(switched, { method: 'hmc-gibbs', chains: 2, warmup: 100, samples: 50, seed: 3 });
    for (const d of post.draws) {
      expect(num(d.values.x2)).toBeCloseTo(num(d.values.x) ** 2, 4);
      expect(d.returnValue).toBe(d.values.b);
    }
    expect(Number.isFinite(post.moments('x2').mean)).toBe(true);
  });

  it('costs one model run when there is nothing to record, and falls back to per-draw runs when batching fails', async () => {
    let runs = 0;
    const plain = model(async ({ sample }) => {
      runs++;
      await sample('a', Normal(0, 1));
    });
    const source = { size: 100, values: (i: number) => ({ a: i / 100 }), batching: { plateNesting: 0, batchRank: () => 0 } };
    expect(await replayDraws(plain, [], source, { batched: true })).toBeUndefined();
    expect(runs).toBe(1);
    // a model that branches on a number cannot run batched: the per-draw answer is used, and the reason kept
    const branching = model(async ({ sample, deterministic }) => {
      const a = await sample('a', Normal(0, 1));
      if (typeof a !== 'number') throw new Error('needs a number');
      deterministic('twice', 2 * a);
    });
    const r = (await replayDraws(branching, [], source, { batched: true }))!;
    // (and a model written with ops runs batched, with the same answers as per-draw runs)
    const n = 40;
    const draws = Array.from({ length: n }, (_, i) => ({ mu: i / n, logTau: -i / n, z: tf.fill([8], i / 10) as tf.Tensor }));
    const plated = { size: n, values: (i: number) => draws[i]!, batching: { plateNesting: 1, batchRank: (a: string) => (a === 'z' ? 1 : 0) } };
    const batched = (await replayDraws(schools, [], plated, { batched: true }))!;
    const single = (await replayDraws(schools, [], plated, { batched: false }))!;
    expect(batched.vectorized).toBe(true);
    batched.values.forEach((v, i) => expect(arr(v.theta)).toEqual(arr(single.values[i]!.theta).map((x) => expect.closeTo(x, 5))));
    tf.dispose(draws.map((d) => d.z));
    expect(r.vectorized).toMatch(/batched run failed: .*needs a number/);
    r.values.forEach((v, i) => expect(v.twice).toBeCloseTo((2 * i) / 100, 12));
  });

  it('keeps tf.memory().numTensors flat over repeated runs with posteriors disposed', async () => {
    const counts: number[] = [];
    for (let r = 0; r < 3; r++) {
      for (const options of [
        { method: 'nuts', chains: 2, warmup: 20, samples: 20, seed: r },
        { method: 'nuts', chains: 2, warmup: 20, samples: 20, seed: r, vectorize: false },
        { method: 'vi', steps: 5, samples: 20, seed: r },
      ] as const) (await infer(schools, options)).dispose();
      counts.push(tf.memory().numTensors);
    }
    expect(counts[2]).toBe(counts[1]);
  });

  it("disposing a posterior leaves the user's tensors alone (returned or recorded as they are)", async () => {
    const constant = tf.tensor1d([1, 2, 3]);
    const m = model(async ({ sample, deterministic }) => {
      await sample('a', Normal(0, 1));
      deterministic('c', constant);
      return constant;
    });
    for (const vectorize of [true, false]) (await infer(m, { method: 'nuts', chains: 2, warmup: 10, samples: 10, seed: 1, vectorize })).dispose();
    (await infer(m, { method: 'vi', steps: 5, samples: 10, seed: 1 })).dispose();
    expect(constant.isDisposed).toBe(false);
    expect(Array.from(constant.dataSync())).toEqual([1, 2, 3]);
    constant.dispose();
  });
});
