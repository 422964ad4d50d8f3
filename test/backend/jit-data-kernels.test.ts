/**
 * The replay's kernels for big data (src/backend/jit/reduce-kernels.ts).
 *
 * Reductions: every fold over consecutive axes (trailing, leading, middle,
 * all) and over non-consecutive ones (the index-map fallback), values and
 * gradients against tfjs; a planted wrong axis caught.
 *
 * The matrix-product rule (`BatchMatMul`) on every loop form it generates
 * (matrix–vector with the vector hoisted, either side hoisted, unrolled and
 * looped dot products, register-blocked outer products with and without a
 * remainder block, transposes, broadcast batch axes): forward values and
 * both backward products against a plain float64 triple loop (to 1e-12) and
 * against tfjs (float32 rounding); and a planted wrong index caught.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/select.js';
import '../../src/backend/gradients.js';
import type { CompiledKernel, Slot } from '../../src/backend/jit/kernel.js';
import { compileLoop } from '../../src/backend/jit/codegen.js';
import { productSource, reductionRules } from '../../src/backend/jit/reduce-kernels.js';
import type { GraphNode } from '../../src/backend/jit/trace.js';
import { broadcastsBothWays } from '../../src/backend/kernel-guards.js';

beforeAll(async () => {
  await initBackend('cpu');
});

interface Case {
  readonly a: number[];
  readonly b: number[];
  readonly tA?: boolean;
  readonly tB?: boolean;
}

/** Shapes chosen to reach each loop form (see `productSource`). */
const CASES: Record<string, Case> = {
  'matrix-vector, K = 24 (diamonds: vector hoisted; backward: transposed register blocks)': { a: [300, 24], b: [24, 1] },
  'row times transposed matrix (row hoisted in the transposed product)': { a: [1, 24], b: [300, 24], tB: true },
  'outer-product form, one remainder block (N = 7)': { a: [20, 10], b: [10, 7] },
  'outer-product form, K = 40, two blocks and a remainder (N = 19)': { a: [6, 40], b: [40, 19] },
  'looped dot product, K = 41 (four accumulators and a tail)': { a: [9, 41], b: [13, 41], tB: true },
  'unrolled dot product from memory (N > 4, M > 4)': { a: [10, 6], b: [7, 6], tB: true },
  'transposed A, long N (looped register blocks, remainder 2)': { a: [24, 50], b: [24, 1], tA: true },
  'both transposed': { a: [5, 4], b: [3, 5], tA: true, tB: true },
  'broadcast batch axes': { a: [3, 1, 4, 5], b: [2, 5, 6] },
  'empty inner axis (K = 0: zeros)': { a: [3, 0], b: [0, 2] },
};

function rand(n: number, seed: number): Float64Array {
  // float32-representable values, so tfjs sees exactly the same inputs
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return Math.fround(s / 2147483648 - 0.5);
  });
}

const size = (s: readonly number[]): number => s.reduce((x, y) => x * y, 1);

/** Output shape of a (batched) product. */
function outShape(c: Case): number[] {
  const M = c.tA ? c.a[c.a.length - 1]! : c.a[c.a.length - 2]!;
  const N = c.tB ? c.b[c.b.length - 2]! : c.b[c.b.length - 1]!;
  const ba = c.a.slice(0, -2);
  const bb = c.b.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const batch = Array.from({ length: rank }, (_, k) => Math.max(ba[k - rank + ba.length] ?? 1, bb[k - rank + bb.length] ?? 1));
  return [...batch, M, N];
}

/** Plain float64 product and its vector–Jacobian products for upstream gradient dy (written independently of the rule). */
function reference(c: Case, a: Float64Array, b: Float64Array, dy: Float64Array): { y: Float64Array; da: Float64Array; db: Float64Array } {
  const os = outShape(c);
  const [M, N] = os.slice(-2) as [number, number];
  const K = c.tA ? c.a[c.a.length - 2]! : c.a[c.a.length - 1]!;
  const batch = os.slice(0, -2);
  const nb = size(batch);
  // flat batch index of an operand for output batch index t (numpy broadcasting)
  const batchIndex = (shape: number[], t: number): number => {
    const own = shape.slice(0, -2);
    let idx = 0;
    let rest = t;
    let stride = 1;
    for (let k = batch.length - 1; k >= 0; k--) {
      const coord = rest % batch[k]!;
      rest = Math.floor(rest / batch[k]!);
      const j = k - (batch.length - own.length);
      if (j >= 0) {
        idx += (own[j] === 1 ? 0 : coord) * stride;
        stride *= own[j]!;
      }
    }
    return idx;
  };
  const A = (t: number, i: number, q: number): number => batchIndex(c.a, t) * M * K + (c.tA ? q * M + i : i * K + q);
  const B = (t: number, q: number, j: number): number => batchIndex(c.b, t) * K * N + (c.tB ? j * K + q : q * N + j);
  const y = new Float64Array(nb * M * N);
  const da = new Float64Array(a.length);
  const db = new Float64Array(b.length);
  for (let t = 0; t < nb; t++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        const o = (t * M + i) * N + j;
        for (let q = 0; q < K; q++) {
          y[o]! += a[A(t, i, q)]! * b[B(t, q, j)]!;
          da[A(t, i, q)]! += dy[o]! * b[B(t, q, j)]!;
          db[B(t, q, j)]! += a[A(t, i, q)]! * dy[o]!;
        }
      }
    }
  }
  return { y, da, db };
}

const node = (c: Case): GraphNode => ({ kernel: 'BatchMatMul', inputs: [], inputShapes: [c.a, c.b], attrs: { transposeA: Boolean(c.tA), transposeB: Boolean(c.tB) }, shape: outShape(c), dtype: 'float32', outputIndex: 0 });

/** Run a compiled product kernel (forward, then backward from dy) on fresh slots. */
function run(c: Case, a: Float64Array, b: Float64Array, dy: Float64Array, build: (ins: Slot[], out: Slot) => CompiledKernel): { y: Float64Array; da: Float64Array; db: Float64Array } {
  const sa: Slot = { value: a, grad: new Float64Array(a.length), shape: c.a };
  const sb: Slot = { value: b, grad: new Float64Array(b.length), shape: c.b };
  const out: Slot = { value: new Float64Array(dy.length), grad: Float64Array.from(dy), shape: outShape(c) };
  const k = build([sa, sb], out);
  k.forward();
  k.backward!();
  return { y: out.value, da: sa.grad!, db: sb.grad! };
}

const worst = (x: Float64Array, y: ArrayLike<number>): number => {
  let w = 0;
  for (let i = 0; i < x.length; i++) w = Math.max(w, Math.abs(x[i]! - y[i]!));
  return w;
};

/** Largest disagreement of a kernel with the float64 reference, over value and both gradients. */
function disagreement(c: Case, build: (ins: Slot[], out: Slot) => CompiledKernel): number {
  const a = rand(size(c.a), 1);
  const b = rand(size(c.b), 2);
  const dy = rand(size(outShape(c)), 3);
  const want = reference(c, a, b, dy);
  const got = run(c, a, b, dy, build);
  return Math.max(worst(got.y, want.y), worst(got.da, want.da), worst(got.db, want.db));
}

const rule = reductionRules().BatchMatMul!;

describe('BatchMatMul replay rule', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: value and both gradients match a float64 triple loop and tfjs`, () => {
      expect(disagreement(c, (ins, out) => rule(ins, out, node(c)))).toBeLessThan(1e-12);
      // tfjs (float32) on the same inputs, where it is right: with batch axes broadcast both ways, tfjs 4.22's cpu
      // kernel returns half the elements ([3, 1, 4, 5] x [2, 5, 6] gives 72 values for shape [3, 2, 4, 6])
      if (c.a.length !== 2 || c.b.length !== 2) return;
      const a = rand(size(c.a), 1);
      const b = rand(size(c.b), 2);
      const dy = rand(size(outShape(c)), 3);
      const got = run(c, a, b, dy, (ins, out) => rule(ins, out, node(c)));
      const ta = tf.tensor(Float32Array.from(a), c.a);
      const tb = tf.tensor(Float32Array.from(b), c.b);
      const tdy = tf.tensor(Float32Array.from(dy), outShape(c));
      expect(worst(got.y, tf.matMul(ta, tb, c.tA, c.tB).dataSync())).toBeLessThan(1e-5);
      const [ga, gb] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, c.tA, c.tB), tdy)))([ta, tb]);
      expect(worst(got.da, ga!.dataSync())).toBeLessThan(1e-5);
      expect(worst(got.db, gb!.dataSync())).toBeLessThan(1e-5);
      tf.dispose([ta, tb, tdy, ga!, gb!]);
    });
  }

  it('a planted wrong index (X read transposed in the generated forward loop) is caught', () => {
    const c: Case = { a: [24, 24], b: [24, 1] };
    const planted = (ins: Slot[], out: Slot): CompiledKernel => {
      const right = rule(ins, out, node(c));
      // the forward product with X's strides swapped: reads X(k, m) for X(m, k)
      const src = productSource(24, 1, 24, { buf: 'av', base: '0', s0: 1, s1: 24 }, { buf: 'bv', base: '0', s0: 1, s1: 1 }, { buf: 'y', base: '0', s0: 1, s1: 1 }, false);
      return { forward: compileLoop(['av', 'bv', 'y'], src, [ins[0]!.value, ins[1]!.value, out.value], 24 * 24), backward: right.backward! };
    };
    expect(disagreement(c, planted)).toBeGreaterThan(0.1);
    expect(disagreement(c, (ins, out) => rule(ins, out, node(c)))).toBeLessThan(1e-12);
  });
});

const FOLD_OPS: Record<string, { tf: (x: tf.Tensor, axis: number[]) => tf.Tensor; grad: boolean; bool?: boolean }> = {
  Sum: { tf: (x, a) => tf.sum(x, a), grad: true },
  Mean: { tf: (x, a) => tf.mean(x, a), grad: true },
  Max: { tf: (x, a) => tf.max(x, a), grad: true },
  Min: { tf: (x, a) => tf.min(x, a), grad: true },
  Prod: { tf: (x, a) => tf.prod(x, a), grad: true },
  All: { tf: (x, a) => tf.all(tf.cast(x, 'bool'), a), grad: false, bool: true },
  Any: { tf: (x, a) => tf.any(tf.cast(x, 'bool'), a), grad: false, bool: true },
};

/** [shape, axes]: trailing, leading, middle and all axes (plain loops; 19 inner columns: two blocks of 8 and a rest), and non-consecutive axes (the index map). */
const LAYOUTS: [number[], number[]][] = [
  [[6, 7], [1]],
  [[6, 7], [0]],
  [[2, 3, 19], [1]],
  [[3, 4, 5], [1]],
  [[3, 4, 5], [1, 2]],
  [[3, 4, 5], [0, 1, 2]],
  [[3, 4, 5], [0, 2]],
];

/** A reduction rule run forward and backward (upstream gradient dy) on values x, against tfjs; returns the worst disagreement. */
function reductionDisagreement(kernel: string, shape: number[], axes: number[], ruleAxes: number[] = axes): number {
  const op = FOLD_OPS[kernel]!;
  const n = size(shape);
  // booleans for All / Any: a mix of zeros and ones; positive values near 1 for Prod; no ties for Max / Min
  const raw = rand(n, 7);
  const x = op.bool ? raw.map((v) => (v > -0.3 ? 1 : 0)) : kernel === 'Prod' ? raw.map((v) => Math.fround(1 + v)) : raw;
  const tx = tf.tensor(Float32Array.from(x), shape);
  const want = op.tf(tx, axes);
  const dy = rand(size(want.shape), 8);
  const xs: Slot = { value: x, grad: op.grad ? new Float64Array(n) : undefined, shape };
  const out: Slot = { value: new Float64Array(dy.length), grad: op.grad ? Float64Array.from(dy) : undefined, shape: want.shape };
  const k = reductionRules()[kernel]!([xs], out, { kernel, inputs: [], inputShapes: [shape], attrs: { axis: ruleAxes, keepDims: false }, shape: want.shape, dtype: op.bool ? 'bool' : 'float32', outputIndex: 0 });
  k.forward();
  let w = worst(out.value, want.dataSync());
  if (op.grad) {
    k.backward!();
    const tdy = tf.tensor(Float32Array.from(dy), want.shape);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op.tf(t, axes), tdy)))(tx);
    w = Math.max(w, worst(xs.grad!, g.dataSync()));
    tf.dispose([tdy, g]);
  }
  tf.dispose([tx, want]);
  return w;
}

describe('reduction replay rules', () => {
  for (const kernel of Object.keys(FOLD_OPS)) {
    it(`${kernel}: values and gradients match tfjs over every axis layout`, () => {
      for (const [shape, axes] of LAYOUTS) expect(reductionDisagreement(kernel, shape, axes), `[${shape}] axes [${axes}]`).toBeLessThan(1e-5);
    });
  }

  it('a planted wrong axis (the rule reducing rows where tfjs reduces columns) is caught', () => {
    expect(reductionDisagreement('Sum', [6, 6], [1], [0])).toBeGreaterThan(0.01);
    expect(reductionDisagreement('Max', [3, 4, 5], [1], [2])).toBeGreaterThan(0.01);
  });
});

describe("guard on tfjs's BatchMatMul (tfjs 4.22 writes half the result when both operands broadcast over batch axes)", () => {
  // each case's verdict as measured on tfjs 4.22's cpu kernel (right or half-written), scratch script in the session-5 note
  const measured: [number[], number[], boolean][] = [
    [[3, 1], [2], true], [[3, 1], [1, 2], true], [[3, 2], [2], false], [[1, 2], [3, 1], true], [[3], [1], false],
    [[1], [3], false], [[2, 1], [1, 3], true], [[3, 2], [], false], [[], [3], false], [[2, 3], [3], false], [[2, 1], [3], true],
  ];
  it('refuses exactly the both-ways cases, with an error naming the shapes; one-way broadcasts still multiply right', () => {
    for (const [a, b, wrong] of measured) expect(broadcastsBothWays(a, b)).toBe(wrong);
    const a = tf.randomNormal([3, 1, 4, 5], 0, 1, 'float32', 1);
    const b = tf.randomNormal([2, 5, 6], 0, 1, 'float32', 2);
    expect(() => tf.matMul(a, b)).toThrow(/matMul of shapes \[3, 1, 4, 5\] and \[2, 5, 6\]: both operands broadcast.*broadcastTo/);
    const full = tf.broadcastTo(a, [3, 2, 4, 5]);
    const oneWay = tf.matMul(full, b); // only b broadcasts: right
    const both = tf.matMul(full, tf.broadcastTo(b, [3, 2, 5, 6]));
    expect(oneWay.dataSync().length).toBe(144);
    expect(tf.max(tf.abs(tf.sub(oneWay, both))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([a, b, full, oneWay, both]);
  });
});
