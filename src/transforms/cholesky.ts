/**
 * Cholesky bijectors: LowerCholesky (unconstrained vectors onto Cholesky
 * factors) and CholeskyOuterProduct (Cholesky factors onto positive-definite
 * matrices), plus a differentiable batched Cholesky decomposition.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Value } from '../core/value.js';
import { lowerCholesky, positiveDefinite, realVector } from '../distributions/constraints.js';
import { Bijector, eventTensor } from './bijector.js';
import { sliceLast } from './math.js';
import { diagonal, packLower, squareSide, triangleSide, triangleSize, unpackLower } from './triangular.js';

/**
 * The lower Cholesky factor `L` of symmetric positive-definite matrices `a`
 * of shape `[..., K, K]` (so `a = L L^T`), built column by column from
 * differentiable tfjs ops (tfjs has no Cholesky kernel). Matrices that are
 * not positive definite give NaN entries.
 */
export function cholesky(a: tf.Tensor): tf.Tensor {
  const k = squareSide('cholesky', a);
  return tf.tidy(() => {
    const cols: tf.Tensor[] = [];
    const batch = a.shape.slice(0, -2);
    for (let j = 0; j < k; j++) {
      // column j of a (a is symmetric, so row j will do)
      let s = tf.reshape(tf.gather(a, tf.tensor1d([j], 'int32'), a.rank - 2), [...batch, k]);
      for (let p = 0; p < j; p++) s = tf.sub(s, tf.mul(cols[p], sliceLast(cols[p], j, 1)));
      const d = tf.sqrt(sliceLast(s, j, 1));
      const below = tf.tensor1d(Array.from({ length: k }, (_, i) => (i >= j ? 1 : 0)));
      cols.push(tf.mul(tf.div(s, d), below));
    }
    return tf.stack(cols, a.rank - 1);
  });
}

/**
 * R^(K(K+1)/2) onto lower-triangular matrices with positive diagonal. The
 * input packs the strictly lower entries row by row (`(1,0), (2,0), (2,1),
 * ...`) and then the K log-diagonal entries, as NumPyro's
 * `LowerCholeskyTransform`; `L_ii = exp(x)`, so `log|det J|` is the sum of
 * the last K inputs. Works on tensors `[..., K(K+1)/2]` -> `[..., K, K]`.
 */
export class LowerCholeskyBijector extends Bijector {
  readonly name = 'LowerCholesky';
  readonly domain = realVector;
  readonly codomain = lowerCholesky;

  forward(x: Value): Value {
    const t = eventTensor(this.name, x, 1);
    const k = triangleSide(this.name, t.shape[t.rank - 1], false);
    return tf.tidy(() => {
      const off = unpackLower(sliceLast(t, 0, triangleSize(k, true)), k, true);
      const diag = tf.mul(tf.expandDims(tf.exp(sliceLast(t, triangleSize(k, true))), -1), tf.eye(k));
      return tf.add(off, diag);
    });
  }

  inverse(y: Value): Value {
    const t = eventTensor(this.name, y, 2, 'lower-triangular matrix');
    squareSide(this.name, t);
    return tf.tidy(() => tf.concat([packLower(t, true), tf.log(diagonal(t))], t.rank - 2));
  }

  logDetJacobian(x: Value): Value {
    const t = eventTensor(this.name, x, 1);
    const k = triangleSide(this.name, t.shape[t.rank - 1], false);
    return tf.tidy(() => tf.sum(sliceLast(t, triangleSize(k, true)), -1));
  }

  override forwardShape(shape: readonly number[]): number[] {
    if (shape.length < 1) throw new Error(`${this.name}: expected a vector shape, got []`);
    const k = triangleSide(this.name, shape[shape.length - 1], false);
    return [...shape.slice(0, -1), k, k];
  }
  override inverseShape(shape: readonly number[]): number[] {
    if (shape.length < 2) throw new Error(`${this.name}: expected a matrix shape, got [${shape.join(', ')}]`);
    return [...shape.slice(0, -2), triangleSize(shape[shape.length - 1], false)];
  }
}

/**
 * `A = L L^T`: Cholesky factors onto symmetric positive-definite matrices.
 * The Jacobian from the lower triangle of `L` to the lower triangle of `A`
 * has `log|det J| = K log 2 + sum_i (K - i) log L_ii` (i = 0..K-1). The
 * inverse is a Cholesky decomposition. Tensors `[..., K, K]` only.
 */
export class CholeskyOuterProductBijector extends Bijector {
  readonly name = 'CholeskyOuterProduct';
  readonly domain = lowerCholesky;
  readonly codomain = positiveDefinite;

  forward(x: Value): Value {
    const t = eventTensor(this.name, x, 2, 'lower-triangular matrix');
    squareSide(this.name, t);
    return tf.matMul(t, t, false, true);
  }

  inverse(y: Value): Value {
    return cholesky(eventTensor(this.name, y, 2, 'positive-definite matrix'));
  }

  logDetJacobian(x: Value): Value {
    const t = eventTensor(this.name, x, 2, 'lower-triangular matrix');
    const k = squareSide(this.name, t);
    return tf.tidy(() => {
      const powers = tf.tensor1d(Array.from({ length: k }, (_, i) => k - i));
      return tf.add(tf.sum(tf.mul(powers, tf.log(diagonal(t))), -1), k * Math.LN2);
    });
  }
}

/** R^(K(K+1)/2) onto lower-triangular matrices with positive (exp) diagonal. */
export function LowerCholesky(): LowerCholeskyBijector {
  return new LowerCholeskyBijector();
}
/** `L -> L L^T`, Cholesky factors onto positive-definite matrices. */
export function CholeskyOuterProduct(): CholeskyOuterProductBijector {
  return new CholeskyOuterProductBijector();
}
