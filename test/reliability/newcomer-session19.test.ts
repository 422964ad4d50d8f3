/**
 * NEWUSER6, session 19: models written as a newcomer would, checked for what
 * the docs promise. Each test fails on the code before its fix (named in the
 * title).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/select.js';
import { HalfNormal, Normal, infer, model, ops } from '../../src/index.js';
import { all } from '../../src/core/value.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A regression whose data arrive as tensors (`xs`, `ys` may be empty), or with no observation at all. */
function regression(observeIt: boolean) {
  return model(async ({ sample, observe }, d: { x: number[]; y: number[] }) => {
    const a = await sample('a', Normal(0, 5));
    const b = await sample('b', Normal(0, 5));
    const s = await sample('s', HalfNormal(2));
    if (observeIt) await observe('y', Normal(ops.add(a, ops.mul(b, tf.tensor1d(d.x))), s), tf.tensor1d(d.y));
  });
}

describe('empty data as tensors is no data (found: `tf.tensor1d([])` of a filter that kept no rows stopped every engine with "Normal: parameter loc must be finite, got tensor of shape [0]": tfjs\'s `all` of an empty tensor is false; core/value.ts `all` now holds for no elements, read so a compiled record guards it)', () => {
  it('`all` of an empty boolean tensor is true, of a false one false', () => {
    expect(all(tf.tensor1d([], 'bool'))).toBe(true);
    expect(all(tf.zeros([2, 0], 'bool'))).toBe(true);
    expect(all(tf.tensor1d([1, 0], 'bool'))).toBe(false);
  });

  it('importance, nuts and vi (its compiled float64 potential) on empty tensor data give the draws of the model with no observation', async () => {
    const empty = { x: [], y: [] };
    // importance: every weight is 1 (log Z 0, ESS the particle count); its draws' stream depends on how the model runs
    const imp = await infer(regression(true), { method: 'importance', seed: 2, particles: 300 }, empty);
    expect(imp.logZ).toBe(0);
    expect(imp.ess).toBeCloseTo(300, 6);
    expect(Math.abs(imp.moments('a').mean)).toBeLessThan(4 * (5 / Math.sqrt(300)));
    imp.dispose();
    const runs = [
      { method: 'nuts', seed: 2, chains: 1, warmup: 60, samples: 40 },
      { method: 'vi', seed: 2, steps: 60, samples: 50 },
    ] as const;
    for (const opts of runs) {
      const withData = await infer(regression(true), opts as never, empty);
      const without = await infer(regression(false), opts as never, empty);
      for (const site of ['a', 'b', 's']) {
        expect(withData.moments(site), `${opts.method} ${site}`).toEqual(without.moments(site));
      }
      withData.dispose();
      without.dispose();
    }
  });
});

describe('NaN in the data is named where it is (found: NaN in an observed tensor said "check the parameters for NaN"; a NaN covariate said "parameter loc must be finite, got tensor of shape [4]", with no row)', () => {
  it('a NaN observation says the value is NaN and at which element, on every engine alike', async () => {
    const d = { x: [1, 2, 3, 4], y: [1.1, NaN, 3.2, 3.9] };
    for (const method of ['importance', 'nuts', 'vi', 'smc'] as const) {
      await expect(infer(regression(true), { method, seed: 1 } as never, d), method).rejects.toThrow(
        'site "y": log density of Normal is NaN at value [1.100000023841858, NaN, 3.200000047683716, 3.9000000953674316] (the value itself is NaN at flat element 1: a missing data entry?',
      );
    }
  });

  it('a NaN covariate names the first bad element of the parameter it reaches', async () => {
    const d = { x: [1, 2, 3, NaN], y: [1.1, 2, 3.2, 3.9] };
    for (const method of ['importance', 'nuts'] as const) {
      await expect(infer(regression(true), { method, seed: 1 } as never, d), method).rejects.toThrow('Normal: parameter loc must be finite, got tensor of shape [4], first at element [3]');
    }
  });
});

describe('predictive at new inputs with a latent value per data row names the site (found: a random effect per row in a plate over the data gave "Normal.logProb: the value\'s batch shape [6] and the distribution\'s batch shape [2] do not broadcast", naming no site, from every engine; infer/predictive-shapes.ts)', () => {
  const perRow = (newRowsApart: boolean) =>
    model(async ({ sample, observe, plate }, x: number[], y?: number[]) => {
      const a = await sample('a', Normal(0, 5));
      const s = await sample('s', HalfNormal(1));
      const name = newRowsApart && y === undefined ? 'u_new' : 'u';
      const u = await plate('rows', x.length, () => sample(name, Normal(0, s)));
      await observe('y', Normal(ops.add(ops.add(a, u), tf.tensor1d(x)), 0.5), y === undefined ? undefined : tf.tensor1d(y));
    });
  const x = [0, 1, 2, 3, 4, 5];
  const y = [0.3, 1.2, 2.5, 2.8, 4.4, 5.1];

  it('new rows: an error naming "u" and both shapes; the fitted rows, or the new rows under their own address, predict', async () => {
    const post = await infer(perRow(false), { method: 'importance', seed: 1, particles: 200 }, x, y);
    await expect(post.predictive(5, { seed: 2, args: [[10, 20]] })).rejects.toThrow(/site "u": predictive at new arguments: the posterior's values of latent site "u" have shape \[6\], but at these arguments the model makes it of shape \[2\]/);
    expect((await post.predictive(5, { seed: 2, args: [x] }))[0]!.values.u).toBeDefined();
    post.dispose();
    const apart = await infer(perRow(true), { method: 'importance', seed: 1, particles: 200 }, x, y);
    const sims = await apart.predictive(5, { seed: 2, args: [[10, 20]] });
    expect((sims[0]!.values.u_new as tf.Tensor).shape).toEqual([2]);
    apart.dispose();
  });
});
