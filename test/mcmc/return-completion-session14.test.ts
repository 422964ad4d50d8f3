/**
 * TIDY, session 14: NUTS completion of a model that returns a value, where
 * the log density compiled (posteriordb hmm_example returns its log
 * likelihood, and mu2 has a support that depends on mu1). The compiled
 * record of the model now gives the return value at each draw as well, the
 * same as the per-draw tfjs model runs (float32 rounding), instead of a tfjs
 * run of the 100-step forward algorithm per draw (the profile of a
 * 4 x (100 + 100) call: ~85% of its CPU in those runs).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import { layoutOf } from '../../src/infer/mcmc/potential.js';
import { completeColumns } from '../../src/infer/mcmc/complete-draws.js';
import { compiledDeterministics } from '../../src/infer/mcmc/compiled-completion.js';
import { columnsFromSamples } from '../../src/infer/mcmc/hmc-engine.js';
import { type DrawColumns, materialiseDraws, valueAt } from '../../src/infer/draw-columns.js';
import type { Draw } from '../../src/infer/posterior.js';
import { Normal, infer, model, ops } from '../../src/index.js';
import { hmmExample, hmmExampleData } from '../../models/posteriordb/hmm-example.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Whether a float64 replay agrees with a float32 model run. */
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b));

describe('compiled completion of a return value', () => {
  it('hmm_example: each draw gets its own log likelihood tensor and mu2, as the per-draw model runs give them (planted: the runs one draw later disagree)', async () => {
    const { layout } = await layoutOf(hmmExample, [hmmExampleData], rngFrom(1));
    expect(layout.sites.filter((s) => s.dependentSupport).map((s) => s.address)).toEqual(['mu2']);
    const draws = 10;
    const samples = Float64Array.from({ length: draws * layout.dim }, (_, i) => 0.6 * Math.sin(1.3 * i + 0.2) + (i % layout.dim === layout.dim - 2 ? 1 : 0));
    const point = (i: number): Float64Array => samples.subarray(i * layout.dim, (i + 1) * layout.dim);
    const fixed = { size: draws, chains: 1, columns: columnsFromSamples(layout, { chains: 1, draws, samples: [samples] }) };
    const before = tf.memory().numTensors;
    const det = await compiledDeterministics(hmmExample, [hmmExampleData], layout, point, draws);
    if (typeof det === 'string') throw new Error(det);
    expect(det.returnValues).toHaveLength(draws);
    for (const r of det.returnValues!) (r as tf.Tensor).dispose();
    expect(tf.memory().numTensors).toBe(before);
    const compiled = await completeColumns(hmmExample, [hmmExampleData], layout, point, fixed, { batched: false, compiled: true });
    const byRuns = await completeColumns(hmmExample, [hmmExampleData], layout, point, fixed, { batched: false, compiled: false });
    expect('columns' in compiled).toBe(true); // columnar: no per-draw records made
    const a = materialiseDraws(compiled as DrawColumns<tf.Tensor>);
    const b = byRuns as Draw<tf.Tensor>[];
    const mu2 = (compiled as DrawColumns<tf.Tensor>).columns.get('mu2')!;
    const ll = (d: Draw<tf.Tensor>) => d.returnValue.dataSync()[0]!;
    let planted = 0;
    for (let i = 0; i < draws; i++) {
      expect(a[i]!.returnValue.shape).toEqual(b[i]!.returnValue.shape);
      expect(close(ll(a[i]!), ll(b[i]!)), `draw ${i}: ${ll(a[i]!)} against ${ll(b[i]!)}`).toBe(true);
      expect(close(valueAt(mu2, i) as number, b[i]!.values.mu2 as number)).toBe(true);
      if (i + 1 < draws && !close(ll(a[i]!), ll(b[i + 1]!))) planted++;
    }
    expect(planted).toBe(draws - 1);
    for (const d of [...a, ...b]) d.returnValue.dispose();
  });

  it('a number returned stays a number, and through infer the posterior holds the return values the model computes', async () => {
    const m = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), 0.7);
      return 2;
    });
    const post = await infer(m, { method: 'nuts', chains: 2, warmup: 50, samples: 20, seed: 3 });
    expect(post.diagnostics.compiled).toBe(true);
    expect(post.draws.map((d) => d.returnValue)).toEqual(new Array(40).fill(2));
    post.dispose();
    const t = model(async ({ sample, observe }) => {
      const mu = await sample('mu', Normal(0, 1));
      await observe('y', Normal(mu, 1), 0.7);
      return ops.mul(mu, 3);
    });
    const before = tf.memory().numTensors;
    const pt = await infer(t, { method: 'nuts', chains: 2, warmup: 50, samples: 20, seed: 3 });
    const mus = pt.draws.map((d) => d.values.mu as number);
    pt.draws.forEach((d, i) => expect(close((d.returnValue as tf.Tensor).dataSync()[0]!, 3 * mus[i]!)).toBe(true));
    pt.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
