/**
 * Reductions (`Sum`, `Mean`, `Max`, `Min`, `Prod`, `All`, `Any`; plain
 * loops where the reduced axes are consecutive, an index map otherwise), running
 * sums (`Cumsum`), `Softmax`, and matrix products (`BatchMatMul` with
 * broadcast batch dimensions and either operand transposed).
 *
 * @module
 */
import type { CompiledKernel, KernelRule } from './kernel.js';
import { compileLoop } from './codegen.js';
import { sparseConstantProduct } from './sparse-product.js';
import { axesOf, broadcastMap, reductionMap, sizeOfShape, stridesOf } from './ndarray.js';

type Fold = 'sum' | 'mean' | 'max' | 'min' | 'prod' | 'all' | 'any';

/**
 * Each fold as code: the initial value, the statement folding value `v` into
 * the lvalue `acc`, the final map (the mean's division) and, where it has
 * one, the gradient an input `x` gets from its output's value `y` and
 * gradient `g`, added where `cond` holds (max / min give every tie the
 * gradient, as tfjs does).
 */
interface FoldCode {
  readonly init: string;
  readonly update: (acc: string, v: string) => string;
  readonly finish?: (acc: string, count: number) => string;
  readonly grad?: { readonly value: (g: string, y: string, x: string, count: number) => string; readonly cond?: (y: string, x: string) => string };
}

const FOLDS: Record<Fold, FoldCode> = {
  sum: { init: '0', update: (a, v) => `${a} += ${v};`, grad: { value: (g) => g } },
  mean: { init: '0', update: (a, v) => `${a} += ${v};`, finish: (a, c) => `${a} / ${c}`, grad: { value: (g, _y, _x, c) => `${g} / ${c}` } },
  max: { init: '-Infinity', update: (a, v) => `if (${v} > ${a} || ${v} !== ${v}) ${a} = ${v};`, grad: { value: (g) => g, cond: (y, x) => `${x} === ${y}` } },
  min: { init: 'Infinity', update: (a, v) => `if (${v} < ${a} || ${v} !== ${v}) ${a} = ${v};`, grad: { value: (g) => g, cond: (y, x) => `${x} === ${y}` } },
  prod: { init: '1', update: (a, v) => `${a} *= ${v};`, grad: { value: (g, y, x) => `(${g} * ${y}) / ${x}`, cond: (_y, x) => `${x} !== 0` } },
  all: { init: '1', update: (a, v) => `if (${v} === 0) ${a} = 0;` },
  any: { init: '0', update: (a, v) => `if (${v} !== 0) ${a} = 1;` },
};

/** `gx[p] += <gradient>` (under the fold's condition). */
function gradStatement(f: FoldCode, gx: string, g: string, y: string, x: string, count: number): string {
  const add = `${gx} += ${f.grad!.value(g, y, x, count)};`;
  return f.grad!.cond ? `if (${f.grad!.cond(y, x)}) ${add}` : add;
}

/**
 * The reduced axes as one block of consecutive axes: input element
 * (o, r, i) (outer, reduced, inner, row-major) goes to output o * inner + i;
 * undefined when the reduced axes are not consecutive.
 */
function reductionBlock(shape: readonly number[], axes: readonly number[]): { outer: number; len: number; inner: number } | undefined {
  if (axes.length === 0) return { outer: sizeOfShape(shape), len: 1, inner: 1 };
  const a0 = axes[0]!;
  const a1 = axes[axes.length - 1]!;
  if (a1 - a0 + 1 !== axes.length) return undefined;
  return { outer: sizeOfShape(shape.slice(0, a0)), len: sizeOfShape(shape.slice(a0, a1 + 1)), inner: sizeOfShape(shape.slice(a1 + 1)) };
}

/** `body(w, i0)` for blocks of up to `REGISTER_BLOCK` of `inner` columns: a loop over the full blocks, then the rest. */
function columnBlocks(inner: number, body: (w: number, i0: string) => string): string {
  const full = Math.floor(inner / REGISTER_BLOCK);
  const rest = inner - full * REGISTER_BLOCK;
  return [
    full > 0 ? `for (let i0 = 0; i0 < ${full * REGISTER_BLOCK}; i0 += ${REGISTER_BLOCK}) { ${body(REGISTER_BLOCK, 'i0')} }` : '',
    rest > 0 ? `{ ${body(rest, String(full * REGISTER_BLOCK))} }` : '',
  ].join('\n');
}

/**
 * Forward and backward loop bodies over a block layout, with no index map:
 * each output folds in a register; with inner axes, up to 8 outputs at a
 * time, each a register, the inputs read row by row.
 */
function blockLoops(f: FoldCode, outer: number, len: number, inner: number): { forward: string; backward?: string } {
  const count = len;
  const fin = (a: string): string => (f.finish ? f.finish(a, count) : a);
  if (inner === 1) {
    return {
      forward: `for (let o = 0, p = 0; o < ${outer}; o++) { let acc = ${f.init}; for (let r = 0; r < ${len}; r++, p++) { const v = xv[p]; ${f.update('acc', 'v')} } y[o] = ${fin('acc')}; }`,
      ...(f.grad ? { backward: `for (let o = 0, p = 0; o < ${outer}; o++) { const g = gy[o], yo = y[o]; for (let r = 0; r < ${len}; r++, p++) ${gradStatement(f, 'gx[p]', 'g', 'yo', 'xv[p]', count)} }` } : {}),
    };
  }
  const js = (w: number): number[] => Array.from({ length: w }, (_, j) => j);
  const off = (j: number): string => (j === 0 ? '' : ` + ${j}`);
  return {
    forward: `for (let o = 0; o < ${outer}; o++) {
      const q = o * ${inner}, b = o * ${len * inner};
      ${columnBlocks(inner, (w, i0) => `
        let ${js(w).map((j) => `a${j} = ${f.init}`).join(', ')};
        for (let r = 0, p = b + ${i0}; r < ${len}; r++, p += ${inner}) { ${js(w).map((j) => `{ const v = xv[p${off(j)}]; ${f.update(`a${j}`, 'v')} }`).join(' ')} }
        ${js(w).map((j) => `y[q + ${i0}${off(j)}] = ${fin(`a${j}`)};`).join(' ')}`)}
    }`,
    ...(f.grad
      ? {
          backward: `for (let o = 0; o < ${outer}; o++) {
            const q = o * ${inner}, b = o * ${len * inner};
            ${columnBlocks(inner, (w, i0) => `
              const ${js(w).map((j) => `g${j} = gy[q + ${i0}${off(j)}], y${j} = y[q + ${i0}${off(j)}]`).join(', ')};
              for (let r = 0, p = b + ${i0}; r < ${len}; r++, p += ${inner}) { ${js(w).map((j) => gradStatement(f, `gx[p${off(j)}]`, `g${j}`, `y${j}`, `xv[p${off(j)}]`, count)).join(' ')} }`)}
          }`,
        }
      : {}),
  };
}

/** The same through an index map (reduced axes not consecutive). */
function mapLoops(f: FoldCode, n: number, m: number, count: number): { forward: string; backward?: string } {
  return {
    forward: `y.fill(${f.init}); for (let i = 0; i < ${n}; i++) { const v = xv[i], j = map[i]; ${f.update('y[j]', 'v')} }${f.finish ? ` for (let j = 0; j < ${m}; j++) y[j] = ${f.finish('y[j]', count)};` : ''}`,
    ...(f.grad ? { backward: `for (let i = 0; i < ${n}; i++) { const j = map[i]; ${gradStatement(f, 'gx[i]', 'gy[j]', 'y[j]', 'xv[i]', count)} }` } : {}),
  };
}

function reduction(fold: Fold): KernelRule {
  return ([x], out, node) => {
    const shape = x!.shape;
    const axes = axesOf(node.attrs.axis ?? node.attrs.reductionIndices, shape.length);
    const xv = x!.value;
    const y = out.value;
    const n = xv.length;
    const count = n / Math.max(1, y.length);
    const block = reductionBlock(shape, axes);
    const map = block ? null : reductionMap(shape, axes);
    const loops = block ? blockLoops(FOLDS[fold], block.outer, block.len, block.inner) : mapLoops(FOLDS[fold], n, y.length, count);
    const k: CompiledKernel = { forward: compileLoop(['xv', 'y', 'map'], loops.forward, [xv, y, map], n) };
    const gx = x!.grad;
    const gy = out.grad;
    if (gx && gy && loops.backward) k.backward = compileLoop(['xv', 'y', 'gx', 'gy', 'map'], loops.backward, [xv, y, gx, gy, map], n);
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

/**
 * One operand of a generated matrix product: element (r, c) is
 * `buf[base + r * s0 + c * s1]` (`base` a JavaScript expression, the strides
 * literals).
 */
export interface ProductOperand {
  readonly buf: string;
  readonly base: string;
  readonly s0: number;
  readonly s1: number;
}

/** Sums written out in full (registers, no loop) up to this many terms. */
const UNROLL_TERMS = 32;
/** Accumulators kept in registers at once by the outer-product loops (more spill to the stack). */
const REGISTER_BLOCK = 8;

/** The transpose of an operand (rows and columns swapped). */
const transposed = (o: ProductOperand): ProductOperand => ({ buf: o.buf, base: o.base, s0: o.s1, s1: o.s0 });

/** `buf[ptr + off]` with a zero offset left out. */
const at = (o: ProductOperand, ptr: string, off: number): string => `${o.buf}[${ptr}${off === 0 ? '' : ` + ${off}`}]`;

/**
 * The sum over k < K of `x(k) * y(k)` as one expression of four interleaved
 * partial sums (independent add chains, which the CPU overlaps).
 */
function unrolledDot(K: number, x: (k: number) => string, y: (k: number) => string): string {
  const chains = Array.from({ length: Math.min(4, K) }, (_, c) => {
    const terms: string[] = [];
    for (let k = c; k < K; k += 4) terms.push(`${x(k)} * ${y(k)}`);
    return `(${terms.join(' + ')})`;
  });
  return chains.length === 4 ? `(${chains[0]} + ${chains[1]}) + (${chains[2]} + ${chains[3]})` : chains.join(' + ');
}

/**
 * Source of a loop computing C(m, n) (`=`, or `+=` with `accumulate`) the sum
 * over k of X(m, k) Y(k, n), for m < M, n < N, k < K, in the loop order that
 * walks memory contiguously:
 *
 * - **dot form** (k contiguous in X and Y, e.g. a matrix–vector product):
 *   each C(m, n) is one sum, written out in full with four partial sums
 *   when K <= 32 (with Y's column hoisted into locals when Y has at most 4
 *   columns, or X's row when X has at most 4 rows), else a loop over k with
 *   four accumulators;
 * - **outer-product form** (n contiguous in Y and C): for each m, rows of Y
 *   scaled by X(m, k) are added up over k in register accumulators, 8
 *   columns at a time (no load or store of C inside). Through the transposed
 *   product C^T = Y^T X^T this also serves m contiguous in X and C: the
 *   backward pass of a matrix–vector product, which then reads the matrix
 *   row by row instead of column by column.
 *
 * The form is chosen by how many operands its inner loop walks with stride
 * 1; the order of the sums differs between forms (float64 rounding only).
 */
export function productSource(M: number, N: number, K: number, X: ProductOperand, Y: ProductOperand, C: ProductOperand, accumulate: boolean): string {
  if (K === 0) return accumulate ? '' : `for (let m = 0; m < ${M}; m++) for (let n = 0; n < ${N}; n++) ${C.buf}[${C.base} + m * ${C.s0} + n * ${C.s1}] = 0;`;
  const score = (len: number, a: number, b: number): number => (len > 1 ? (a === 1 ? 1 : 0) + (b === 1 ? 1 : 0) : -1);
  const dot = K > 1 ? score(K, X.s1, Y.s0) : 0;
  const nInner = score(N, Y.s1, C.s1);
  const mInner = score(M, X.s0, C.s0);
  if (dot >= nInner && dot >= mInner) {
    // hoisting needs few columns of Y; with few rows of X instead, hoist X's row in the transposed product
    if (K <= UNROLL_TERMS && N > 4 && M <= 4) return dotForm(N, M, K, transposed(Y), transposed(X), transposed(C), accumulate ? '+=' : '=');
    return dotForm(M, N, K, X, Y, C, accumulate ? '+=' : '=');
  }
  if (nInner >= mInner) return outerForm(M, N, K, X, Y, C, accumulate);
  return outerForm(N, M, K, transposed(Y), transposed(X), transposed(C), accumulate);
}

function dotForm(M: number, N: number, K: number, X: ProductOperand, Y: ProductOperand, C: ProductOperand, op: string): string {
  if (K <= UNROLL_TERMS && N <= 4) {
    // n outer: Y's column in locals, then one full sum per row of X
    const hoist = Array.from({ length: K }, (_, k) => `y${k} = ${at(Y, 'py', k * Y.s0)}`).join(', ');
    return `for (let n = 0; n < ${N}; n++) {
      const py = ${Y.base} + n * ${Y.s1};
      const ${hoist};
      for (let m = 0, px = ${X.base}, pc = ${C.base} + n * ${C.s1}; m < ${M}; m++, px += ${X.s0}, pc += ${C.s0}) ${C.buf}[pc] ${op} ${unrolledDot(K, (k) => at(X, 'px', k * X.s1), (k) => `y${k}`)};
    }`;
  }
  const sum =
    K <= UNROLL_TERMS
      ? `const s = ${unrolledDot(K, (k) => at(X, 'px', k * X.s1), (k) => at(Y, 'py', k * Y.s0))};`
      : `let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0, a = px, b = py;
        for (; k < ${K - 3}; k += 4, a += ${4 * X.s1}, b += ${4 * Y.s0}) {
          s0 += ${X.buf}[a] * ${Y.buf}[b]; s1 += ${X.buf}[a + ${X.s1}] * ${Y.buf}[b + ${Y.s0}];
          s2 += ${X.buf}[a + ${2 * X.s1}] * ${Y.buf}[b + ${2 * Y.s0}]; s3 += ${X.buf}[a + ${3 * X.s1}] * ${Y.buf}[b + ${3 * Y.s0}];
        }
        for (; k < ${K}; k++, a += ${X.s1}, b += ${Y.s0}) s0 += ${X.buf}[a] * ${Y.buf}[b];
        const s = (s0 + s1) + (s2 + s3);`;
  return `for (let m = 0; m < ${M}; m++) {
    const px = ${X.base} + m * ${X.s0};
    for (let n = 0; n < ${N}; n++) {
      const py = ${Y.base} + n * ${Y.s1};
      ${sum}
      ${C.buf}[${C.base} + m * ${C.s0} + n * ${C.s1}] ${op} s;
    }
  }`;
}

function outerForm(M: number, N: number, K: number, X: ProductOperand, Y: ProductOperand, C: ProductOperand, accumulate: boolean): string {
  // register accumulators c<j> for a block of n0 .. n0 + w - 1, one pass over k per block
  const block = (w: number, n0: string): string => {
    const js = Array.from({ length: w }, (_, j) => j);
    return `{
        let ${js.map((j) => `c${j} = 0`).join(', ')};
        for (let k = 0, px = ${X.base} + m * ${X.s0}, py = ${Y.base} + (${n0}) * ${Y.s1}; k < ${K}; k++, px += ${X.s1}, py += ${Y.s0}) {
          const xv = ${X.buf}[px];
          ${js.map((j) => `c${j} += xv * ${at(Y, 'py', j * Y.s1)};`).join(' ')}
        }
        const pn = pc + (${n0}) * ${C.s1};
        ${js.map((j) => `${at(C, 'pn', j * C.s1)} ${accumulate ? '+=' : '='} c${j};`).join(' ')}
      }`;
  };
  const full = Math.floor(N / REGISTER_BLOCK);
  const rest = N - full * REGISTER_BLOCK;
  return `for (let m = 0; m < ${M}; m++) {
    const pc = ${C.base} + m * ${C.s0};
    ${full > 0 ? `for (let nb = 0; nb < ${full * REGISTER_BLOCK}; nb += ${REGISTER_BLOCK}) ${block(REGISTER_BLOCK, 'nb')}` : ''}
    ${rest > 0 ? block(rest, String(full * REGISTER_BLOCK)) : ''}
  }`;
}

/**
 * Batched matrix product with broadcast batch axes and optional transposes:
 * the forward product and the two backward ones (dA = dY B^T,
 * dB = A^T dY) are each generated by `productSource`, sizes inlined,
 * in their own cache-friendly loop order.
 */
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
  const A: ProductOperand = { buf: 'av', base: 'oa', s0: tA ? 1 : K, s1: tA ? M : 1 };
  const B: ProductOperand = { buf: 'bv', base: 'ob', s0: tB ? 1 : N, s1: tB ? K : 1 };
  const batch = (body: string): string =>
    nb === 1 && !ma && !mb
      ? `{ const oa = 0, ob = 0, oy = 0;\n${body}\n}`
      : `for (let t = 0; t < ${nb}; t++) { const oa = ${ma ? 'ma[t]' : 't'} * ${M * K}, ob = ${mb ? 'mb[t]' : 't'} * ${K * N}, oy = t * ${M * N};\n${body}\n}`;
  const av = a!.value;
  const bv = b!.value;
  const y = out.value;
  const work = nb * M * N * K;
  const forward = compileLoop(['av', 'bv', 'y', 'ma', 'mb'], batch(productSource(M, N, K, A, B, { buf: 'y', base: 'oy', s0: N, s1: 1 }, false)), [av, bv, y, ma, mb], work);
  const k: CompiledKernel = { forward };
  const ga = a!.grad;
  const gb = b!.grad;
  const gy = out.grad;
  if (gy && (ga || gb)) {
    const dY: ProductOperand = { buf: 'gy', base: 'oy', s0: N, s1: 1 };
    // dA(i, q) = sum_j dY(i, j) B(q, j); dB(q, j) = sum_i A(i, q) dY(i, j)
    const dA = ga ? productSource(M, K, N, dY, transposed(B), { buf: 'ga', base: 'oa', s0: A.s0, s1: A.s1 }, true) : '';
    const dB = gb ? productSource(K, N, M, transposed(A), dY, { buf: 'gb', base: 'ob', s0: B.s0, s1: B.s1 }, true) : '';
    k.backward = compileLoop(['av', 'bv', 'ga', 'gb', 'gy', 'ma', 'mb'], batch(`${dA}\n${dB}`), [av, bv, ga, gb, gy, ma, mb], work);
  }
  // a mostly-zero data matrix times parameters: one multiply-add per nonzero (sparse-product.ts)
  if (a!.constant && !b!.constant) {
    const sparse = sparseConstantProduct({ value: av, s0: A.s0, s1: A.s1, size: M * K, map: ma }, { value: bv, grad: gb, s0: B.s0, s1: B.s1, size: K * N, map: mb }, { value: y, grad: gy, s0: N, s1: 1 }, { M, N, K, batches: nb }, k);
    if (sparse) return sparse;
  } else if (b!.constant && !a!.constant) {
    // Y^T = B^T A^T: the constant on the left
    const sparse = sparseConstantProduct({ value: bv, s0: B.s1, s1: B.s0, size: K * N, map: mb }, { value: av, grad: ga, s0: A.s1, s1: A.s0, size: M * K, map: ma }, { value: y, grad: gy, s0: 1, s1: N }, { M: N, N: M, K, batches: nb }, k);
    if (sparse) return sparse;
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
