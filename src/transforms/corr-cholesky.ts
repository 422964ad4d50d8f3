/**
 * CorrCholesky: unconstrained vectors onto Cholesky factors of correlation
 * matrices.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Value } from '../core/value.js';
import { corrCholesky, realVector } from '../distributions/constraints.js';
import { Bijector, eventTensor } from './bijector.js';
import { atanh, logOneMinusTanhSq } from './math.js';
import { packLower, squareSide, strictLowerMask, triangleSide, triangleSize, unpackLower } from './triangular.js';

/**
 * R^(K(K-1)/2) onto Cholesky factors of K x K correlation matrices (Stan's
 * and NumPyro's construction). The inputs, packed row by row into the strict
 * lower triangle, become partial correlations `z = tanh(x)`; each row is then
 * a stick broken on the unit sphere:
 * `L_ij = z_ij sqrt(1 - L_i0^2 - ... - L_i(j-1)^2)` for j < i and
 * `L_ii = sqrt(1 - L_i0^2 - ... - L_i(i-1)^2)`, so rows have unit norm. With
 * `1 - sum_(k<j) L_ik^2 = prod_(k<j) (1 - z_ik^2)`,
 * `log|det J| = sum_(i>j) [log(1 - z_ij^2) + (1/2) sum_(k<j) log(1 - z_ik^2)]`,
 * the Jacobian of the strictly lower (free) entries of `L`. Tensors
 * `[..., K(K-1)/2]` -> `[..., K, K]`.
 */
export class CorrCholeskyBijector extends Bijector {
  readonly name = 'CorrCholesky';
  readonly domain = realVector;
  readonly codomain = corrCholesky;

  /** `log` of the squared stick remaining before each entry: `sum_(k<j) log(1 - z_ik^2)`, shape `[..., K, K]`. */
  private logRemaining(x: tf.Tensor, k: number): tf.Tensor {
    return tf.cumsum(unpackLower(logOneMinusTanhSq(x) as tf.Tensor, k, true), x.rank, true);
  }

  forward(x: Value): Value {
    const t = eventTensor(this.name, x, 1);
    const k = triangleSide(this.name, t.shape[t.rank - 1], true);
    return tf.tidy(() => {
      const z = tf.add(unpackLower(tf.tanh(t), k, true), tf.eye(k));
      return tf.mul(z, tf.exp(tf.mul(0.5, this.logRemaining(t, k))));
    });
  }

  /** `z_ij = L_ij / sqrt(L_ij^2 + ... + L_ii^2)` (the row's norm from j on), `x = atanh(z)`. */
  inverse(y: Value): Value {
    const t = eventTensor(this.name, y, 2, 'correlation Cholesky factor');
    const k = squareSide(this.name, t);
    return tf.tidy(() => {
      // entries above the diagonal have nothing left of the row; add 1 there to keep 0/0 out of the graph
      const upper = tf.sub(1, tf.linalg.bandPart(tf.ones([k, k]), -1, 0));
      const rest = tf.add(tf.cumsum(tf.square(t), t.rank - 1, false, true), upper);
      return atanh(packLower(tf.div(t, tf.sqrt(rest)), true)) as tf.Tensor;
    });
  }

  logDetJacobian(x: Value): Value {
    const t = eventTensor(this.name, x, 1);
    const k = triangleSide(this.name, t.shape[t.rank - 1], true);
    return tf.tidy(() => {
      const stick = tf.sum(tf.mul(this.logRemaining(t, k), strictLowerMask(k)), [-2, -1]);
      return tf.add(tf.mul(0.5, stick), tf.sum(logOneMinusTanhSq(t) as tf.Tensor, -1));
    });
  }

  override forwardShape(shape: readonly number[]): number[] {
    if (shape.length < 1) throw new Error(`${this.name}: expected a vector shape, got []`);
    const k = triangleSide(this.name, shape[shape.length - 1], true);
    return [...shape.slice(0, -1), k, k];
  }
  override inverseShape(shape: readonly number[]): number[] {
    if (shape.length < 2) throw new Error(`${this.name}: expected a matrix shape, got [${shape.join(', ')}]`);
    return [...shape.slice(0, -2), triangleSize(shape[shape.length - 1], true)];
  }
}

/** R^(K(K-1)/2) onto Cholesky factors of correlation matrices (tanh, then stick-breaking on rows). */
export function CorrCholesky(): CorrCholeskyBijector {
  return new CorrCholeskyBijector();
}
