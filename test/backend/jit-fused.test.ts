/**
 * The fused whole-graph compiler (src/backend/jit/fused.ts) against the
 * per-kernel program it replaces: the same values and gradients to 1e-12
 * (both are float64 replays of the same record, from the same expression
 * tables) on every kernel case of jit.test.ts and on whole models (eight
 * schools with its validity guards, a linear and a logistic regression,
 * broadcasting, reductions, matrix products, big inputs), with a planted
 * wrong derivative that the comparison catches; and the fallbacks (kernels
 * it does not know run through their rules; too-large graphs and guards).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { CompiledGraph, ruleFor } from '../../src/backend/jit/program.js';
import { UNARY } from '../../src/backend/jit/elementwise.js';
import { compileFused } from '../../src/backend/jit/fused.js';
import { CompiledDensity } from '../../src/infer/mcmc/compiled-density.js';
import { type Graph, traceTensorFunction } from '../../src/backend/jit/trace.js';
import { layoutOf, logDensityTensorFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import type { Model } from '../../src/core/model.js';
import { eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';
import { linearRegression } from '../../models/linreg.js';
import { logisticRegression } from '../../models/logreg.js';
import { CASES, viaTfjs } from '../helpers/jit-cases.js';

beforeAll(async () => {
  await initBackend('cpu');
});

async function graphOf(fn: (x: tf.Tensor) => tf.Tensor | Promise<tf.Tensor>, x: tf.Tensor): Promise<Graph> {
  const r = await traceTensorFunction(fn, x);
  if (!r.graph) throw new Error(`not traced: ${r.reason}`);
  return r.graph;
}

function compile(graph: Graph, fuse: boolean): CompiledGraph {
  const c = CompiledGraph.compile(graph, { fuse });
  if (!(c instanceof CompiledGraph)) throw new Error(c.reason);
  return c;
}

/**
 * The worst disagreement between two compiled graphs over `points`: |a - b|
 * / (1 + |b|) over values and gradients (a guard that fails in one must
 * fail in the other); and how many points both served.
 */
function worstDisagreement(a: CompiledGraph, b: CompiledGraph, points: Float64Array[]): { worst: number; served: number } {
  let worst = 0;
  let served = 0;
  for (const q of points) {
    const ra = a.run(q, true);
    const va = ra && Float64Array.from(ra.value);
    const ga = ra && Float64Array.from(ra.grad!);
    const rb = b.run(q, true);
    if (!ra || !rb) {
      if (ra !== rb && !(ra === undefined && rb === undefined)) return { worst: Infinity, served };
      continue;
    }
    served++;
    const d = (x: number, y: number): number => (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)) ? 0 : Math.abs(x - y) / (1 + Math.abs(y)));
    rb.value.forEach((y, i) => (worst = Math.max(worst, d(va![i]!, y))));
    rb.grad!.forEach((y, i) => (worst = Math.max(worst, d(ga![i]!, y))));
  }
  return { worst, served };
}

function pointsFor(dim: number, count: number, scale: number): Float64Array[] {
  return Array.from({ length: count }, (_, t) => Float64Array.from({ length: dim }, (_, i) => scale * Math.sin(1.7 * i + 2.3 * t + 0.4)));
}

const x0 = (): tf.Tensor => tf.tensor2d([[0.3, -0.8, 1.1], [-1.4, 0.6, 0.2]]);

async function modelGraph(m: Model<never[], unknown>, args: unknown[]): Promise<{ graph: Graph; dim: number }> {
  const { layout } = await layoutOf(m, args as never[], rngFrom(1));
  const density = logDensityTensorFn(m, args as never[], layout, undefined);
  return { graph: await graphOf(density, tf.tensor1d(new Float32Array(layout.dim).fill(0.1))), dim: layout.dim };
}

function linregData(n: number): { x: number[]; y: number[] } {
  const x = Array.from({ length: n }, (_, i) => Math.sin(i) * 2);
  return { x, y: x.map((v, i) => 1 + 0.5 * v + 0.3 * Math.cos(3 * i)) };
}

describe('fused and per-kernel replays agree', () => {
  for (const [name, fn] of Object.entries(CASES)) {
    it(`${name}: values and gradients to 1e-12`, async () => {
      const g = await graphOf(fn, x0());
      const fused = compile(g, true);
      expect(fused.fused).toBe(true);
      const { worst, served } = worstDisagreement(fused, compile(g, false), pointsFor(6, 8, 1.8));
      expect(served).toBeGreaterThan(0);
      expect(worst).toBeLessThan(1e-12);
    });
  }

  const models: Record<string, () => Promise<{ graph: Graph; dim: number }>> = {
    'eight schools (validity guards)': () => modelGraph(eightSchoolsNoncentered as unknown as Model<never[], unknown>, [eightSchoolsData]),
    'linear regression, N = 100 (one fused loop)': () => modelGraph(linearRegression as unknown as Model<never[], unknown>, [{ ...linregData(100), priorSd: 10 }]),
    'logistic regression, N = 300 (a matrix product by its rule)': () => {
      const X = tf.tensor2d(Array.from({ length: 300 * 4 }, (_, i) => Math.sin(0.37 * i)), [300, 4]);
      const y = Array.from({ length: 300 }, (_, i) => (Math.sin(1.3 * i) > 0 ? 1 : 0));
      return modelGraph(logisticRegression as unknown as Model<never[], unknown>, [{ X, y, priorSd: 5 }]);
    },
  };
  for (const [name, make] of Object.entries(models)) {
    it(`${name}: values and gradients to 1e-12`, async () => {
      const { graph, dim } = await make();
      const fused = compile(graph, true);
      expect(fused.fused).toBe(true);
      const { worst, served } = worstDisagreement(fused, compile(graph, false), pointsFor(dim, 10, 1.2));
      expect(served).toBe(10);
      expect(worst).toBeLessThan(1e-12);
    });
  }

  it('big inputs, big reshapes, broadcasts of small values into loops, reductions along axes of big arrays', async () => {
    const w = tf.linspace(-1, 1, 300).reshape([100, 3]);
    const fn = (x: tf.Tensor): tf.Tensor => {
      const m = tf.reshape(x, [100, 3]); // an alias of the input's buffer
      const head = tf.slice(x, [0], [3]); // small, broadcast into a loop
      const rows = tf.sum(tf.mul(tf.exp(tf.mul(m, 0.1)), head), 1); // along one axis: the rule
      return tf.addN([tf.sum(tf.square(rows)), tf.sum(tf.mul(tf.tanh(m), w)), tf.max(tf.sin(x)), tf.mean(tf.softplus(m))]);
    };
    const g = await graphOf(fn, tf.linspace(-1, 1, 300));
    const fused = compile(g, true);
    expect(fused.fused).toBe(true);
    const { worst, served } = worstDisagreement(fused, compile(g, false), pointsFor(300, 4, 1.5));
    expect(served).toBe(4);
    expect(worst).toBeLessThan(1e-12);
  });

  it('outputs with many elements (a batched record: one log density per chain) computed in a loop', async () => {
    const fn = (x: tf.Tensor): tf.Tensor => tf.sub(tf.mul(tf.square(x), -0.5), tf.log(tf.add(tf.square(x), 1)));
    const g = await graphOf(fn, tf.linspace(-1, 1, 100));
    const fused = compile(g, true);
    expect(fused.fused).toBe(true);
    expect(fused.outputSize).toBe(100);
    const { worst, served } = worstDisagreement(fused, compile(g, false), pointsFor(100, 3, 1.5));
    expect(served).toBe(3);
    expect(worst).toBeLessThan(1e-12);
  });

  it('a planted wrong derivative in the fused code is caught by the comparison', async () => {
    const { graph, dim } = await models['linear regression, N = 100 (one fused loop)']!();
    const right = compile(graph, false);
    const square = UNARY.Square!;
    const saved = square.df;
    let wrong: CompiledGraph;
    try {
      (square as { df?: string }).df = '3 * x'; // d(x^2)/dx is 2x
      wrong = compile(graph, true);
    } finally {
      (square as { df?: string }).df = saved;
    }
    expect(wrong.fused).toBe(true);
    expect(worstDisagreement(wrong, right, pointsFor(dim, 3, 1.2)).worst).toBeGreaterThan(1e-3);
  });
});

describe('fused compiler fallbacks', () => {
  it('runs kernels it has no fused form for through their rules (softmax, cumulative sums, kernels named only by a rule)', async () => {
    const g = await graphOf(CASES['cumsum softmax']!, x0());
    const fused = compileFused(g, ruleFor);
    expect('reason' in fused).toBe(false);
    expect((fused as { ruleCalls: readonly string[] }).ruleCalls).toEqual(expect.arrayContaining(['Softmax', 'Cumsum']));
    // a kernel known only through the rule lookup (as custom ops are): renamed Exp
    const plain = await graphOf((x) => tf.sum(tf.mul(tf.exp(x), tf.log1p(tf.square(x)))), x0());
    const renamed: Graph = { ...plain, nodes: plain.nodes.map((n) => (n.kernel === 'Exp' ? { ...n, kernel: 'MyExp' } : n)) };
    const custom = compileFused(renamed, (k) => ruleFor(k === 'MyExp' ? 'Exp' : k));
    expect((custom as { ruleCalls: readonly string[] }).ruleCalls).toEqual(['MyExp']);
    const per = compile(plain, false);
    for (const q of pointsFor(6, 3, 1)) {
      const out = new Float64Array(1);
      const grad = new Float64Array(6);
      expect((custom as { valueAndGrad: (...a: unknown[]) => boolean }).valueAndGrad(q, 0, out, 0, grad, 0)).toBe(true);
      const want = per.run(q, true)!;
      expect(Math.abs(out[0]! - want.value[0]!)).toBeLessThan(1e-12 * (1 + Math.abs(want.value[0]!)));
      grad.forEach((v, i) => expect(Math.abs(v - want.grad![i]!)).toBeLessThan(1e-12 * (1 + Math.abs(want.grad![i]!))));
    }
  });

  it('unrolls less where unrolled source would be too large, and leaves a graph too large even so to the per-kernel program', async () => {
    const chain = (steps: number) => (x: tf.Tensor): tf.Tensor => {
      let s = tf.reshape(x, [6]); // 6 elements: unrolled unless the source is too large
      for (let i = 0; i < steps; i++) s = tf.sin(tf.add(s, 0.01 * i));
      return tf.sum(s);
    };
    const q = Float64Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6);
    const g = await graphOf(chain(400), x0());
    // the limit the test was sized for (the default is larger since long bodies are split: MAX_SOURCE)
    const split = { maxSource: 300_000 };
    expect(compileFused(g, ruleFor, split)).not.toHaveProperty('reason');
    const c = CompiledGraph.compile(g, { split }) as CompiledGraph;
    expect(c.fused).toBe(true);
    expect(worstDisagreement(c, compile(g, false), [q]).worst).toBeLessThan(1e-12);
    const huge = CompiledGraph.compile(await graphOf(chain(1500), x0()), { split }) as CompiledGraph;
    expect(huge.fused).toMatch(/over \d+/);
    expect(Number.isFinite(huge.run(q, true)!.value[0])).toBe(true);
  });

  it('a changed guard sends the point back (false from runRow, as run gives undefined)', async () => {
    const fn = (x: tf.Tensor): tf.Tensor => {
      const allPositive = tf.all(tf.greater(x, 0)).dataSync()[0] === 1;
      return allPositive ? tf.sum(tf.log(x)) : tf.sum(x);
    };
    const c = compile(await graphOf(fn, tf.tensor1d([1, 2, 3])), true);
    expect(c.fused).toBe(true);
    const out = new Float64Array(2);
    const grad = new Float64Array(6);
    const q = Float64Array.of(9, 9, 2, 3, 4, 9);
    expect(c.runRow(q, 2, out, 1, grad, 3)).toBe(true);
    expect(out[1]).toBeCloseTo(Math.log(24), 12);
    expect(Array.from(grad.subarray(3))).toEqual([1 / 2, 1 / 3, 1 / 4].map((v) => expect.closeTo(v, 14)));
    expect(c.runRow(Float64Array.of(2, -3, 4), 0, out, 0, grad, 0)).toBe(false);
    expect(c.run(Float64Array.of(2, -3, 4), false)).toBeUndefined();
  });
});

describe('compiled densities on the fused replay', () => {
  const f = (q: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.log(q), -0.5));
  const guarded = (q: tf.Tensor): Promise<tf.Tensor> => {
    if (tf.all(tf.greater(q, 0)).dataSync()[0] !== 1) throw new Error('rejected');
    return Promise.resolve(f(q));
  };

  it('answer all rows synchronously once compiled, and the value alone without a reverse pass', async () => {
    const d = new CompiledDensity(guarded, [2], viaTfjs(f), true, 3);
    const q = Float64Array.of(1, 2, 3, 4, 5, 6);
    expect(d.evaluateSync(q)).toBeUndefined(); // not compiled yet
    await d.evaluate(q);
    const r = d.evaluateSync(q)!;
    expect(Array.from(r.logp)).toEqual([0, 1, 2].map((row) => expect.closeTo(-0.5 * (Math.log(2 * row + 1) + Math.log(2 * row + 2)), 12)));
    expect(Array.from(r.grad)).toEqual([1, 2, 3, 4, 5, 6].map((v) => expect.closeTo(-0.5 / v, 12)));
    // a changed guard in one row: no synchronous answer (evaluate sends that row to tfjs)
    expect(d.evaluateSync(Float64Array.of(1, 2, -3, 4, 5, 6))).toBeUndefined();
    const one = new CompiledDensity(guarded, [2], viaTfjs(f), true);
    expect(one.valueSync(Float64Array.of(1, 2))).toBeUndefined();
    await one.evaluate(Float64Array.of(1, 2));
    expect(one.valueSync(Float64Array.of(3, 4))).toBeCloseTo(-0.5 * Math.log(12), 12);
    expect(one.valueSync(Float64Array.of(3, -4))).toBeUndefined();
  });
});
