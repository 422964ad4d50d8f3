/**
 * Reductions (`Sum`, `Mean`, `Max`, `Min`, `Prod`, `All`, `Any`), running
 * sums (`Cumsum`), `Softmax`, and matrix products (`BatchMatMul` with
 * broadcast batch dimensions and either operand transposed).
 *
 * @module
 */
import type { CompiledKernel, KernelRule } from './kernel.js';
import { compileLoop } from './codegen.js';
import { axesOf, broadcastMap, reductionMap, sizeOfShape, stridesOf } from './ndarray.js';

type Fold = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'all' | 'any';

/** Forward loop bodies of each fold: `y` (length m) from `xv` through `map`. */
const FOLD_FORWARD: Record<Fold, (n: number, m: number, count: number) => string> = {
  sum: (n) => `y.fill(0); for (let i = 0; i < ${n}; i++) y[map[i]] += xv[i];`,
  mean: (n, m, count) => `y.fill(0); for (let i = 0; i < ${n}; i++) y[map[i]] += xv[i]; for (let j = 0; j < ${m}; j++) y[j] /= ${count};`,
  max: (n) => `y.fill(-Infinity); for (let i = 0; i < ${n}; i++) { const v = xv[i], j = map[i]; if (v > y[j] || v !== v) y[j] = v; }`,
  min: (n) => `y.fill(Infinity); for (let i = 0; i < ${n}; i++) { const v = xv[i], j = map[i]; if (v < y[j] || v !== v) y[j] = v; }`,
  prod: (n) => `y.fill(1); for (let i = 0; i < ${n}; i++) y[map[i]] *= xv[i];`,
  all: (n) => `y.fill(1); for (let i = 0; i < ${n}; i++) if (xv[i] === 0) y[map[i]] = 0;`,
  any: (n) => `y.fill(0); for (let i = 0; i < ${n}; i++) if (xv[i] !== 0) y[map[i]] = 1;`,
};

/** Backward loop bodies (none for the boolean folds); max / min give every tie the gradient, as tfjs does. */
const FOLD_BACKWARD: Partial<Record<Fold, (n: number, count: number) => string>> = {
  sum: (n) => `for (let i = 0; i < ${n}; i++) gx[i] += gy[map[i]];`,
  mean: (n, count) => `for (let i = 0; i < ${n}; i++) gx[i] += gy[map[i]] / ${count};`,
  max: (n) => `for (let i = 0; i < ${n}; i++) if (xv[i] === y[map[i]]) gx[i] += gy[map[i]];`,
  min: (n) => `for (let i = 0; i < ${n}; i++) if (xv[i] === y[map[i]]) gx[i] += gy[map[i]];`,
  prod: (n) => `for (let i = 0; i < ${n}; i++) if (xv[i] !== 0) gx[i] += (gy[map[i]] * y[map[i]]) / xv[i];`,
};

function reduction(fold: Fold): KernelRule {
  return ([x], out, node) => {
    const shape = x!.shape;
    const axes = axesOf(node.attrs.axis ?? node.attrs.reductionIndices, shape.length);
    const map = reductionMap(shape, axes);
    const xv = x!.value;
    const y = out.value;
    const n = xv.length;
    const count = n / Math.max(1, y.length);
    const k: CompiledKernel = { forward: compileLoop(['xv', 'y', 'map'], FOLD_FORWARD[fold](n, y.length, count), [xv, y, map], n) };
    const gx = x!.grad;
    const gy = out.grad;
    const backward = FOLD_BACKWARD[fold];
    if (gx && gy && backward) k.backward = compileLoop(['xv', 'y', 'gx', 'gy', 'map'], backward(n, count), [xv, y, gx, gy, map], n);
    return k;
  };
}

/** Cumulative sums along one axis (optionally exclusive and/or reversed). */
const cumsum: KernelRule = ([x], out, node) => {
  const shape = x!.shape;
  const axis = axesOf(node.attrs.axis ?? 0, shape.length)[0]!;
  const exclusive = Boolean(node.attrs.exclusive);
  const rev = Boolean(node.attrs.reverse);
  const st = stridesOf(shape)[axis]!;
  const len = shape[axis]!;
  const n = sizeOfShape(shape);
  const outer = n / (len * st);
  const run = (src: Float64Array, dst: Float64Array, reversed: boolean, add: boolean): void => {
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < st; r++) {
        const base = o * len * st + r;
        let acc = 0;
        for (let t = 0; t < len; t++) {
          const i = base + (reversed ? len - 1 - t : t) * st;
          if (exclusive) {
            if (add) dst[i]! += acc;
            else dst[i] = acc;
            acc += src[i]!;
          } else {
            acc += src[i]!;
            if (add) dst[i]! += acc;
            else dst[i] = acc;
          }
        }
      }
    }
  };
  const k: CompiledKernel = { forward: () => run(x!.value, out.value, rev, false) };
  const gx = x!.grad;
  const gy = out.grad;
  // the adjoint of a running sum is the running sum in the other direction
  if (gx && gy) k.backward = () => run(gy, gx, !rev, true);
  return k;
};

/** Softmax along the last axis. */
const softmax: KernelRule = ([x], out) => {
  const shape = x!.shape;
  const len = shape[shape.length - 1]!;
  const rows = x!.value.length / len;
  const xv = x!.value;
  const y = out.value;
  const k: CompiledKernel = {
    forward() {
      for (let r = 0; r < rows; r++) {
        const b = r * len;
        let m = -Infinity;
        for (let j = 0; j < len; j++) m = Math.max(m, xv[b + j]!);
        let s = 0;
        for (let j = 0; j < len; j++) s += y[b + j] = Math.exp(xv[b + j]! - m);
        for (let j = 0; j < len; j++) y[b + j]! /= s;
      }
    },
  };
  const gx = x!.grad;
  const gy = out.grad;
  if (gx && gy) {
    k.backward = () => {
      for (let r = 0; r < rows; r++) {
        const b = r * len;
        let dot = 0;
        for (let j = 0; j < len; j++) dot += gy[b + j]! * y[b + j]!;
        for (let j = 0; j < len; j++) gx[b + j]! += y[b + j]! * (gy[b + j]! - dot);
      }
    };
  }
  return k;
};

/** Batched matrix product with broadcast batch axes and optional transposes (loops generated with the sizes inlined). */
const batchMatMul: KernelRule = ([a, b], out, node) => {
  const tA = Boolean(node.attrs.transposeA);
  const tB = Boolean(node.attrs.transposeB);
  const as = a!.shape;
  const bs = b!.shape;
  const M = out.shape[out.shape.length - 2]!;
  const N = out.shape[out.shape.length - 1]!;
  const K = tA ? as[as.length - 2]! : as[as.length - 1]!;
  const batchOut = out.shape.slice(0, -2);
  const nb = sizeOfShape(batchOut);
  const ma = broadcastMap(as.slice(0, -2), batchOut);
  const mb = broadcastMap(bs.slice(0, -2), batchOut);
  // A(i, q) = a[oa + i * aRow + q * aCol], B(q, j) = b[ob + q * bRow + j * bCol]
  const aRow = tA ? 1 : K;
  const aCol = tA ? M : 1;
  const bRow = tB ? 1 : N;
  const bCol = tB ? K : 1;
  const batch = `for (let t = 0; t < ${nb}; t++) { const oa = ${ma ? 'ma[t]' : 't'} * ${M * K}, ob = ${mb ? 'mb[t]' : 't'} * ${K * N}, oy = t * ${M * N};`;
  const av = a!.value;
  const bv = b!.value;
  const y = out.value;
  const forward = compileLoop(
    ['av', 'bv', 'y', 'ma', 'mb'],
    `${batch}
      for (let i = 0; i < ${M}; i++) for (let j = 0; j < ${N}; j++) {
        let s = 0, pa = oa + i * ${aRow}, pb = ob + j * ${bCol};
        for (let q = 0; q < ${K}; q++, pa += ${aCol}, pb += ${bRow}) s += av[pa] * bv[pb];
        y[oy + i * ${N} + j] = s;
      }
    }`,
    [av, bv, y, ma, mb],
    nb * M * N * K,
  );
  const k: CompiledKernel = { forward };
  const ga = a!.grad;
  const gb = b!.grad;
  const gy = out.grad;
  if (gy && (ga || gb)) {
    // dA(i, q) = sum_j dY(i, j) B(q, j); dB(q, j) = sum_i A(i, q) dY(i, j) — each sum in a register
    k.backward = compileLoop(
      ['av', 'bv', 'ga', 'gb', 'gy', 'ma', 'mb'],
      `${batch}
        ${ga ? `for (let i = 0; i < ${M}; i++) for (let q = 0; q < ${K}; q++) {
          let s = 0, pb = ob + q * ${bRow}, py = oy + i * ${N};
          for (let j = 0; j < ${N}; j++, pb += ${bCol}, py++) s += gy[py] * bv[pb];
          ga[oa + i * ${aRow} + q * ${aCol}] += s;
        }` : ''}
        ${gb ? `for (let q = 0; q < ${K}; q++) for (let j = 0; j < ${N}; j++) {
          let s = 0, pa = oa + q * ${aCol}, py = oy + j;
          for (let i = 0; i < ${M}; i++, pa += ${aRow}, py += ${N}) s += av[pa] * gy[py];
          gb[ob + q * ${bRow} + j * ${bCol}] += s;
        }` : ''}
      }`,
      [av, bv, ga, gb, gy, ma, mb],
      nb * M * N * K,
    );
  }
  return k;
};

/** Every reduction and product rule by kernel name. */
export function reductionRules(): Record<string, KernelRule> {
  return {
    Sum: reduction('sum'),
    Mean: reduction('mean'),
    Max: reduction('max'),
    Min: reduction('min'),
    Prod: reduction('prod'),
    All: reduction('all'),
    Any: reduction('any'),
    Cumsum: cumsum,
    Softmax: softmax,
    BatchMatMul: batchMatMul,
  };
}
