/**
 * Helpers for distributions whose events are vectors or matrices: reading a
 * value as a tensor with the right event shape, and a log-density that is
 * `-Infinity` (never NaN) outside the support.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Value, asFloat, broadcastShapes, describe } from '../core/value.js';
import type { Constraint } from './constraints.js';

/**
 * `x` as a float tensor whose trailing dimensions equal `eventShape`, or an
 * error naming the distribution, the method and both shapes.
 */
export function eventValue(where: string, x: Value, eventShape: readonly number[]): tf.Tensor {
  const e = eventShape.length;
  const ok = typeof x !== 'number' && x.rank >= e && eventShape.every((d, i) => x.shape[x.rank - e + i] === d);
  if (!ok) {
    throw new Error(`${where}: expected a value whose last ${e === 1 ? 'dimension is' : `${e} dimensions are`} [${eventShape.join(', ')}], got ${describe(x)}`);
  }
  return asFloat(x) as tf.Tensor;
}

/**
 * A log-density over events of rank `support.eventDim` that is `-Infinity`
 * where the event is outside the support or has a non-finite entry. There
 * the value is first replaced by `inside` (a point of the support,
 * broadcastable to `x`), so neither `lp` nor its gradient sees an invalid
 * value.
 */
export function eventLogDensity(support: Constraint, x: tf.Tensor, inside: tf.Tensor, lp: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const e = support.eventDim;
    const axes = Array.from({ length: e }, (_, i) => x.rank - e + i);
    const good = tf.logicalAnd(support.check(x) as tf.Tensor, tf.all(tf.isFinite(x), axes));
    let goodX = good;
    for (let i = 0; i < e; i++) goodX = tf.expandDims(goodX, -1);
    const full = broadcastShapes(x.shape, inside.shape);
    const safe = tf.where(tf.broadcastTo(goodX, full), tf.broadcastTo(x, full), tf.broadcastTo(inside, full));
    const out = lp(safe);
    return tf.where(tf.broadcastTo(good, out.shape), out, tf.fill(out.shape, -Infinity));
  });
}
