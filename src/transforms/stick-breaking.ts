/**
 * Stick-breaking: unconstrained vectors of length K-1 onto the K-simplex.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Value } from '../core/value.js';
import { realVector, simplex } from '../distributions/constraints.js';
import { Bijector, eventTensor } from './bijector.js';
import { sliceLast } from './math.js';

/** `[log(n), log(n-1), ..., log(1)]`: the offsets that send x = 0 to the uniform simplex. */
function offsets(n: number): tf.Tensor {
  return tf.tensor1d(Array.from({ length: n }, (_, k) => Math.log(n - k)));
}

/**
 * Stan's stick-breaking transform, R^(K-1) to the K-simplex:
 * `z_k = sigmoid(x_k - log(K - k))` (k = 1..K-1) is the fraction of the
 * remaining stick taken by `y_k = z_k (1 - y_1 - ... - y_(k-1))`, and `y_K`
 * is what is left. The offset makes `x = 0` map to the uniform simplex.
 * `log|det J| = sum_k [log z_k + log(1 - z_k) + log(remaining stick before k)]`,
 * the Jacobian of the first K-1 (free) coordinates of `y`. Computed in log
 * space, so every entry of `y` is positive. Works on tensors of shape
 * `[..., K-1]` (batched over leading axes).
 */
export class StickBreakingBijector extends Bijector {
  readonly name = 'StickBreaking';
  readonly domain = realVector;
  readonly codomain = simplex;

  /** Per-entry logs: `log z`, `log(1 - z)` and `log` of the stick remaining before each break. */
  private pieces(x: tf.Tensor): { logZ: tf.Tensor; log1mZ: tf.Tensor; logRest: tf.Tensor } {
    const n = x.shape[x.rank - 1];
    const t = tf.sub(x, offsets(n));
    // log sigmoid(t) = -softplus(-t); tf.logSigmoid's custom gradient breaks under tf.tidy
    const log1mZ = tf.neg(tf.softplus(t));
    return { logZ: tf.neg(tf.softplus(tf.neg(t))), log1mZ, logRest: tf.cumsum(log1mZ, x.rank - 1, true) };
  }

  forward(x: Value): Value {
    const t = eventTensor(this.name, x, 1);
    return tf.tidy(() => {
      if (t.shape[t.rank - 1] === 0) return tf.ones([...t.shape.slice(0, -1), 1]);
      const { logZ, log1mZ, logRest } = this.pieces(t);
      const logLast = tf.sum(log1mZ, -1, true);
      return tf.exp(tf.concat([tf.add(logZ, logRest), logLast], t.rank - 1));
    });
  }

  /** `x_k = log y_k - log(y_(k+1) + ... + y_K) + log(K - k)`. */
  inverse(y: Value): Value {
    const t = eventTensor(this.name, y, 1, 'simplex vector');
    return tf.tidy(() => {
      const k = t.shape[t.rank - 1];
      const tail = tf.cumsum(t, t.rank - 1, true, true);
      const x = tf.sub(tf.log(sliceLast(t, 0, k - 1)), tf.log(sliceLast(tail, 0, k - 1)));
      return tf.add(x, offsets(k - 1));
    });
  }

  logDetJacobian(x: Value): Value {
    const t = eventTensor(this.name, x, 1);
    return tf.tidy(() => {
      if (t.shape[t.rank - 1] === 0) return tf.zeros(t.shape.slice(0, -1));
      const { logZ, log1mZ, logRest } = this.pieces(t);
      return tf.sum(tf.add(tf.add(logZ, log1mZ), logRest), -1);
    });
  }

  override forwardShape(shape: readonly number[]): number[] {
    if (shape.length < 1) throw new Error(`${this.name}: expected a vector shape, got []`);
    return [...shape.slice(0, -1), shape[shape.length - 1] + 1];
  }
  override inverseShape(shape: readonly number[]): number[] {
    if (shape.length < 1 || shape[shape.length - 1] < 1) throw new Error(`${this.name}: expected a simplex shape [..., K] with K >= 1, got [${shape.join(', ')}]`);
    return [...shape.slice(0, -1), shape[shape.length - 1] - 1];
  }
}

/** Stick-breaking from R^(K-1) onto the K-simplex (0 maps to the uniform simplex). */
export function StickBreaking(): StickBreakingBijector {
  return new StickBreakingBijector();
}
