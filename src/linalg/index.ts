/**
 * Public linear algebra for model code, as a Stan user knows it:
 * `cholesky_decompose`, `mdivide_left_tri_low`, `log_determinant`, matrix
 * products, and the GP covariance functions (`gp_exp_quad_cov`, Matérn,
 * periodic). Every function is built from differentiable tfjs ops, so
 * gradients flow through it (NUTS, HMC, VI). Matrices are `[..., n, n]`,
 * vectors `[..., n]`; leading (batch) dimensions broadcast.
 *
 * ```ts
 * const K = gpExpQuadCov(x, alpha, rho, { jitter: 1e-9 });
 * const L = cholesky(K);
 * const f = matVec(L, eta);               // f ~ MVN(0, K) from eta ~ N(0, 1)
 * ```
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '../backend/gradients.js';
import { InvalidParameterError } from '../core/errors.js';
import { cholesky as choleskyKernel, diagPart, matVec as matVecKernel, solveLower, transposeLast } from './dense.js';

export { gpExpQuadCov, gpMatern12Cov, gpMatern32Cov, gpMatern52Cov, gpPeriodicCov, type GpCovOptions, type GpPoints, type GpHyper } from './gp.js';

/** Options of {@link cholesky}. */
export interface CholeskyOptions {
  /** Added to the diagonal before factorising (Stan models' `add_diag(K, jitter)`); default 0. */
  readonly jitter?: number;
  /**
   * Check that every pivot is positive and throw an `InvalidParameterError`
   * naming the matrix shape if not (default true). Samplers treat that error
   * as "reject this point", as Stan rejects a proposal whose
   * `cholesky_decompose` fails. The check is one boolean read, which the
   * compiled (JIT) path records as a guard, so it does not block compilation.
   * With `false`, a matrix that is not positive definite gives NaN entries.
   */
  readonly check?: boolean;
}

/** A tensor, or nested arrays of numbers (converted with `tf.tensor`). */
export type MatrixLike = tf.Tensor | tf.TensorLike;

const toTensor = (x: MatrixLike): tf.Tensor => (x instanceof tf.Tensor ? x : tf.tensor(x));

function asMatrix(fn: string, a: MatrixLike): tf.Tensor {
  const t = toTensor(a);
  if (t.rank < 2 || t.shape[t.rank - 1] !== t.shape[t.rank - 2]) {
    throw new TypeError(`${fn}: expected square matrices of shape [..., n, n], got shape [${t.shape.join(', ')}]`);
  }
  return t;
}

/**
 * The lower Cholesky factor `L` of symmetric positive-definite matrices
 * (`a = L L^T`; only the lower triangle of `a` is read), like Stan's
 * `cholesky_decompose`. Differentiable. O(n) tfjs dispatches: meant for
 * matrices up to a few hundred rows.
 *
 * @throws `InvalidParameterError` naming the shape when a matrix is not
 *   positive definite (unless `check: false`).
 */
export function cholesky(a: MatrixLike, options: CholeskyOptions = {}): tf.Tensor {
  const jitter = options.jitter ?? 0;
  if (!(Number.isFinite(jitter) && jitter >= 0)) throw new RangeError(`cholesky: option jitter must be a finite number >= 0, got ${jitter}`);
  return tf.tidy(() => {
    const m = asMatrix('cholesky', a);
    const n = m.shape[m.rank - 1];
    const l = choleskyKernel(jitter > 0 ? tf.add(m, tf.mul(jitter, tf.eye(n))) : m);
    if ((options.check ?? true) && tf.all(tf.greater(diagPart(l), 0)).dataSync()[0] !== 1) {
      throw new InvalidParameterError(
        'cholesky',
        'matrix',
        `cholesky: the matrix of shape [${m.shape.join(', ')}] is not positive definite${jitter > 0 ? ` (with jitter ${jitter})` : ''}; add jitter to its diagonal or check the covariance`,
      );
    }
    return l;
  });
}

/** Options of {@link solveTriangular}. */
export interface SolveTriangularOptions {
  /** The matrix is lower (default) or upper triangular; only that triangle is read. */
  readonly lower?: boolean;
  /** Solve with the transpose of the matrix (`L^T x = b`); default false. */
  readonly transpose?: boolean;
  /** `b` is a matrix `[..., n, k]` of right-hand sides (default: a vector `[..., n]`). */
  readonly matrix?: boolean;
}

const flipVec = (v: tf.Tensor): tf.Tensor => tf.reverse(v, [v.rank - 1]);
const flipMat = (m: tf.Tensor): tf.Tensor => tf.reverse(m, [m.rank - 2, m.rank - 1]);

/**
 * Solve `T x = b` for triangular `T` by substitution (Stan's
 * `mdivide_left_tri_low(L, b)`, and with `transpose` the `L^T \ b` of
 * `mdivide_right_tri_low`-style code). Differentiable.
 */
export function solveTriangular(t: MatrixLike, b: MatrixLike, options: SolveTriangularOptions = {}): tf.Tensor {
  return tf.tidy(() => {
    const tm = asMatrix('solveTriangular', t);
    const bt = toTensor(b);
    const n = tm.shape[tm.rank - 1];
    const rows = options.matrix ? bt.shape[bt.rank - 2] : bt.shape[bt.rank - 1];
    if (bt.rank < (options.matrix ? 2 : 1) || rows !== n) {
      throw new TypeError(`solveTriangular: right-hand side of shape [${bt.shape.join(', ')}] does not fit a matrix of shape [${tm.shape.join(', ')}]${options.matrix ? ' (b as a matrix [..., n, k])' : ' (b as a vector [..., n]; pass { matrix: true } for [..., n, k])'}`);
    }
    // the effective matrix M (T or T^T) and whether it is lower triangular
    const lower = (options.lower ?? true) !== (options.transpose ?? false);
    const mat = options.transpose ? transposeLast(tm) : tm;
    const solveVec = (m: tf.Tensor, v: tf.Tensor): tf.Tensor => (lower ? solveLower(m, v) : flipVec(solveLower(flipMat(m), flipVec(v))));
    if (!options.matrix) return solveVec(mat, bt);
    // columns of b become a batch axis: [..., k, n]
    return transposeLast(solveVec(tf.expandDims(mat, -3), transposeLast(bt)));
  });
}

/** The matrix-vector product `m v` (`[..., r, c]` times `[..., c]`), batch dimensions broadcasting. */
export function matVec(m: MatrixLike, v: MatrixLike): tf.Tensor {
  return tf.tidy(() => {
    const mt = toTensor(m);
    const vt = toTensor(v);
    if (mt.rank < 2 || vt.rank < 1 || mt.shape[mt.rank - 1] !== vt.shape[vt.rank - 1]) {
      throw new TypeError(`matVec: a matrix of shape [${mt.shape.join(', ')}] cannot multiply a vector of shape [${vt.shape.join(', ')}]`);
    }
    if (mt.rank === 2 && vt.rank === 1) return tf.squeeze(tf.matMul(mt, tf.expandDims(vt, 1)), [1]);
    return matVecKernel(mt, vt);
  });
}

/** The matrix product `a b` (`[..., r, k]` times `[..., k, c]`), batch dimensions broadcasting; optional transposes. */
export function matMul(a: MatrixLike, b: MatrixLike, transposeA = false, transposeB = false): tf.Tensor {
  return tf.tidy(() => {
    const at = toTensor(a);
    const bt = toTensor(b);
    const inner = (t: tf.Tensor, tr: boolean, first: boolean): number => t.shape[t.rank - (first !== tr ? 1 : 2)];
    if (at.rank < 2 || bt.rank < 2 || inner(at, transposeA, true) !== inner(bt, transposeB, false)) {
      throw new TypeError(`matMul: shapes [${at.shape.join(', ')}]${transposeA ? '^T' : ''} and [${bt.shape.join(', ')}]${transposeB ? '^T' : ''} do not fit`);
    }
    return tf.matMul(at, bt, transposeA, transposeB);
  });
}

/** `log det(L L^T) = 2 sum(log diag L)` from a Cholesky factor (shape `[...]`). */
export function logDetCholesky(l: MatrixLike): tf.Tensor {
  return tf.tidy(() => tf.mul(2, tf.sum(tf.log(diagPart(asMatrix('logDetCholesky', l))), -1)));
}

/**
 * The log determinant of symmetric positive-definite matrices (Stan's
 * `log_determinant_spd`), through {@link cholesky}; shape `[...]`.
 */
export function logDet(a: MatrixLike, options: CholeskyOptions = {}): tf.Tensor {
  return tf.tidy(() => logDetCholesky(cholesky(a, options)));
}
