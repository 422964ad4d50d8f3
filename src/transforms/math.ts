/**
 * Small polymorphic (number | tensor) helpers shared by the bijectors.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Value, broadcastShapes, log, log1p, mul, neg, shapeOf, softplus, sub, toTensor } from '../core/value.js';

const LN2 = Math.LN2;

/** `log(p / (1 - p))`. */
export function logit(p: Value): Value {
  return sub(log(p), log1p(neg(p)));
}

/** `atanh(z) = (log1p(z) - log1p(-z)) / 2`. */
export function atanh(z: Value): Value {
  return mul(0.5, sub(log1p(z), log1p(neg(z))));
}

/** `log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x))`, stable for large |x|. */
export function logOneMinusTanhSq(x: Value): Value {
  return mul(2, sub(sub(LN2, x), softplus(mul(-2, x))));
}

/**
 * `v` broadcast to the common shape of `v` and `others` (a number when all
 * are numbers). Used so an elementwise log-Jacobian has the full batch shape.
 */
export function broadcastLike(v: Value, ...others: Value[]): Value {
  if (typeof v === 'number' && others.every((o) => typeof o === 'number')) return v;
  let shape = shapeOf(v);
  for (const o of others) shape = broadcastShapes(shape, shapeOf(o), 'bijector');
  const t = toTensor(v);
  return shape.length === t.rank && shape.every((d, i) => d === t.shape[i]) ? t : tf.broadcastTo(t, shape);
}

/** Entries `begin .. begin+size-1` of the last axis of `t` (size -1: to the end). */
export function sliceLast(t: tf.Tensor, begin: number, size = -1): tf.Tensor {
  const b = t.shape.map((_, i) => (i === t.rank - 1 ? begin : 0));
  const s = t.shape.map((d, i) => (i === t.rank - 1 ? size : d));
  return tf.slice(t, b, s);
}

/** `t` with `n` entries equal to `value` appended on its last axis. */
export function padLast(t: tf.Tensor, n: number, value = 0): tf.Tensor {
  return tf.concat([t, tf.fill([...t.shape.slice(0, -1), n], value)], t.rank - 1);
}

/**
 * `fn()` inside `tf.tidy` when `x` is a tensor (intermediates are freed), or
 * called directly for numbers so the scalar path pays no tensor overhead.
 */
export function tidyValue<T extends Value>(x: Value, fn: () => T): T {
  return typeof x === 'number' ? fn() : tf.tidy(fn);
}
