/**
 * NUTS completion of a model with a site of dependent support (posteriordb
 * garch11: beta1 on (0, 1 - alpha1)) where the log density compiled: the
 * compiled record of the model gives beta1's constrained values, the same as
 * the per-draw tfjs model runs (float32 rounding), without 4000 tfjs runs of
 * a 200-step loop (that completion took 246 of garch's 304 s wall, load ~15).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import { layoutOf } from '../../src/infer/mcmc/potential.js';
import { completeColumns } from '../../src/infer/mcmc/complete-draws.js';
import { compiledDeterministics } from '../../src/infer/mcmc/compiled-completion.js';
import { columnsFromSamples } from '../../src/infer/mcmc/hmc-engine.js';
import { materialiseDraws, valueAt } from '../../src/infer/draw-columns.js';
import { garch11, garchData } from '../../models/posteriordb/garch11.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('compiled completion of sites of dependent support', () => {
  it('gives garch11 beta1 as the per-draw model runs do', async () => {
    const { layout } = await layoutOf(garch11, [garchData], rngFrom(1));
    expect(layout.sites.filter((s) => s.dependentSupport).map((s) => s.address)).toEqual(['beta1']);
    const draws = 12;
    // points spread over the unconstrained space (beta1's coordinate from -3 to 3)
    const samples = Float64Array.from({ length: draws * layout.dim }, (_, i) => 0.8 * Math.sin(1.7 * i + 0.4) + (i % layout.dim === 0 ? 5 : 0));
    const point = (i: number): Float64Array => samples.subarray(i * layout.dim, (i + 1) * layout.dim);
    const fixed = { size: draws, chains: 1, columns: columnsFromSamples(layout, { chains: 1, draws, samples: [samples] }) };
    expect(fixed.columns.has('beta1')).toBe(false);
    const before = tf.memory().numTensors;
    const det = await compiledDeterministics(garch11, [garchData], layout, point, draws);
    expect(typeof det).not.toBe('string');
    expect(tf.memory().numTensors).toBe(before);
    const compiled = await completeColumns(garch11, [garchData], layout, point, fixed, { batched: false, compiled: true });
    const byRuns = await completeColumns(garch11, [garchData], layout, point, fixed, { batched: false, compiled: false });
    const rows = (c: typeof compiled) => ('columns' in c ? materialiseDraws(c) : c);
    const a = rows(compiled);
    const b = rows(byRuns);
    expect('columns' in compiled).toBe(true); // columnar: no per-draw records made
    const col = (compiled as { columns: ReadonlyMap<string, unknown> }).columns.get('beta1') as Parameters<typeof valueAt>[0];
    for (let i = 0; i < draws; i++) {
      const alpha1 = a[i]!.values.alpha1 as number;
      const beta1 = valueAt(col, i) as number;
      expect(beta1).toBeGreaterThan(0);
      expect(beta1).toBeLessThan(1 - alpha1);
      expect(Math.abs(beta1 - (b[i]!.values.beta1 as number))).toBeLessThan(1e-6);
    }
  });
});
