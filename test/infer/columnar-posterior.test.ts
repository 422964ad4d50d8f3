/**
 * Posteriors held as columns (src/infer/draw-columns.ts): the same answers as
 * the per-draw posterior made from the same values, per-draw records and
 * tensors made only when `draws` is read, and NUTS's completion (the
 * deterministic sites) written straight into columns.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { HalfNormal, Normal, infer, model, ops } from '../../src/index.js';
import { type DrawColumns, Posterior } from '../../src/infer/posterior.js';
import { materialiseDraws } from '../../src/infer/draw-columns.js';

const noModel = model(async () => undefined);

/** 3 chains x 40 draws of a scalar `a` and a [2, 3] site `w` (a fixed pattern with chain effects). */
function columns(): DrawColumns<undefined> {
  const size = 120;
  const a = Float64Array.from({ length: size }, (_, i) => Math.sin(i) + Math.floor(i / 40));
  const w = Float64Array.from({ length: size * 6 }, (_, k) => Math.fround(Math.cos(k * 0.7) * (1 + (k % 6))));
  return { size, chains: 3, columns: new Map([['a', { shape: [], data: a }], ['w', { shape: [2, 3], data: w }]]) };
}

describe('a posterior held as columns', () => {
  it('answers as the per-draw posterior of the same values, making no tensor until draws are read', () => {
    const before = tf.memory().numTensors;
    const col = new Posterior({ method: 'nuts', columns: columns(), model: noModel, args: [] });
    expect(col.summary().toString()).toContain('3 chains x 40 draws');
    expect(tf.memory().numTensors).toBe(before);
    const row = new Posterior({ method: 'nuts', draws: materialiseDraws(columns()), model: noModel, args: [] });
    expect(col.size).toBe(row.size);
    expect(col.addresses()).toEqual(row.addresses());
    expect([...col.weights]).toEqual([...row.weights]);
    expect(col.summary().rows).toEqual(row.summary().rows);
    expect(col.moments('w[1,2]')).toEqual(row.moments('w[1,2]'));
    expect([...col.chainColumns()!.keys()]).toEqual(['a', 'w[0,0]', 'w[0,1]', 'w[0,2]', 'w[1,0]', 'w[1,1]', 'w[1,2]']);
    expect(col.chainColumns()).toEqual(row.chainColumns());
    expect(col.scalarColumns()).toEqual(row.scalarColumns());
    // the per-draw records, made on first read
    const d = col.draws[45]!;
    expect(d.chain).toBe(1);
    expect(d.values.a).toBe(row.draws[45]!.values.a);
    expect(Array.from((d.values.w as tf.Tensor).dataSync())).toEqual(Array.from((row.draws[45]!.values.w as tf.Tensor).dataSync()));
    expect((d.values.w as tf.Tensor).shape).toEqual([2, 3]);
    expect(col.marginal('a').mean).toBeCloseTo(row.moments('a').mean, 12);
    col.dispose();
    row.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => col.summary()).toThrow(/disposed/);
  });

  it('refuses columns of the wrong length (naming the site) and a posterior with both or neither of draws and columns', () => {
    const bad = { ...columns(), columns: new Map([['w', { shape: [2, 3], data: new Float64Array(100) }]]) };
    expect(() => new Posterior({ method: 'nuts', columns: bad, model: noModel, args: [] })).toThrow(/site "w" holds 100 values, expected 120 draws x 6/);
    expect(() => new Posterior({ method: 'nuts', columns: { ...columns(), chains: 7 }, model: noModel, args: [] })).toThrow(/120 draws do not split into 7 chains/);
    expect(() => new Posterior({ method: 'nuts', model: noModel, args: [] })).toThrow(/either draws or columns/);
    expect(() => new Posterior({ method: 'nuts', draws: [], columns: columns(), model: noModel, args: [] })).toThrow(/either draws or columns/);
  });

  it('NUTS: deterministic sites are completed into columns by one batched run, and tensors appear only when draws are read', async () => {
    const m = model(async ({ sample, plate, deterministic }) => {
      const mu = await sample('mu', Normal(0, 1));
      const tau = await sample('tau', HalfNormal(1));
      await plate('j', 3, async (_i, p) => {
        const z = await p.sample('z', Normal(0, 1));
        deterministic('theta', ops.add(mu, ops.mul(tau, z)));
      });
    });
    const before = tf.memory().numTensors;
    const post = await infer(m, { method: 'nuts', chains: 2, warmup: 60, samples: 50, seed: 4 });
    expect(post.diagnostics.vectorized).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    const cols = post.chainColumns()!;
    for (const j of [0, 1, 2]) {
      const [mu, tau, z, theta] = ['mu', 'tau', `z[${j}]`, `theta[${j}]`].map((k) => cols.get(k)!.flatMap((c) => [...c]));
      theta!.forEach((t, i) => expect(t).toBeCloseTo(mu![i]! + tau![i]! * z![i]!, 4));
    }
    expect(post.draws).toHaveLength(100);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    post.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
