/**
 * Packing and unpacking of (strictly) lower-triangular matrices as vectors,
 * for the Cholesky-type bijectors. Entries are packed row by row:
 * `(1,0), (2,0), (2,1), ...` for the strict lower triangle and
 * `(0,0), (1,0), (1,1), ...` with the diagonal. Both directions are one
 * `gather`, so they are differentiable and batched over leading axes.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** Number of packed entries of a K x K lower triangle. */
export function triangleSize(k: number, strict: boolean): number {
  return strict ? (k * (k - 1)) / 2 : (k * (k + 1)) / 2;
}

/** The side K of the matrix whose (strict) lower triangle has `m` entries, or an error naming `who`. */
export function triangleSide(who: string, m: number, strict: boolean): number {
  const k = strict ? (1 + Math.sqrt(1 + 8 * m)) / 2 : (-1 + Math.sqrt(1 + 8 * m)) / 2;
  const r = Math.round(k);
  if (triangleSize(r, strict) !== m || r < 1) {
    const form = strict ? 'K(K-1)/2' : 'K(K+1)/2';
    throw new Error(`${who}: the input's last axis has ${m} entries, which is not ${form} for any integer K >= 1`);
  }
  return r;
}

/** Flat positions `i*K + j` of the packed entries, in packing order. */
function packedPositions(k: number, strict: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < k; i++) for (let j = 0; j <= (strict ? i - 1 : i); j++) out.push(i * k + j);
  return out;
}

/** For each of the K*K flat positions: 1 + its packed index, or 0 outside the triangle. */
function unpackIndex(k: number, strict: boolean): number[] {
  const idx = new Array<number>(k * k).fill(0);
  packedPositions(k, strict).forEach((pos, n) => (idx[pos] = n + 1));
  return idx;
}

/**
 * The K x K matrix (zeros outside the triangle) whose (strict) lower
 * triangle is the packed vector `v` of shape `[..., m]`; returns `[..., K, K]`.
 */
export function unpackLower(v: tf.Tensor, k: number, strict: boolean): tf.Tensor {
  return tf.tidy(() => {
    const padded = tf.concat([tf.zeros([...v.shape.slice(0, -1), 1]), v], -1);
    return tf.gather(padded, tf.tensor2d(unpackIndex(k, strict), [k, k], 'int32'), padded.rank - 1);
  });
}

/** The packed (strict) lower triangle of `m` of shape `[..., K, K]`; returns `[..., m]`. */
export function packLower(m: tf.Tensor, strict: boolean): tf.Tensor {
  const k = m.shape[m.rank - 1];
  return tf.tidy(() => {
    const flat = tf.reshape(m, [...m.shape.slice(0, -2), k * k]);
    return tf.gather(flat, tf.tensor1d(packedPositions(k, strict), 'int32'), flat.rank - 1);
  });
}

/** The diagonal of `m` of shape `[..., K, K]`; returns `[..., K]`. */
export function diagonal(m: tf.Tensor): tf.Tensor {
  const k = m.shape[m.rank - 1];
  return tf.tidy(() => {
    const flat = tf.reshape(m, [...m.shape.slice(0, -2), k * k]);
    return tf.gather(flat, tf.tensor1d(Array.from({ length: k }, (_, i) => i * k + i), 'int32'), flat.rank - 1);
  });
}

/** A constant K x K mask: 1 strictly below the diagonal, 0 elsewhere. */
export function strictLowerMask(k: number): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.linalg.bandPart(tf.ones([k, k]), -1, 0), tf.eye(k)));
}

/** Throw unless `m` has shape `[..., K, K]`. */
export function squareSide(who: string, m: tf.Tensor): number {
  const k = m.shape[m.rank - 1];
  if (m.rank < 2 || m.shape[m.rank - 2] !== k) throw new Error(`${who}: expected square matrices [..., K, K], got shape [${m.shape.join(', ')}]`);
  return k;
}
