/**
 * Helpers shared by the integer-valued families: cached enumeration ranges,
 * log-factorials, a `0 * log 0 = 0` safe product, and the per-element choice
 * between a direct and a saddle-point form of a mass at large counts.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { lgammaNumber } from '../core/special.js';
import { type Value, allTrueIfCheap, mul, where, eq, log, log1p, neg, toTensor } from '../core/value.js';
import { type IntervalConstraint, integerInterval } from './constraints.js';

const RANGE_CACHE_LIMIT = 4096;
const rangeCache: (readonly number[] | undefined)[] = [];

/**
 * The integers `0, 1, ..., n - 1` as a frozen array of plain numbers.
 *
 * Arrays up to length 4096 are cached, so the enumeration engine, which asks a
 * site for its support on every execution, allocates nothing. Callers must not
 * mutate the result (it is frozen).
 */
export function integerRange(n: number): Value[] {
  if (n <= RANGE_CACHE_LIMIT) {
    const hit = rangeCache[n];
    if (hit !== undefined) return hit as Value[];
  }
  const out = Object.freeze(Array.from({ length: n }, (_, i) => i));
  if (n <= RANGE_CACHE_LIMIT) rangeCache[n] = out;
  return out as Value[];
}

const supportCache = new Map<number, IntervalConstraint>();

/**
 * The support `integerInterval(0, upper)`. For number bounds the constraint
 * is cached and shared, so constructing a distribution in a hot loop does not
 * rebuild it; tensor bounds get a fresh constraint.
 */
export function countSupport(upper: Value): IntervalConstraint {
  if (typeof upper !== 'number') return integerInterval(0, upper);
  let c = supportCache.get(upper);
  if (c === undefined) {
    c = integerInterval(0, upper);
    if (supportCache.size < RANGE_CACHE_LIMIT) supportCache.set(upper, c);
  }
  return c;
}

const LOG_FACTORIAL_TABLE_SIZE = 1024;
let logFactorialTable: Float64Array | undefined;

/**
 * log(k!) for a nonnegative number `k` (integer or not: lgamma(k + 1)).
 * Integers below 1024 are read from a table built on first use; log(0!) and
 * log(1!) are exactly 0, so point masses get log-probability exactly 0.
 */
export function logFactorial(k: number): number {
  if (Number.isInteger(k) && k >= 0 && k < LOG_FACTORIAL_TABLE_SIZE) {
    if (logFactorialTable === undefined) {
      logFactorialTable = new Float64Array(LOG_FACTORIAL_TABLE_SIZE);
      // log of the running product while it is finite (error about k ulps, and
      // exactly 0 at k = 0, 1), then the Lanczos lgamma
      let f = 1;
      for (let i = 0; i < LOG_FACTORIAL_TABLE_SIZE; i++) {
        if (i > 1) f *= i;
        logFactorialTable[i] = Number.isFinite(f) ? Math.log(f) : lgammaNumber(i + 1);
      }
    }
    return logFactorialTable[k];
  }
  return lgammaNumber(k + 1);
}

/**
 * `x * logY`, taken as 0 where `x` is 0 (so `0 * log 0 = 0`), for numbers or
 * tensors. Used for terms like `k log p` of a mass function at `p = 0`.
 */
export function xLogY(x: Value, logY: Value): Value {
  if (typeof x === 'number' && typeof logY === 'number') return xLogYNumber(x, logY);
  return tf.tidy(() => where(eq(x, 0), 0, mul(x, logY)));
}

/**
 * `x * log(y)`, 0 where `x` is 0, with a zero gradient there even where `y`
 * is 0 too: `y` is swapped for 1 at those elements before the log is taken.
 * (`xLogY(x, log(y))` is right in value but not in gradient: the masked
 * log's derivative 1 / y sends 0 / 0 = NaN back to `y`, as at a rate or
 * probability written `z * p` with `z = 0`.)
 */
export function xLogOf(x: Value, y: Value): Value {
  if (typeof x === 'number' && typeof y === 'number') return xLogYNumber(x, Math.log(y));
  return tf.tidy(() => {
    const zero = eq(x, 0);
    return where(zero, 0, mul(x, log(where(zero, 1, y))));
  });
}

/** `x * log(1 - y)`, 0 where `x` is 0, with a zero gradient there even where `y` is 1 (see `xLogOf`). */
export function xLog1mOf(x: Value, y: Value): Value {
  if (typeof x === 'number' && typeof y === 'number') return xLogYNumber(x, Math.log1p(-y));
  return tf.tidy(() => {
    const zero = eq(x, 0);
    return where(zero, 0, mul(x, log1p(neg(where(zero, 0, y)))));
  });
}

/** `x * logY` for numbers, 0 where `x` is 0 (see {@link xLogY}). */
export function xLogYNumber(x: number, logY: number): number {
  return x === 0 ? 0 : x * logY;
}

/** True when `k` is a nonnegative integer (a point of a counting support). */
export function isCount(k: number): boolean {
  return Number.isInteger(k) && k >= 0;
}

/**
 * A log mass in the saddle-point form where `large` holds and the direct form
 * elsewhere (Poisson's and Binomial's large-count forms). Where a cheap read
 * shows every element takes one form, only that one is computed; in a mixed
 * batch both are, and `saddle` gets `at(t, safe)`: `t` where `large` holds and
 * the harmless `safe` elsewhere (no NaN in the unused branch's gradient).
 */
export function directOrSaddle(large: tf.Tensor, direct: () => Value, saddle: (at: (t: tf.Tensor, safe: number) => tf.Tensor) => tf.Tensor): tf.Tensor {
  if (allTrueIfCheap(tf.logicalNot(large))) return toTensor(direct());
  if (allTrueIfCheap(large)) return saddle((t) => t);
  const d = toTensor(direct());
  const shape = d.shape;
  const larges = tf.broadcastTo(large, shape);
  const at = (t: tf.Tensor, safe: number): tf.Tensor => tf.where(larges, tf.broadcastTo(t, shape), safe);
  return tf.where(larges, saddle(at), d);
}
