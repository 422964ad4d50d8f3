/**
 * Special functions for numbers (float64) and tensors (differentiable tfjs ops).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Value } from './value.js';

// Lanczos approximation, g = 7, n = 9 (relative error ~1e-15 in float64).
const LANCZOS_G = 7;
const LANCZOS_C = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** log|Gamma(x)| for a number. */
export function lgammaNumber(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return Infinity;
  if (x <= 0 && Number.isInteger(x)) return Infinity;
  if (x < 0.5) {
    // reflection: Gamma(x) Gamma(1-x) = pi / sin(pi x)
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgammaNumber(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS_C[0];
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS_C.length; i++) a += LANCZOS_C[i] / (z + i);
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * log Gamma(x) for a tensor with x > 0 (differentiable). Uses the recurrence
 * to move small arguments above 0.5 and the Lanczos series there.
 */
export function lgammaTensor(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // for 0 < x < 0.5 use lgamma(x) = lgamma(x + 1) - log(x)
    const small = tf.less(x, 0.5);
    const xs = tf.where(small, tf.add(x, 1), x);
    const z = tf.sub(xs, 1);
    let a: tf.Tensor = tf.fill(z.shape, LANCZOS_C[0]);
    for (let i = 1; i < LANCZOS_C.length; i++) a = tf.add(a, tf.div(LANCZOS_C[i], tf.add(z, i)));
    const t = tf.add(z, LANCZOS_G + 0.5);
    const lg = tf.add(tf.sub(tf.mul(tf.add(z, 0.5), tf.log(t)), t), tf.add(tf.log(a), HALF_LOG_2PI));
    return tf.where(small, tf.sub(lg, tf.log(tf.where(small, x, tf.onesLike(x)))), lg);
  });
}

/** log Gamma(x), for numbers or tensors. */
export function lgamma(x: Value): Value {
  return typeof x === 'number' ? lgammaNumber(x) : lgammaTensor(x);
}

/** log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b). */
export function logBeta(a: Value, b: Value): Value {
  if (typeof a === 'number' && typeof b === 'number') return lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b);
  return tf.tidy(() => {
    const ta = typeof a === 'number' ? tf.scalar(a) : a;
    const tb = typeof b === 'number' ? tf.scalar(b) : b;
    return tf.sub(tf.add(lgammaTensor(ta), lgammaTensor(tb)), lgammaTensor(tf.add(ta, tb)));
  });
}

/** log(n choose k), for numbers or tensors. */
export function logChoose(n: Value, k: Value): Value {
  if (typeof n === 'number' && typeof k === 'number') return lgammaNumber(n + 1) - lgammaNumber(k + 1) - lgammaNumber(n - k + 1);
  return tf.tidy(() => {
    const tn = typeof n === 'number' ? tf.scalar(n) : n;
    const tk = typeof k === 'number' ? tf.scalar(k) : k;
    return tf.sub(lgammaTensor(tf.add(tn, 1)), tf.add(lgammaTensor(tf.add(tk, 1)), lgammaTensor(tf.add(tf.sub(tn, tk), 1))));
  });
}
