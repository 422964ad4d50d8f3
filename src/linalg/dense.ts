/**
 * Small dense linear algebra on batched tensors, written with differentiable
 * tfjs ops (tfjs has no Cholesky or triangular solve).
 *
 * Matrices have shape `[..., n, n]` and vectors `[..., n]`; leading (batch)
 * dimensions broadcast between arguments. Each routine loops over the `n`
 * rows or columns with a handful of vectorised ops per step, so the cost is
 * O(n) tfjs dispatches: meant for the event sizes of multivariate
 * distributions (a few to a few dozen), not for large matrices.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** `x[..., start:start+size]` along the last axis. */
export function sliceLast(x: tf.Tensor, start: number, size: number): tf.Tensor {
  const begin = x.shape.map((_, i) => (i === x.rank - 1 ? start : 0));
  const sizes = x.shape.map((d, i) => (i === x.rank - 1 ? size : d));
  return tf.slice(x, begin, sizes);
}

/** `x[..., i]`: entry `i` of the last axis, which is dropped. */
export function entryLast(x: tf.Tensor, i: number): tf.Tensor {
  return tf.squeeze(sliceLast(x, i, 1), [x.rank - 1]);
}

/** `m[..., i, :]`: row `i` of a batch of matrices. */
export function row(m: tf.Tensor, i: number): tf.Tensor {
  const begin = m.shape.map((_, k) => (k === m.rank - 2 ? i : 0));
  const sizes = m.shape.map((d, k) => (k === m.rank - 2 ? 1 : d));
  return tf.squeeze(tf.slice(m, begin, sizes), [m.rank - 2]);
}

/** Swap the last two axes. */
export function transposeLast(m: tf.Tensor): tf.Tensor {
  const perm = m.shape.map((_, i) => i);
  perm[m.rank - 2] = m.rank - 1;
  perm[m.rank - 1] = m.rank - 2;
  return tf.transpose(m, perm);
}

/** The diagonal `[..., n]` of a batch of square matrices. */
export function diagPart(m: tf.Tensor): tf.Tensor {
  const n = m.shape[m.rank - 1];
  return tf.sum(tf.mul(m, tf.eye(n)), -1);
}

/** Matrix-vector product `m v` with broadcasting batch dimensions. */
export function matVec(m: tf.Tensor, v: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(m, tf.expandDims(v, -2)), -1);
}

/** `l l^T` for a batch of matrices. */
export function gram(l: tf.Tensor): tf.Tensor {
  return tf.matMul(l, l, false, true);
}

/**
 * The lower Cholesky factor `L` of a batch of symmetric positive-definite
 * matrices (`a = L L^T`), column by column. Only the lower triangle of `a` is
 * read. A matrix that is not positive definite gives NaN entries.
 */
export function cholesky(a: tf.Tensor): tf.Tensor {
  const n = a.shape[a.rank - 1];
  return tf.tidy(() => {
    const cols: tf.Tensor[] = [];
    for (let j = 0; j < n; j++) {
      // v_i = a_ij - sum_{k<j} L_ik L_jk, for all rows i at once
      let v = entryLast(a, j);
      if (j > 0) {
        const prev = tf.stack(cols, -1); // [..., n, j]
        v = tf.sub(v, matVec(prev, row(prev, j)));
      }
      const below = tf.tensor1d(Array.from({ length: n }, (_, i) => (i >= j ? 1 : 0)));
      const col = tf.div(v, tf.expandDims(tf.sqrt(entryLast(v, j)), -1));
      cols.push(tf.mul(col, below));
    }
    return tf.stack(cols, -1);
  });
}

/**
 * Solve `L z = b` by forward substitution, for lower-triangular `L`
 * (`[..., n, n]`) and right-hand sides `b` (`[..., n]`); batch dimensions
 * broadcast. Only the lower triangle of `L` is read.
 */
export function solveLower(l: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const n = l.shape[l.rank - 1];
  return tf.tidy(() => {
    const zs: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const li = row(l, i); // [..., n]
      let r = entryLast(b, i);
      if (i > 0) r = tf.sub(r, tf.sum(tf.mul(sliceLast(li, 0, i), tf.stack(zs, -1)), -1));
      zs.push(tf.div(r, entryLast(li, i)));
    }
    return tf.stack(zs, -1);
  });
}

/** The inverse of a batch of lower-triangular matrices (itself lower triangular). */
export function lowerInverse(l: tf.Tensor): tf.Tensor {
  const n = l.shape[l.rank - 1];
  // column c of L^-1 solves L x = e_c: solve for all columns as an extra batch axis
  return tf.tidy(() => transposeLast(solveLower(tf.expandDims(l, -3), tf.eye(n))));
}

/**
 * The lower Cholesky factor of the inverse of a batch of SPD matrices `p`
 * (e.g. a covariance factor from a precision matrix), without forming the
 * inverse: with J the reversal permutation and `J p J = C C^T`, the factor is
 * `J C^-T J`.
 */
export function choleskyOfInverse(p: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const flip = (m: tf.Tensor) => tf.reverse(m, [m.rank - 2, m.rank - 1]);
    const c = cholesky(flip(p));
    return flip(transposeLast(lowerInverse(c)));
  });
}
