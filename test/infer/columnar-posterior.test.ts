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
import { compiledDeterministics } from '../../src/infer/mcmc/compiled-completion.js';
import { layoutOnly } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import { toNumber } from '../../src/core/value.js';

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

  it('NUTS: deterministic sites are completed into columns (by the compiled record), and tensors appear only when draws are read', async () => {
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

  it('the compiled completion replays one record of the model in float64 at every draw, and says why not where it cannot', async () => {
    const theta = (extra: (ctx: { deterministic: (a: string, v: never) => unknown }, mu: unknown) => unknown) =>
      model(async (ctx) => {
        const mu = await ctx.sample('mu', Normal(0, 1));
        const tau = await ctx.sample('tau', HalfNormal(1));
        await ctx.plate('j', 3, async (_i, p) => {
          const z = await p.sample('z', Normal(0, 1));
          ctx.deterministic('theta', ops.add(mu, ops.mul(tau, z)));
        });
        ctx.deterministic('k', 2);
        return extra(ctx as never, mu);
      });
    const plain = theta(() => undefined);
    const layout = await layoutOnly(plain, [], rngFrom(1));
    // unconstrained rows (mu, log tau, z[0..2]) at 7 draws
    const rows = Array.from({ length: 7 }, (_, i) => Float64Array.from({ length: layout.dim }, (_, k) => Math.sin(1.3 * i + 2.1 * k)));
    const before = tf.memory().numTensors;
    const made = await compiledDeterministics(plain, [], layout, (i) => rows[i]!, rows.length);
    expect(tf.memory().numTensors).toBe(before);
    if (typeof made === 'string') throw new Error(made);
    expect(made.returnValues).toBeUndefined();
    const cols = made.columns;
    expect([...cols.keys()]).toEqual(['theta', 'k']);
    expect(cols.get('theta')!.shape).toEqual([3]);
    rows.forEach((q, i) => {
      // float64 throughout: mu + exp(log tau) z to rounding, not float32's 1e-7
      for (let j = 0; j < 3; j++) expect(cols.get('theta')!.data[i * 3 + j]).toBeCloseTo(q[0]! + Math.exp(q[1]!) * q[2 + j]!, 12);
      expect(cols.get('k')!.data[i]).toBe(2);
    });
    // where it cannot, a reason (and infer completes by model runs, as before)
    // (TIDY, session 14: a numeric return value is replayed too, a number or a tensor per draw; was refused)
    const returnsObject = theta((_ctx, mu) => ({ mu }));
    expect(await compiledDeterministics(returnsObject, [], layout, (i) => rows[i]!, rows.length)).toBe('the model returns a value that is not a number or a numeric tensor');
    const reads = theta((ctx, mu) => void ctx.deterministic('muNumber', toNumber(mu as never) as never));
    expect(await compiledDeterministics(reads, [], layout, (i) => rows[i]!, rows.length)).toMatch(/^not recorded: /);
    expect(tf.memory().numTensors).toBe(before);
    // and through infer: the same columns as the model gives, in float64 (the tfjs completion was float32)
    const post = await infer(plain, { method: 'nuts', chains: 2, warmup: 30, samples: 20, seed: 2 });
    const c = post.chainColumns()!;
    const [mu, tau, z0, t0] = ['mu', 'tau', 'z[0]', 'theta[0]'].map((k) => c.get(k)!.flatMap((x) => [...x]));
    t0!.forEach((t, i) => expect(t).toBeCloseTo(mu![i]! + tau![i]! * z0![i]!, 5));
    expect(t0!.some((t) => t !== Math.fround(t))).toBe(true);
    post.dispose();
  });
});
