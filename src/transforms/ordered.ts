/**
 * Ordered: unconstrained vectors onto strictly increasing vectors.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Value } from '../core/value.js';
import { ordered, realVector } from '../distributions/constraints.js';
import { Bijector, eventTensor } from './bijector.js';
import { sliceLast } from './math.js';

/**
 * `y_1 = x_1`, `y_k = y_(k-1) + exp(x_k)`: R^K onto increasing vectors
 * (Stan's ordered transform); `log|det J| = x_2 + ... + x_K`. Works on
 * tensors of shape `[..., K]`.
 */
export class OrderedBijector extends Bijector {
  readonly name = 'Ordered';
  readonly domain = realVector;
  readonly codomain = ordered;

  forward(x: Value): Value {
    const t = eventTensor(this.name, x, 1);
    const k = t.shape[t.rank - 1];
    if (k <= 1) return t;
    return tf.tidy(() => tf.cumsum(tf.concat([sliceLast(t, 0, 1), tf.exp(sliceLast(t, 1))], t.rank - 1), t.rank - 1));
  }

  inverse(y: Value): Value {
    const t = eventTensor(this.name, y, 1, 'ordered vector');
    const k = t.shape[t.rank - 1];
    if (k <= 1) return t;
    return tf.tidy(() => tf.concat([sliceLast(t, 0, 1), tf.log(tf.sub(sliceLast(t, 1), sliceLast(t, 0, k - 1)))], t.rank - 1));
  }

  logDetJacobian(x: Value): Value {
    const t = eventTensor(this.name, x, 1);
    const k = t.shape[t.rank - 1];
    if (k <= 1) return tf.zeros(t.shape.slice(0, -1));
    return tf.tidy(() => tf.sum(sliceLast(t, 1), -1));
  }
}

/** R^K onto strictly increasing vectors: `y_1 = x_1`, `y_k = y_(k-1) + exp(x_k)`. */
export function Ordered(): OrderedBijector {
  return new OrderedBijector();
}
