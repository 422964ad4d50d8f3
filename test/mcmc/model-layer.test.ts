/**
 * The model layer of the gradient-based samplers and the performance work on
 * its hot path: the single-chain and batched evaluators agree with each other
 * and with finite differences, the lean arithmetic gradients match finite
 * differences under broadcasting, support masks still give -Infinity outside
 * the support when they skip their `where` ops, size-1 batch axes expand
 * with independent draws (plates over batched latents), and the engine's
 * diagnostics count gradient calls.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { valueAndGradsAsync } from '../../src/backend/autodiff.js';
import { initBackend } from '../../src/backend/select.js';
import { rngFrom } from '../../src/core/rng.js';
import { Rng } from '../../src/core/rng.js';
import { Exponential, HalfCauchy, Normal, infer, model, ops } from '../../src/index.js';
import type { HMCDiagnostics } from '../../src/infer/mcmc/hmc-engine.js';
import { batchedLogDensityFn, layoutOf, logDensityFn } from '../../src/infer/mcmc/potential.js';
import { Posterior } from '../../src/infer/posterior.js';
import { summarizeOne } from '../../src/diagnostics/summary.js';
import { eightSchoolsCentered, eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';
import { kidiqData, kidscoreMomiq } from '../../models/posteriordb/kidiq.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function randomPoint(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * (2 * rng.uniform() - 1));
}

describe('log density evaluators', () => {
  for (const [name, m, args] of [
    ['eight schools (non-centered)', eightSchoolsNoncentered, [eightSchoolsData]],
    ['eight schools (centered)', eightSchoolsCentered, [eightSchoolsData]],
    ['kidiq (flat vector prior)', kidscoreMomiq, [kidiqData]],
  ] as const) {
    it(`${name}: batched rows equal single-chain answers, and gradients match central differences`, async () => {
      const { layout } = await layoutOf(m as never, args as never, rngFrom(1));
      const single = logDensityFn(m as never, args as never, layout);
      const chains = 3;
      const batched = batchedLogDensityFn(m as never, args as never, layout, chains);
      const rng = new Rng(7);
      const q = randomPoint(rng, chains * layout.dim);
      const b = await batched(q);
      for (let c = 0; c < chains; c++) {
        const row = q.slice(c * layout.dim, (c + 1) * layout.dim);
        const s = await single(row);
        expect(b.logp[c]).toBeCloseTo(s.logp, 2);
        for (let i = 0; i < layout.dim; i++) expect(b.grad[c * layout.dim + i]).toBeCloseTo(s.grad[i]!, 2);
      }
      // central differences of the single-chain log density (float32: h = 1e-2, relative tolerance 1e-2)
      const row = q.slice(0, layout.dim);
      const s = await single(row);
      for (let i = 0; i < layout.dim; i++) {
        const h = 1e-2;
        const up = row.slice();
        const down = row.slice();
        up[i] += h;
        down[i] -= h;
        const fd = ((await single(up)).logp - (await single(down)).logp) / (2 * h);
        expect(Math.abs(fd - s.grad[i]!)).toBeLessThan(1e-2 * Math.max(1, Math.abs(fd)));
      }
    });
  }

  it('reject points where a distribution rejects its parameters (-Infinity for those rows only)', async () => {
    // the scale exp(x) underflows to 0 in float32 far out: Normal's parameter check throws a RangeError there
    const m = model(async ({ sample, observe }) => {
      const x = await sample('x', Normal(0, 1));
      await observe('y', Normal(0, ops.exp(x)), 0.5);
    });
    const { layout } = await layoutOf(m, [], rngFrom(1));
    const batched = batchedLogDensityFn(m, [], layout, 2);
    const r = await batched(Float64Array.from([0.1, -200]));
    expect(Number.isFinite(r.logp[0])).toBe(true);
    expect(r.logp[1]).toBe(-Infinity);
    expect(Array.from(r.grad.subarray(1))).toEqual([0]);
    const single = await logDensityFn(m, [], layout)(Float64Array.from([-200]));
    expect(single.logp).toBe(-Infinity);
  });

  it('leave no tensors behind', async () => {
    const { layout } = await layoutOf(eightSchoolsNoncentered, [eightSchoolsData], rngFrom(1));
    const batched = batchedLogDensityFn(eightSchoolsNoncentered, [eightSchoolsData], layout, 4);
    const q = randomPoint(new Rng(3), 4 * layout.dim);
    await batched(q);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) await batched(q);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('lean arithmetic gradients', () => {
  const shapes: [number[], number[]][] = [
    [[2, 3], [2, 3]],
    [[3, 1], [1, 4]],
    [[2, 3], [3]],
    [[], [2, 3]],
    [[4], []],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ['add', tf.add],
    ['sub', tf.sub],
    ['mul', tf.mul],
    ['div', (a, b) => tf.div(a, tf.add(tf.square(b), 1))],
    ['neg and square', (a, b) => tf.mul(tf.neg(tf.square(a)), b)],
  ];
  for (const [name, op] of ops) {
    it(`${name}: gradients match central differences for broadcast shapes`, async () => {
      const rng = new Rng(11);
      for (const [sa, sb] of shapes) {
        const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
        const a0 = Float32Array.from({ length: size(sa) }, () => rng.normal());
        const b0 = Float32Array.from({ length: size(sb) }, () => rng.normal());
        const outShape = tf.tidy(() => op(tf.tensor(a0, sa), tf.tensor(b0, sb)).shape);
        const w = tf.tensor(Float32Array.from({ length: size(outShape) }, () => rng.normal()), outShape);
        const f = (a: Float32Array, b: Float32Array): number => tf.tidy(() => tf.sum(tf.mul(w, op(tf.tensor(a, sa), tf.tensor(b, sb)))).dataSync()[0]!);
        const a = tf.tensor(a0, sa);
        const b = tf.tensor(b0, sb);
        const { value, grads } = await valueAndGradsAsync(async () => tf.sum(tf.mul(w, op(a, b))), [a, b]);
        expect(grads[0]!.shape).toEqual(sa);
        expect(grads[1]!.shape).toEqual(sb);
        expect(value.dataSync()[0]).toBeCloseTo(f(a0, b0), 4);
        const h = 1e-2;
        for (const [k, x0] of [a0, b0].entries()) {
          const g = grads[k]!.dataSync();
          for (let i = 0; i < x0.length; i++) {
            const up = x0.slice();
            const down = x0.slice();
            up[i] += h;
            down[i] -= h;
            const fd = k === 0 ? (f(up, b0) - f(down, b0)) / (2 * h) : (f(a0, up) - f(a0, down)) / (2 * h);
            expect(Math.abs(fd - g[i]!)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
          }
        }
        tf.dispose([a, b, w, value, ...grads]);
      }
    });
  }
});

describe('support masks on host backends', () => {
  it('give -Infinity outside the support and the plain formula inside, for tensors', () => {
    const x = tf.tensor1d([-1, 0.5, 2, Infinity]);
    const hc = (HalfCauchy(2).logProb(x) as tf.Tensor).dataSync();
    expect(hc[0]).toBe(-Infinity);
    expect(hc[3]).toBe(-Infinity);
    expect(hc[1]).toBeCloseTo(Math.log(2 / (Math.PI * 2 * (1 + 0.0625))), 5);
    const inside = tf.tensor1d([0.5, 2]);
    const all = (HalfCauchy(2).logProb(inside) as tf.Tensor).dataSync();
    expect(all[1]).toBeCloseTo(Math.log(2 / (Math.PI * 2 * 2)), 5);
    const ex = (Exponential(3).logProb(tf.tensor1d([-0.1, 0.2])) as tf.Tensor).dataSync();
    expect(ex[0]).toBe(-Infinity);
    expect(ex[1]).toBeCloseTo(Math.log(3) - 0.6, 5);
  });

  it('standard normals skip their no-op tensor ops and keep the density', () => {
    const v = (Normal(0, 1).logProb(tf.tensor1d([0, 1.5])) as tf.Tensor).dataSync();
    expect(v[0]).toBeCloseTo(-0.5 * Math.log(2 * Math.PI), 6);
    expect(v[1]).toBeCloseTo(-0.5 * Math.log(2 * Math.PI) - 1.125, 6);
    expect(Normal(0, 1).logProb(1.5)).toBeCloseTo(-0.5 * Math.log(2 * Math.PI) - 1.125, 12);
  });
});

describe('expanding size-1 batch axes', () => {
  it('draws independent values along a broadcast axis, with the parameters of its row', () => {
    const d = Normal(tf.tensor([[0], [100]]), tf.tensor([[1], [2]])).expand([3, 2, 5]);
    expect(d.batchShape).toEqual([3, 2, 5]);
    const n = 4000;
    const x = d.sample(new Rng(5), [n]) as tf.Tensor;
    expect(x.shape).toEqual([n, 3, 2, 5]);
    const { mean, variance } = tf.moments(x, [0, 1, 3]);
    const m = mean.dataSync();
    const v = variance.dataSync();
    const count = n * 3 * 5;
    expect(Math.abs(m[0]! - 0)).toBeLessThan(4.5 * Math.sqrt(1 / count));
    expect(Math.abs(m[1]! - 100)).toBeLessThan(4.5 * Math.sqrt(4 / count));
    expect(Math.abs(v[0]! - 1)).toBeLessThan(4.5 * Math.sqrt(2 / count));
    // neighbours along the broadcast axis are uncorrelated
    const a = tf.slice(x, [0, 0, 0, 0], [n, 1, 1, 1]).flatten();
    const b = tf.slice(x, [0, 0, 0, 1], [n, 1, 1, 1]).flatten();
    expect(Math.abs(tf.mean(tf.mul(a, b)).dataSync()[0]!)).toBeLessThan(4.5 / Math.sqrt(n));
    expect((d.logProb(tf.zeros([3, 2, 5])) as tf.Tensor).shape).toEqual([3, 2, 5]);
  });

  it('chain columns of a posterior with very many draws (no argument-spread overflow)', () => {
    const m = model(async () => 0);
    const draws = Array.from({ length: 300_000 }, (_, i) => ({ values: { a: i }, returnValue: 0, logWeight: 0, chain: i % 3 }));
    const cols = new Posterior({ method: 'nuts', draws, model: m, args: [] }).chainColumns()!;
    expect(cols.get('a')!.map((c) => c.length)).toEqual([100_000, 100_000, 100_000]);
  });

  it('summary of MCMC draws where a site is present only sometimes: full diagnostics for the others, NaN (with a note) for it, never the draw count as ESS', () => {
    const m = model(async () => 0);
    // an AR(1) chain (strongly autocorrelated: ESS far below the draw count); "e" exists when x > 0
    const rng = new Rng(3);
    const draws: { values: Record<string, number>; returnValue: number; logWeight: number; chain: number }[] = [];
    for (let c = 0; c < 4; c++) {
      let x = 0;
      for (let i = 0; i < 500; i++) {
        x = 0.95 * x + Math.sqrt(1 - 0.95 ** 2) * rng.normal();
        draws.push({ values: x > 0 ? { x, e: 2 * x } : { x }, returnValue: 0, logWeight: 0, chain: c });
      }
    }
    const post = new Posterior({ method: 'mh', draws, model: m, args: [] });
    expect(post.chainColumns()).toBeUndefined();
    const s = post.summary();
    const [x, e] = s.rows;
    const xs = draws.map((d) => d.values.x!);
    const full = summarizeOne('x', [0, 1, 2, 3].map((c) => xs.slice(500 * c, 500 * (c + 1))));
    expect(x!.ess_bulk).toBe(full.ess_bulk);
    expect(x!.r_hat).toBe(full.r_hat);
    expect(x!.ess_bulk as number).toBeLessThan(500); // autocorrelated: the planted bug (ESS = draw count) would give 2000
    const present = draws.filter((d) => d.values.e !== undefined).map((d) => d.values.e!);
    expect(e!.mean).toBeCloseTo(present.reduce((a, b) => a + b, 0) / present.length, 12);
    expect(Number.isNaN(e!.ess_bulk as number) && Number.isNaN(e!.mcse_mean as number) && Number.isNaN(e!.r_hat as number)).toBe(true);
    expect(s.header).toContain('mh: 4 chains x 500 draws');
    expect(s.header).toContain(`e is present in ${present.length} of 2000 draws`);
    expect(s.toString()).not.toMatch(/ESS 2000/);
  });

  it('lets a plate broadcast batched latents (the centered eight schools runs vectorised)', async () => {
    const post = await infer(eightSchoolsCentered, { method: 'nuts', chains: 2, warmup: 20, samples: 10, seed: 1, vectorize: true, maxTreeDepth: 4 }, eightSchoolsData);
    const d = post.diagnostics as unknown as HMCDiagnostics;
    expect(d.vectorized).toBe(true);
    expect(d.gradientEvaluationsPerChain.reduce((a, b) => a + b, 0)).toBe(d.gradientEvaluations);
    expect(d.gradientCalls).toBe(Math.max(...d.gradientEvaluationsPerChain));
  });

  it('reports the chain initialisation (default ascent, or the init asked for) and refuses an unknown one naming the choices', async () => {
    const run = (init?: string): Promise<Posterior<[typeof eightSchoolsData], unknown>> =>
      infer(eightSchoolsNoncentered, { method: 'nuts', chains: 2, warmup: 5, samples: 5, seed: 1, maxTreeDepth: 3, ...(init ? { init: init as never } : {}) }, eightSchoolsData) as never;
    expect(String((await run()).diagnostics.init)).toMatch(/^ascent \(4 draws in \[-2, 2\] per chain/);
    expect(String((await run('uniform')).diagnostics.init)).toMatch(/^uniform/);
    expect(String((await run('best-of-uniform')).diagnostics.init)).toMatch(/^best-of-uniform/);
    await expect(run('best')).rejects.toThrow(/init must be one of 'uniform', 'best-of-uniform', 'ascent', 'prior' or values by address, got 'best'/);
  });
});
