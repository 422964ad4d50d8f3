/**
 * Matrix products with a sparse constant operand (src/backend/jit/sparse-product.ts):
 * the BatchMatMul rule given the same slots once as plain buffers (the dense
 * kernel) and once marked constant (the sparse one) must give the same values
 * and gradients, for the constant on either side, transposed or not, with
 * broadcast batch axes, and the dense results (NaN) where the variable side or
 * the output gradient is not finite. The hierarchical regression (one-hot
 * group matrix) compiles to the same log density and gradient as before.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import { reductionRules } from '../../src/backend/jit/reduce-kernels.js';
import type { Slot } from '../../src/backend/jit/kernel.js';
import type { GraphNode } from '../../src/backend/jit/trace.js';
import { SPARSE_MIN_WORK, sparseConstantProduct } from '../../src/backend/jit/sparse-product.js';
import { CompiledGraph } from '../../src/backend/jit/program.js';
import { traceTensorFunction } from '../../src/backend/jit/trace.js';
import { layoutOf, logDensityTensorFn } from '../../src/infer/mcmc/potential.js';
import { rngFrom } from '../../src/core/rng.js';
import { hierarchicalData, hierarchicalRegression } from '../../models/hierarchical-regression.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const rule = reductionRules().BatchMatMul!;
const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** A one-hot-like matrix batch: each row has one nonzero (a varied value) in a pseudo-random column. */
function sparseValues(shape: number[], rows: number, cols: number, transposed: boolean): Float64Array {
  const v = new Float64Array(size(shape));
  const mats = v.length / (rows * cols);
  for (let t = 0; t < mats; t++)
    for (let r = 0; r < rows; r++) {
      const c = (r * 7 + t * 3) % cols;
      v[t * rows * cols + (transposed ? c * rows + r : r * cols + c)] = 0.5 + ((r + t) % 5) - 2;
    }
  return v;
}

const wave = (n: number, phase: number): Float64Array => Float64Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + phase));

interface Case {
  readonly name: string;
  readonly aShape: number[];
  readonly bShape: number[];
  readonly outShape: number[];
  readonly tA: boolean;
  readonly tB: boolean;
  /** Which operand is the sparse constant. */
  readonly constant: 'a' | 'b';
}

const CASES: Case[] = [
  { name: 'one-hot N x J times a J x 1 column', aShape: [400, 100], bShape: [100, 1], outShape: [400, 1], tA: false, tB: false, constant: 'a' },
  { name: 'constant on the left, transposed, 3 columns', aShape: [60, 200], bShape: [60, 3], outShape: [200, 3], tA: true, tB: false, constant: 'a' },
  { name: 'constant on the right', aShape: [4, 80], bShape: [80, 200], outShape: [4, 200], tA: false, tB: false, constant: 'b' },
  { name: 'constant on the right, transposed', aShape: [3, 80], bShape: [200, 80], outShape: [3, 200], tA: false, tB: true, constant: 'b' },
  { name: 'broadcast batch: one constant for 2 chains', aShape: [1, 300, 40], bShape: [2, 40, 2], outShape: [2, 300, 2], tA: false, tB: false, constant: 'a' },
  { name: 'broadcast batch: 2 constants, one variable', aShape: [2, 300, 40], bShape: [40, 2], outShape: [2, 300, 2], tA: false, tB: false, constant: 'a' },
];

function slotsOf(c: Case, marked: boolean, variable: Float64Array, outGrad: Float64Array): { inputs: Slot[]; out: Slot; node: GraphNode } {
  const constShape = c.constant === 'a' ? c.aShape : c.bShape;
  const [rows, cols] = constShape.slice(-2) as [number, number];
  const constVals = sparseValues(constShape, rows, cols, false);
  const constSlot: Slot = { value: constVals, grad: undefined, shape: constShape, ...(marked ? { constant: true } : {}) };
  const varShape = c.constant === 'a' ? c.bShape : c.aShape;
  const varSlot: Slot = { value: Float64Array.from(variable), grad: new Float64Array(size(varShape)), shape: varShape };
  const out: Slot = { value: new Float64Array(size(c.outShape)), grad: Float64Array.from(outGrad), shape: c.outShape };
  const inputs = c.constant === 'a' ? [constSlot, varSlot] : [varSlot, constSlot];
  const node: GraphNode = { kernel: 'BatchMatMul', inputs: [], inputShapes: [c.aShape, c.bShape], attrs: { transposeA: c.tA, transposeB: c.tB }, shape: c.outShape, dtype: 'float32', outputIndex: 0 };
  return { inputs, out, node };
}

/** Runs the rule forward and backward; the variable operand's value, the output and the variable's gradient. */
function runRule(c: Case, marked: boolean, variable: Float64Array, outGrad: Float64Array): { y: Float64Array; g: Float64Array } {
  const { inputs, out, node } = slotsOf(c, marked, variable, outGrad);
  const k = rule(inputs, out, node);
  k.forward();
  k.backward!();
  const v = inputs[c.constant === 'a' ? 1 : 0]!;
  return { y: out.value, g: v.grad! };
}

function expectClose(got: Float64Array, want: Float64Array): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(want[i]!)) {
      expect(got[i], `element ${i}`).toBe(want[i]);
      continue;
    }
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  }
  expect(worst).toBeLessThan(1e-12);
}

describe('sparse constant matrix products', () => {
  for (const c of CASES) {
    it(`${c.name}: the same values and gradients as the dense kernel`, () => {
      const varShape = c.constant === 'a' ? c.bShape : c.aShape;
      const variable = wave(size(varShape), 0.3);
      const outGrad = wave(size(c.outShape), 1.1);
      const dense = runRule(c, false, variable, outGrad);
      const sparse = runRule(c, true, variable, outGrad);
      // the values are not trivially zero (a dropped term or a wrong index shows)
      expect(Math.max(...dense.y.map(Math.abs))).toBeGreaterThan(0.1);
      expect(Math.max(...dense.g.map(Math.abs))).toBeGreaterThan(0.1);
      expectClose(sparse.y, dense.y);
      expectClose(sparse.g, dense.g);
    });
  }

  it('takes the sparse kernel for a one-hot matrix and declines a dense one or a small product', () => {
    const dense = { forward: () => {} };
    const oneHot = { value: sparseValues([400, 100], 400, 100, false), s0: 100, s1: 1, size: 40000, map: null };
    const v = { value: new Float64Array(100), grad: new Float64Array(100), s0: 1, s1: 1, size: 100, map: null };
    const y = { value: new Float64Array(400), grad: new Float64Array(400), s0: 1, s1: 1 };
    expect(sparseConstantProduct(oneHot, v, y, { M: 400, N: 1, K: 100, batches: 1 }, dense)).toBeDefined();
    const full = { ...oneHot, value: new Float64Array(40000).fill(1) };
    expect(sparseConstantProduct(full, v, y, { M: 400, N: 1, K: 100, batches: 1 }, dense)).toBeUndefined();
    const small = { value: sparseValues([40, 100], 40, 100, false), s0: 100, s1: 1, size: 4000, map: null };
    expect(40 * 100).toBeLessThan(SPARSE_MIN_WORK);
    expect(sparseConstantProduct(small, v, y, { M: 40, N: 1, K: 100, batches: 1 }, dense)).toBeUndefined();
  });

  it('gives the dense NaN where the variable operand or the output gradient is not finite (0 times infinity)', () => {
    const c = CASES[0]!;
    for (const bad of [Infinity, NaN]) {
      const variable = wave(100, 0.3);
      variable[17] = bad; // column 17: rows whose nonzero is elsewhere still get 0 * bad = NaN from the dense kernel
      const outGrad = wave(400, 1.1);
      const dense = runRule(c, false, variable, outGrad);
      const sparse = runRule(c, true, variable, outGrad);
      // rows whose nonzero is in column 17 give bad itself; the others 0 * bad = NaN
      expect(dense.y.filter(Number.isNaN).length).toBeGreaterThan(300);
      expectClose(sparse.y, dense.y);
      const grads = wave(400, 1.1);
      grads[5] = bad;
      const denseG = runRule(c, false, wave(100, 0.3), grads);
      const sparseG = runRule(c, true, wave(100, 0.3), grads);
      expect(denseG.g.filter(Number.isNaN).length).toBeGreaterThan(90);
      expectClose(sparseG.g, denseG.g);
    }
  });

  it('the hierarchical regression compiles to the log density and gradient of its per-kernel program', async () => {
    const data = hierarchicalData();
    const { layout } = await layoutOf(hierarchicalRegression, [data], rngFrom(1));
    const density = logDensityTensorFn(hierarchicalRegression, [data], layout, undefined);
    const x = tf.tensor1d(new Float32Array(layout.dim).fill(0.1));
    const traced = await traceTensorFunction(density, x);
    x.dispose();
    expect(traced.graph).toBeDefined();
    // the graph's constants are marked in both compilers: compare with central differences of the replay itself
    const q = Float64Array.from({ length: layout.dim }, (_, i) => 0.1 + 0.05 * Math.sin(1.7 * i));
    for (const fuse of [true, false]) {
      const c = CompiledGraph.compile(traced.graph!, { fuse }) as CompiledGraph;
      const out = new Float64Array(1);
      const grad = new Float64Array(layout.dim);
      expect(c.runRow(q, 0, out, 0, grad, 0)).toBe(true);
      const h = 1e-6;
      for (const i of [0, 1, 5, 6, 7, 50, 106]) {
        const up = Float64Array.from(q);
        const down = Float64Array.from(q);
        up[i] += h;
        down[i] -= h;
        const o1 = new Float64Array(1);
        const o2 = new Float64Array(1);
        c.runRow(up, 0, o1, 0);
        c.runRow(down, 0, o2, 0);
        expect(Math.abs((o1[0]! - o2[0]!) / (2 * h) - grad[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(grad[i]!)));
      }
      // tfjs's float32 log density at the same point
      const xq = tf.tensor1d(Float32Array.from(q));
      const want = (await density(xq)).dataSync()[0]!;
      xq.dispose();
      expect(Math.abs(out[0]! - want)).toBeLessThan(1e-4 * Math.abs(want));
    }
  });
});
