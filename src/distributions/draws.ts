/**
 * Helpers shared by the scalar continuous families: standard draws made in
 * float64 from an {@link Rng} and uploaded as float32 tensors, and a safe
 * log-density wrapper that masks values outside the support.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, allTrueIfCheap, broadcastShapes, shapeOf, sizeOf, where } from '../core/value.js';
import type { Constraint } from './constraints.js';

/**
 * Draws of a shape from a scalar generator: a plain number for shape `[]`,
 * otherwise a float32 tensor filled in row-major order.
 */
export function standardDraws(rng: Rng, shape: readonly number[], draw: (rng: Rng) => number): Value {
  if (shape.length === 0) return draw(rng);
  const out = new Float32Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = draw(rng);
  return tf.tensor(out, shape as number[]);
}

/** One standard Cauchy draw, tan(pi (u - 1/2)). */
export function standardCauchy(rng: Rng): number {
  return Math.tan(Math.PI * (rng.uniform() - 0.5));
}

/** One standard exponential draw, -log(u). */
export function standardExponential(rng: Rng): number {
  return -Math.log(rng.uniform());
}

/** One standard Laplace draw (difference of two-sided exponentials by inversion). */
export function standardLaplace(rng: Rng): number {
  const v = rng.uniform() - 0.5;
  return v < 0 ? Math.log1p(2 * v) : -Math.log1p(-2 * v);
}

/** A value broadcast to a batch shape (numbers stay numbers when the batch is `[]`). */
export function toBatchShape(v: Value, batchShape: readonly number[]): Value {
  if (typeof v === 'number' && batchShape.length === 0) return v;
  return tf.broadcastTo(typeof v === 'number' ? tf.scalar(v) : v, broadcastShapes(shapeOf(v), batchShape));
}

/**
 * A log-density that is `-Infinity` outside the support and at infinite
 * values, never NaN, and has finite gradients everywhere.
 *
 * `lp` computes the log-density for values inside the support. Where a value
 * is outside, it is first replaced by `inside` (any point of the support), so
 * neither `lp` nor its gradient sees an invalid value; the result is then
 * masked to `-Infinity` there. Numbers in, numbers out.
 */
export function logDensity(support: Constraint, x: Value, inside: Value, lp: (x: Value) => Value): Value {
  const ok = support.check(x);
  if (typeof ok === 'boolean') {
    // x is a number and the support's bounds are numbers
    if (ok && Number.isFinite(x)) return lp(x);
    const at = lp(inside);
    return typeof at === 'number' ? -Infinity : tf.fill(at.shape, -Infinity);
  }
  return tf.tidy(() => {
    const finite = typeof x === 'number' ? Number.isFinite(x) : tf.isFinite(x);
    const good = typeof finite === 'boolean' ? (finite ? ok : tf.zerosLike(ok)) : tf.logicalAnd(ok, finite);
    if (allTrueIfCheap(good)) {
      // every value is valid (the usual case, e.g. in HMC): no masking ops to run or differentiate
      const out = lp(x);
      const t = typeof out === 'number' ? tf.scalar(out) : out;
      const shape = broadcastShapes(good.shape, t.shape);
      return shape.length === t.rank && shape.every((d, i) => d === t.shape[i]) ? t : tf.broadcastTo(t, shape);
    }
    const safe = where(good, x, inside);
    const out = where(good, lp(safe), -Infinity);
    return typeof out === 'number' ? tf.scalar(out) : out;
  });
}
