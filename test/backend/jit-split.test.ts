/**
 * Split fused functions (src/backend/jit/split.ts): a long fused body cut
 * into several functions, the locals that cross a cut passed through a
 * Float64Array, computes bit for bit what the unsplit body computes.
 *
 * - posteriordb garch11 (a 200-step recursion, 1656 recorded scalars) is
 *   split by default, and its values and gradients equal the unsplit
 *   function's (Object.is) on random records, guards included;
 * - every kernel case of jit.test.ts, eight schools (guards that return
 *   false from inside a piece) and the regressions, forced into pieces of
 *   200-1000 characters, equal the unsplit function;
 * - hmm_example, 865 k characters split into 176 functions (it was left to
 *   the per-kernel program before), agrees with that program to 1e-12;
 * - planted bugs at a cut (a piece that forgets to pass its locals on; a
 *   store that rounds to float32) make the comparison fail.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { CompiledGraph } from '../../src/backend/jit/program.js';
import { PIECE_CHARS, SPLIT_ABOVE } from '../../src/backend/jit/fused.js';
import type { FusedOptions } from '../../src/backend/jit/fused.js';
import { splitBody } from '../../src/backend/jit/split.js';
import { type Graph, traceTensorFunction } from '../../src/backend/jit/trace.js';
import { layoutOf, logDensityTensorFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import type { Model } from '../../src/core/model.js';
import { garch11, garchData } from '../../models/posteriordb/garch11.js';
import { eightSchoolsData, eightSchoolsNoncentered } from '../../models/posteriordb/eight-schools.js';
import { linearRegression } from '../../models/linreg.js';
import { logisticRegression } from '../../models/logreg.js';
import { hmmExample, hmmExampleData } from '../../models/posteriordb/hmm-example.js';
import { CASES } from '../helpers/jit-cases.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const WHOLE: FusedOptions = { splitAbove: Infinity };

function compile(graph: Graph, split: FusedOptions): CompiledGraph {
  const c = CompiledGraph.compile(graph, { split });
  if (!(c instanceof CompiledGraph)) throw new Error(c.reason);
  expect(c.fused).toBe(true);
  return c;
}

function functionsOf(c: CompiledGraph): number {
  return (c as unknown as { program: { functions: number } }).program.functions;
}

/**
 * Points where `a` and `b` differ (values or gradients not Object.is, NaN
 * equal to NaN; or one declines a point the other serves), and how many
 * points both served.
 */
function differences(a: CompiledGraph, b: CompiledGraph, points: Float64Array[]): { differ: number; served: number } {
  let differ = 0;
  let served = 0;
  const same = (x: number, y: number): boolean => Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y));
  for (const q of points) {
    const ra = a.run(q, true);
    const va = ra && Float64Array.from(ra.value);
    const ga = ra && Float64Array.from(ra.grad!);
    const rb = b.run(q, true);
    if (!ra || !rb) {
      if (Boolean(ra) !== Boolean(rb)) differ++;
      continue;
    }
    served++;
    // the value-only function too
    const vOnly = a.runRow(q, 0, new Float64Array(va!.length), 0);
    if (!vOnly) differ++;
    if (!rb.value.every((y, i) => same(va![i]!, y)) || !rb.grad!.every((y, i) => same(ga![i]!, y))) differ++;
  }
  return { differ, served };
}

function randomPoints(dim: number, count: number, scale: number, seed: number): Float64Array[] {
  let s = seed;
  const u = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  return Array.from({ length: count }, () => Float64Array.from({ length: dim }, () => scale * (2 * u() - 1)));
}

async function modelGraph(m: Model<never[], unknown>, args: unknown[]): Promise<{ graph: Graph; dim: number }> {
  const { layout } = await layoutOf(m, args as never[], rngFrom(1));
  const density = logDensityTensorFn(m, args as never[], layout, undefined);
  const r = await traceTensorFunction(density, tf.tensor1d(new Float32Array(layout.dim).fill(0.1)));
  if (!r.graph) throw new Error(`not traced: ${r.reason}`);
  return { graph: r.graph, dim: layout.dim };
}

const garch = (): Promise<{ graph: Graph; dim: number }> => modelGraph(garch11 as unknown as Model<never[], unknown>, [garchData]);

/**
 * Plants a bug in the next fused source compiled: `edit` rewrites the
 * generated source (the one place a split's cut is visible) before
 * `new Function` sees it.
 */
const RealFunction = globalThis.Function;
function plant(edit: (src: string) => string): void {
  globalThis.Function = function (...a: string[]) {
    const src = a.pop()!;
    return RealFunction(...a, edit(src));
  } as FunctionConstructor;
}
afterEach(() => {
  globalThis.Function = RealFunction;
});

describe('split fused functions: the same numbers as one function', () => {
  it('garch11 is split by default, and its values and gradients are bit-identical to the unsplit function', async () => {
    const { graph, dim } = await garch();
    const split = compile(graph, {});
    const whole = compile(graph, WHOLE);
    expect(functionsOf(whole)).toBe(2);
    expect(functionsOf(split)).toBeGreaterThan(20);
    // scale 3 on the unconstrained scale: some points fail the support guards (beta1 < 1 - alpha1), the rest are served
    const { differ, served } = differences(split, whole, randomPoints(dim, 40, 3, 7));
    expect(served).toBeGreaterThan(20);
    expect(differ).toBe(0);
  });

  for (const [name, fn] of Object.entries(CASES)) {
    it(`${name}: in pieces of 200 characters, bit-identical`, async () => {
      const r = await traceTensorFunction(fn, tf.tensor2d([[0.3, -0.8, 1.1], [-1.4, 0.6, 0.2]]));
      const graph = r.graph!;
      const split = compile(graph, { splitAbove: 0, pieceChars: 200 });
      const { differ, served } = differences(split, compile(graph, WHOLE), randomPoints(6, 8, 1.8, 3));
      expect(served).toBeGreaterThan(0);
      expect(differ).toBe(0);
    });
  }

  const models: Record<string, () => Promise<{ graph: Graph; dim: number }>> = {
    'eight schools (guards inside pieces)': () => modelGraph(eightSchoolsNoncentered as unknown as Model<never[], unknown>, [eightSchoolsData]),
    'linear regression (a fused loop)': () => {
      const x = Array.from({ length: 100 }, (_, i) => Math.sin(0.3 * i));
      return modelGraph(linearRegression as unknown as Model<never[], unknown>, [{ x, y: x.map((v, i) => 2 * v + Math.cos(i)), priorSd: 10 }]);
    },
    'logistic regression (a matrix product by its rule)': () => {
      const X = tf.tensor2d(Array.from({ length: 300 * 4 }, (_, i) => Math.sin(0.37 * i)), [300, 4]);
      const y = Array.from({ length: 300 }, (_, i) => (Math.sin(1.3 * i) > 0 ? 1 : 0));
      return modelGraph(logisticRegression as unknown as Model<never[], unknown>, [{ X, y, priorSd: 5 }]);
    },
  };
  for (const [name, make] of Object.entries(models)) {
    for (const pieceChars of [200, 1000]) {
      it(`${name}: in pieces of ${pieceChars} characters, bit-identical`, async () => {
        const { graph, dim } = await make();
        const split = compile(graph, { splitAbove: 0, pieceChars });
        expect(functionsOf(split)).toBeGreaterThan(3);
        const { differ, served } = differences(split, compile(graph, WHOLE), randomPoints(dim, 12, 2.5, 11));
        expect(served).toBeGreaterThan(0);
        expect(differ).toBe(0);
      });
    }
  }

  it('hmm_example (3431 nodes, once left to the per-kernel program for its size) is fused in pieces and agrees with the per-kernel program to 1e-12', async () => {
    const { graph, dim } = await modelGraph(hmmExample as unknown as Model<never[], unknown>, [hmmExampleData]);
    const split = compile(graph, {});
    expect(functionsOf(split)).toBeGreaterThan(100);
    const perKernel = CompiledGraph.compile(graph, { fuse: false }) as CompiledGraph;
    let served = 0;
    for (const q of randomPoints(dim, 10, 2, 5)) {
      const a = split.run(q, true);
      const av = a && [...a.value, ...a.grad!];
      const b = perKernel.run(q, true);
      expect(Boolean(a)).toBe(Boolean(b));
      if (!a || !b) continue;
      served++;
      [...b.value, ...b.grad!].forEach((y, i) => expect(Math.abs(av![i]! - y) / (1 + Math.abs(y))).toBeLessThan(1e-12));
    }
    expect(served).toBeGreaterThan(5);
  });

  it('the small models are not split at the defaults (their source is what it was)', async () => {
    expect(SPLIT_ABOVE).toBeGreaterThan(PIECE_CHARS);
    const { graph } = await models['eight schools (guards inside pieces)']!();
    expect(functionsOf(compile(graph, {}))).toBe(2);
  });
});

describe('planted bugs at a cut fail the comparison', () => {
  // the split is correct on its own (above); each plant breaks only what crosses a cut
  it('a piece that forgets to store the locals it passes on', async () => {
    const { graph, dim } = await garch();
    const whole = compile(graph, WHOLE);
    plant((src) => src.replace(/^RG\[\d+\] = [\w$]+;$/m, ''));
    const split = compile(graph, {});
    expect(differences(split, whole, randomPoints(dim, 40, 3, 7)).differ).toBeGreaterThan(0);
  });

  it('a cut that passes a value in float32 (Math.fround)', async () => {
    const { graph, dim } = await garch();
    const whole = compile(graph, WHOLE);
    plant((src) => src.replace(/^(RG\[\d+\]) = ([\w$]+);$/gm, '$1 = Math.fround($2);'));
    const split = compile(graph, {});
    expect(differences(split, whole, randomPoints(dim, 40, 3, 7)).differ).toBeGreaterThan(0);
  });

  it('the plant hook itself leaves an unplanted compile alone', async () => {
    const { graph, dim } = await garch();
    const whole = compile(graph, WHOLE);
    plant((src) => src);
    expect(differences(compile(graph, {}), whole, randomPoints(dim, 10, 3, 7)).differ).toBe(0);
  });
});

describe('splitBody', () => {
  it('leaves a body within the budget alone, and passes locals (and their updates) across cuts', () => {
    expect(splitBody('const v1_0 = 1;', 'f', 'x', 'R', 100)).toBeUndefined();
    const body = ['const v1_0 = x[0] + 1;', 'let a1_0 = 2;', 'for (let i = 0; i < 3; i++) {', 'a1_0 += v1_0;', '}', 'const v2_0 = a1_0 * v1_0;', 'a1_0 += 1;', 'x[1] = v2_0 + a1_0;'].join('\n');
    const whole = new Function('x', `${body}\nreturn true;`) as (x: number[]) => boolean;
    for (const budget of [1, 20, 40, 80]) {
      const s = splitBody(body, 'f', 'x', 'R', budget)!;
      expect(s.pieces).toBeGreaterThan(1);
      const make = new Function('R', `${s.functions}\nreturn function (x) {\n${s.body}\nreturn true;\n};`) as (r: Float64Array) => (x: number[]) => boolean;
      const xs = [0.25, 0];
      const ys = [0.25, 0];
      expect(make(new Float64Array(s.slots))(xs)).toBe(true);
      whole(ys);
      expect(xs[1]).toBe(ys[1]);
    }
  });

  it('refuses a body it cannot cut (a local declared inside a loop; unbalanced braces; a top-level local of an unknown name)', () => {
    expect(splitBody(['for (let i = 0; i < 2; i++) {', 'const v1_0 = i;', '}', 'x[0] = 1;'].join('\n'), 'f', 'x', 'R', 5)).toBeUndefined();
    expect(splitBody(['x[0] = 1;', '}', 'x[1] = 2;'].join('\n'), 'f', 'x', 'R', 5)).toBeUndefined();
    // a top-level local it does not know how to pass on
    expect(splitBody(['const t = x[0];', 'x[1] = t;'].join('\n'), 'f', 'x', 'R', 5)).toBeUndefined();
    expect(splitBody(['const v1_0 = x[0];', 'x[1] = v1_0;'].join('\n'), 'f', 'x', 'R', 5)).toBeDefined();
  });
});
