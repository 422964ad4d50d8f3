/**
 * Matrix products with a sparse constant operand: a recorded data matrix
 * that is mostly zeros (a one-hot group membership, an indicator design)
 * multiplied by parameters. The dense kernel spends M·N·K multiply-adds
 * forward and as many backward; this one spends one per nonzero and output
 * column. A hierarchical regression that spreads J group effects over its
 * rows with a one-hot N x J matrix (models/hierarchical-regression.ts,
 * N = 400, J = 100) does 400 instead of 40000 in each direction.
 *
 * The nonzeros of each of the constant's matrices are kept row by row (CSR)
 * in column order; each output element is their sum from left to right (the
 * dense kernel's partial sums may round differently in the last bits). A
 * zero term the sparse sum leaves out only matters where the other factor is not finite
 * (0 · ∞ is NaN): a call whose variable operand (forward) or output
 * gradient (backward) holds a non-finite value runs the dense kernel, so
 * the results are those of the dense product at every point.
 *
 * @module
 */
import type { CompiledKernel } from './kernel.js';

/** An operand's layout: element (r, c) of batch matrix t is `buf[t * size + r * s0 + c * s1]`. */
export interface SparseOperand {
  readonly value: Float64Array;
  readonly grad?: Float64Array | undefined;
  readonly s0: number;
  readonly s1: number;
  /** Elements per batch matrix. */
  readonly size: number;
  /** The operand's batch matrix for each output batch index, or null for the identity. */
  readonly map: Int32Array | null;
}

/** Use the sparse kernel when at most this share of the constant's elements are nonzero ... */
export const SPARSE_DENSITY = 0.25;
/** ... and the dense product would do at least this many multiply-adds. */
export const SPARSE_MIN_WORK = 4096;

/** The constant's nonzeros, row by row: row r of batch matrix t spans `ptr[t * rows + r] .. ptr[t * rows + r + 1]`. */
interface Csr {
  readonly ptr: Int32Array;
  readonly col: Int32Array;
  readonly val: Float64Array;
}

function csrOf(c: SparseOperand, rows: number, cols: number): Csr | undefined {
  const mats = c.value.length / c.size;
  let nnz = 0;
  for (let i = 0; i < c.value.length; i++) if (c.value[i] !== 0) nnz++;
  if (nnz > SPARSE_DENSITY * c.value.length) return undefined;
  const ptr = new Int32Array(mats * rows + 1);
  const col = new Int32Array(nnz);
  const val = new Float64Array(nnz);
  let k = 0;
  for (let t = 0; t < mats; t++) {
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < cols; q++) {
        const v = c.value[t * c.size + r * c.s0 + q * c.s1]!;
        if (v !== 0) {
          col[k] = q;
          val[k++] = v;
        }
      }
      ptr[t * rows + r + 1] = k;
    }
  }
  return { ptr, col, val };
}

function allFinite(xs: Float64Array): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i]!)) return false;
  return true;
}

/**
 * The product Y = C V over `batches` output matrices, C (M x K) a sparse
 * constant and V (K x N) variable, Y (M x N) at `y[t * M * N + m * ys0 + n * ys1]`
 * (a product whose constant is on the right is this one transposed).
 * Returns undefined where C is not sparse enough or the product too small;
 * `dense` is the dense kernel the calls with non-finite values fall back to.
 */
export function sparseConstantProduct(
  c: SparseOperand,
  v: SparseOperand,
  y: { readonly value: Float64Array; readonly grad?: Float64Array | undefined; readonly s0: number; readonly s1: number },
  dims: { readonly M: number; readonly N: number; readonly K: number; readonly batches: number },
  dense: CompiledKernel,
): CompiledKernel | undefined {
  const { M, N, K, batches } = dims;
  if (batches * M * N * K < SPARSE_MIN_WORK) return undefined;
  const csr = csrOf(c, M, K);
  if (!csr) return undefined;
  const { ptr, col, val } = csr;
  const yv = y.value;
  const vv = v.value;
  const forward = (): void => {
    if (!allFinite(vv)) return dense.forward();
    for (let t = 0; t < batches; t++) {
      const ct = (c.map ? c.map[t]! : t) * M;
      const ov = (v.map ? v.map[t]! : t) * v.size;
      const oy = t * M * N;
      for (let m = 0; m < M; m++) {
        const end = ptr[ct + m + 1]!;
        for (let n = 0; n < N; n++) {
          let s = 0;
          const pv = ov + n * v.s1;
          for (let k = ptr[ct + m]!; k < end; k++) s += val[k]! * vv[pv + col[k]! * v.s0]!;
          yv[oy + m * y.s0 + n * y.s1] = s;
        }
      }
    }
  };
  const kernel: CompiledKernel = { forward };
  const gv = v.grad;
  const gy = y.grad;
  if (gv && gy && dense.backward) {
    const denseBackward = dense.backward;
    kernel.backward = (): void => {
      if (!allFinite(gy)) return denseBackward();
      for (let t = 0; t < batches; t++) {
        const ct = (c.map ? c.map[t]! : t) * M;
        const ov = (v.map ? v.map[t]! : t) * v.size;
        const oy = t * M * N;
        for (let m = 0; m < M; m++) {
          const end = ptr[ct + m + 1]!;
          for (let n = 0; n < N; n++) {
            const g = gy[oy + m * y.s0 + n * y.s1]!;
            const pv = ov + n * v.s1;
            for (let k = ptr[ct + m]!; k < end; k++) gv[pv + col[k]! * v.s0] += val[k]! * g;
          }
        }
      }
    };
  }
  return kernel;
}
