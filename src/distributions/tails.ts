/**
 * Value-level (numbers or tensors) tail helpers for the families' `logCdf`,
 * `logSurvival`, `icdfLog` and `isfLog`, over the ground floor's float64 and
 * float32 kernels in `math/log-cdf`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { log1mexpNumber, log1mexpTensor, logDiffExpNumber, logNormalCdfNumber, logNormalCdfTensor, normalIcdfLogNumber, normalIcdfLogTensor } from '../math/log-cdf.js';
import { logErfcNumber, logErfcPositiveTensor } from '../math/special.js';
import { type Value, broadcastShapes, toTensor } from '../core/value.js';

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** log 2. */
export const LN2 = Math.LN2;

/** `num` of the numbers when every argument is a number, else `ten` of the tensors (numbers become scalars), tidied. */
export function valueOp(args: readonly Value[], num: (...x: number[]) => number, ten: (...x: tf.Tensor[]) => Value): Value {
  if (args.every((a) => typeof a === 'number')) return num(...(args as number[]));
  return tf.tidy(() => {
    const ts = args.map(toTensor);
    const shape = ts.reduce<number[]>((s, t) => broadcastShapes(s, t.shape, 'valueOp'), []);
    return toTensor(ten(...ts.map((t) => (sameShape(t.shape, shape) ? t : tf.broadcastTo(t, shape)))));
  });
}

/** log(1 - e^a) for a <= 0 (numbers in float64, tensors differentiable). */
export function log1mexp(a: Value): Value {
  return valueOp([a], log1mexpNumber, log1mexpTensor);
}

/**
 * log(e^a - e^b) for a >= b (numbers in float64; tensors differentiable,
 * -Infinity where a = b and a where b = -Infinity).
 */
export function logDiffExp(a: Value, b: Value): Value {
  return valueOp([a, b], logDiffExpNumber, (ta, tb) => {
    const bInf = tf.equal(tb, -Infinity);
    // a finite difference for the branch where b = -Infinity, so its gradient stays finite
    const d = tf.where(bInf, tf.fill(tb.shape, -1), tf.sub(tb, ta));
    return tf.where(bInf, tf.add(ta, tf.zerosLike(d)), tf.add(ta, log1mexpTensor(d)));
  });
}

/** log Phi(z), the log standard normal cdf, accurate in both tails (see `logNormalCdfNumber`, `logNormalCdfTensor`). */
export function logNormalCdf(z: Value): Value {
  return valueOp([z], logNormalCdfNumber, logNormalCdfTensor);
}

/** log erfc(y) for y >= 0, finite where erfc underflows. */
export function logErfc(y: Value): Value {
  return valueOp([y], logErfcNumber, logErfcPositiveTensor);
}

/**
 * Phi^-1(e^lp), the standard normal quantile of a log-probability lp <= 0;
 * finite wherever lp is (tensors: the lower half directly, the upper half by
 * reflection through log(1 - e^lp)).
 */
export function normalIcdfLog(lp: Value): Value {
  return valueOp([lp], normalIcdfLogNumber, (t) => {
    const upper = tf.greater(t, -LN2);
    const reflected = tf.neg(normalIcdfLogTensor(log1mexpTensor(tf.maximum(t, -LN2))));
    return tf.where(upper, reflected, normalIcdfLogTensor(t));
  });
}

/**
 * A count family's cdf-like function of k (cdf, log-cdf or log-survival):
 * `below` where k < 0, else `num` / `ten` of the parameters and floor(k)
 * (numbers in float64; tensors with the parameters broadcast against k).
 */
export function countTail(
  params: readonly Value[],
  k: Value,
  num: (...x: number[]) => number,
  ten: (...x: tf.Tensor[]) => Value,
  below: number,
): Value {
  return valueOp(
    [...params, k],
    (...xs) => {
      const j = xs[xs.length - 1]!;
      return Number.isNaN(j) ? NaN : j < 0 ? below : num(...xs.slice(0, -1), Math.floor(j));
    },
    (...ts) => {
      const j = ts[ts.length - 1]!;
      const inside = toTensor(ten(...ts.slice(0, -1), tf.floor(tf.maximum(j, 0))));
      return tf.where(tf.less(j, 0), tf.fill(inside.shape, below), inside);
    },
  );
}
