/**
 * A user `tf.customGrad` op with a surrogate gradient and the same op with its true gradient, and a
 * one-site model around either: the fixtures of the surrogate-gradient checks (VI, SVGD, NUTS).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Normal, model, ops } from '../../src/index.js';

/** clip(x, -1, 1) with the straight-through gradient (wrong outside [-1, 1]). */
export const clipStraightThrough = tf.customGrad(((x: tf.Tensor) => ({ value: tf.clipByValue(x, -1, 1), gradFunc: (dy: tf.Tensor) => dy })) as never) as unknown as (x: tf.Tensor) => tf.Tensor;

/** clip(x, -1, 1) with its true gradient. */
export const clipTrue = tf.customGrad(
  ((x: tf.Tensor) => ({ value: tf.clipByValue(x, -1, 1), gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.cast(tf.logicalAnd(tf.greater(x, -1), tf.less(x, 1)), 'float32')) })) as never,
) as unknown as (x: tf.Tensor) => tf.Tensor;

/** a ~ N(0, 1), y = 3 observed ~ N(op(a), 1). */
export const withOp = (op: (x: tf.Tensor) => tf.Tensor) =>
  model(async ({ sample, observe }) => {
    const a = await sample('a', Normal(0, 1));
    await observe('y', Normal(op(ops.toTensor(a)), 1), 3);
  });
