/**
 * The discrete half of `Truncated`: exact log normalisers of an integer
 * interval [low, high] (bounds inclusive, as Stan's `T[low, high]`) and
 * exact inverse-cdf draws by walking the mass function from a bound.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, allTrueIfCheap, logSumExp, lt, sizeOf, where } from '../core/value.js';
import type { Distribution } from './distribution.js';
import { batchValues } from './samplers.js';
import { LN2, log1mexp, logDiffExp } from './tails.js';

/** Intervals of at most this many values are normalised by summing the mass function (exact; plain tensor ops for tensor parameters). */
export const DISCRETE_SUM_LIMIT = 4096;

/** Values of the upper-tail sum for tensor parameters with lo above the median (its terms fall off past the median). */
const TAIL_WINDOW = 1024;

/** True when the base's parameters are numbers (its log-mass of a number is a number). */
function numberParams(base: Distribution, k: number): boolean {
  return base.batchShape.length === 0 && typeof base.logProb(k) === 'number';
}

/** log sum_{k = lo}^{hi} p(k) for finite lo <= hi: float64 for number parameters, a differentiable tensor `logSumExp` otherwise. */
export function logSumMass(base: Distribution, lo: number, hi: number): Value {
  if (numberParams(base, lo)) {
    const lps = new Float64Array(hi - lo + 1);
    for (let i = 0; i < lps.length; i++) lps[i] = base.logProb(lo + i) as number;
    return logSumExp(lps);
  }
  return tf.tidy(() => {
    const rank = base.batchShape.length;
    const ks = tf.reshape(tf.range(lo, hi + 1, 1, 'float32'), [hi - lo + 1, ...new Array<number>(rank).fill(1)]);
    return tf.logSumExp(base.logProb(ks) as tf.Tensor, 0);
  });
}

/**
 * log P(lo <= X <= hi) for integer bounds already clipped to the base's
 * support (`supportLow` is its lowest value): a sum of the mass function
 * when the interval (or, for tensor parameters and an open top, its
 * complement below lo, or above the median a window of 1024 values from lo)
 * holds at most {@link DISCRETE_SUM_LIMIT} values;
 * otherwise a log-difference of the base's `logCdf` / `logSurvival`, from
 * the side that keeps its precision.
 */
export function discreteLogMass(base: Distribution, lo: number, hi: number, supportLow: number): Value {
  if (Number.isFinite(hi) && hi - lo + 1 <= DISCRETE_SUM_LIMIT) return logSumMass(base, lo, hi);
  if (lo <= supportLow) return Number.isFinite(hi) ? base.logCdf(hi) : 0;
  if (!Number.isFinite(hi)) {
    if (numberParams(base, lo) || lo - supportLow > DISCRETE_SUM_LIMIT) return base.logSurvival(lo - 1);
    // tensor parameters: 1 - P(X < lo) by plain tensor ops where P(X < lo) < 1/2 (exact, e.g. a zero-truncated Poisson);
    // where lo is above the median that difference loses float32 precision: sum the mass function over
    // lo .. lo + TAIL_WINDOW - 1 instead (past the median it falls off; finite where float32 cdfs underflow)
    const below = logSumMass(base, supportLow, lo - 1);
    const lowerHalf = lt(below, -LN2) as tf.Tensor;
    if (allTrueIfCheap(lowerHalf)) return log1mexp(below);
    return where(lowerHalf, log1mexp(below), logSumMass(base, lo, lo + TAIL_WINDOW - 1));
  }
  const sLow = base.logSurvival(lo - 1);
  return where(lt(sLow, -LN2), logDiffExp(sLow, base.logSurvival(hi)), logDiffExp(base.logCdf(hi), base.logCdf(lo - 1)));
}

/** Values of the mass function evaluated per step of the walk. */
const WALK_CHUNK = 64;

/** log p(k) for one k per (step, batch member): `ks` is [steps, batch] flattened. */
function logMassGrid(base: Distribution, ks: Float64Array, steps: number, batchShape: readonly number[]): Float64Array {
  if (batchShape.length === 0 && numberParams(base, ks[0]!)) return Float64Array.from(ks, (k) => base.logProb(k) as number);
  return Float64Array.from(tf.tidy(() => (base.logProb(tf.tensor(Float32Array.from(ks), [steps, ...batchShape])) as tf.Tensor).dataSync()));
}

/**
 * Exact draws from `base` restricted to the integers lo..hi: the inverse cdf,
 * found by walking the mass function from the bound in the tail (down from
 * hi when hi is below the median, else up from lo) in chunks, with
 * `logMass` giving the log normaliser (broadcast to `batchShape`). A walk stops at
 * the far bound, or where the remaining terms have fallen below float64
 * rounding of the cumulative sum.
 */
export function sampleDiscreteByWalk(rng: Rng, base: Distribution, lo: number, hi: number, logMass: () => Value, shape: readonly number[], batchShape: readonly number[]): Value {
  const nb = sizeOf(batchShape);
  const n = sizeOf(shape);
  const lm = batchValues('Truncated: log mass', logMass, batchShape);
  const down = new Uint8Array(nb);
  if (Number.isFinite(hi)) {
    const lc = batchValues('Truncated: log cdf at high', () => base.logCdf(hi), batchShape);
    for (let b = 0; b < nb; b++) down[b] = lc[b]! < -LN2 ? 1 : 0;
  }
  const u = rng.uniforms(n);
  const cum = new Float64Array(n);
  const out = new Float64Array(n);
  const done = new Uint8Array(n);
  let left = n;
  const ks = new Float64Array(WALK_CHUNK * nb);
  for (let off = 0; left > 0; off += WALK_CHUNK) {
    for (let j = 0; j < WALK_CHUNK; j++) {
      for (let b = 0; b < nb; b++) {
        const k = down[b] ? hi - off - j : lo + off + j;
        // steps past the far bound are evaluated at the bound (never used)
        ks[j * nb + b] = Math.min(Math.max(k, lo), hi);
      }
    }
    const lp = logMassGrid(base, ks, WALK_CHUNK, batchShape);
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const b = i % nb;
      for (let j = 0; j < WALK_CHUNK; j++) {
        const k = down[b] ? hi - off - j : lo + off + j;
        const term = Math.exp(lp[j * nb + b]! - lm[b]!);
        cum[i] += term;
        const last = down[b] ? k <= lo : k >= hi;
        const prev = j > 0 ? lp[(j - 1) * nb + b]! : Infinity;
        const negligible = term < 1e-17 * cum[i] && lp[j * nb + b]! < prev;
        if (negligible && cum[i] < 0.5) {
          throw new Error(`Truncated(${base.name}): the mass function over the bounds sums to ${cum[i]} of the normaliser; the log-cdf of ${base.name} is not accurate enough here (give number parameters for float64)`);
        }
        if (cum[i] >= u[i] || last || negligible) {
          out[i] = k;
          done[i] = 1;
          left--;
          break;
        }
      }
    }
  }
  return shape.length === 0 ? out[0]! : tf.tensor(Float32Array.from(out), shape as number[]);
}
