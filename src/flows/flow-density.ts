/**
 * Densities of a flow with a standard normal base: pushing base draws
 * forward with the summed log-Jacobian, and the log density of a point by the
 * inverses. Its own module so that `flow.ts` (fitting) and
 * `flow-distribution.ts` (the distribution) both import it without importing
 * each other.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { toTensor } from '../core/value.js';
import type { FlowBijector } from './flow-bijector.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** log N(u; 0, I) over the last axis. */
export function standardNormalLogDensity(u: tf.Tensor): tf.Tensor {
  const d = u.shape[u.rank - 1]!;
  return tf.mul(tf.add(tf.sum(tf.square(u), -1), d * LOG_2PI), -0.5);
}

/** Push base draws `u` through the flow: the output and the summed forward log|det J|. */
export function pushForward(flow: readonly FlowBijector[], u: tf.Tensor): { y: tf.Tensor; logDet: tf.Tensor } {
  let x = u;
  let logDet: tf.Tensor = tf.zeros(u.shape.slice(0, -1));
  for (const b of flow) {
    const y = toTensor(b.forward(x));
    logDet = tf.add(logDet, toTensor(b.logDetJacobian(x, y)));
    x = y;
  }
  return { y: x, logDet };
}

/** log density of `y` under the flow with a standard normal base (inverses, top layer first). */
export function flowLogProb(flow: readonly FlowBijector[], y: tf.Tensor): tf.Tensor {
  let x = y;
  let logDet: tf.Tensor = tf.zeros(y.shape.slice(0, -1));
  for (let i = flow.length - 1; i >= 0; i--) {
    const b = flow[i]!;
    const prev = toTensor(b.inverse(x));
    logDet = tf.add(logDet, toTensor(b.logDetJacobian(prev, x)));
    x = prev;
  }
  return tf.sub(standardNormalLogDensity(x), logDet);
}
