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
 * dB = A^T dY) are each generated by {@link productSource}, sizes inlined,
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
