/**
 * The discrete half of `Truncated`: exact log normalisers of an integer
 * interval [low, high] (bounds inclusive, as Stan's `T[low, high]`) and
 * exact inverse-cdf draws by walking the mass function from a bound.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, logSumExp, lt, sizeOf, where } from '../core/value.js';
import type { Distribution } from './distribution.js';
import { batchValues } from './samplers.js';
import { LN2, log1mexp, logDiffExp } from './tails.js';

/** Intervals of at most this many values are normalised by summing the mass function (exact; plain tensor ops for tensor parameters). */
export const DISCRETE_SUM_LIMIT = 4096;

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
    return logSumExp(base.logProb(ks) as tf.Tensor, 0); // -Infinity, not NaN, where the interval has no mass
  });
}

/**
 * log P(lo <= X <= hi) for integer bounds already clipped to the base's
 * support (`supportLow` is its lowest value): a sum of the mass function
 * when the interval (or, for tensor parameters and an open top, its
 * complement below lo, while that holds less than half the mass) holds at most
 * {@link DISCRETE_SUM_LIMIT} values;
 * otherwise a log-difference of the base's `logCdf` / `logSurvival`, from
 * the side that keeps its precision.
 */
export function discreteLogMass(base: Distribution, lo: number, hi: number, supportLow: number): Value {
  if (Number.isFinite(hi) && hi - lo + 1 <= DISCRETE_SUM_LIMIT) return logSumMass(base, lo, hi);
  if (lo <= supportLow) return Number.isFinite(hi) ? base.logCdf(hi) : 0;
  if (!Number.isFinite(hi)) {
    if (numberParams(base, lo) || lo - supportLow > DISCRETE_SUM_LIMIT) return base.logSurvival(lo - 1);
    // tensor parameters: 1 - P(X < lo) by plain tensor ops where P(X < lo) < 1/2 (exact, e.g. a zero-truncated Poisson);
    // where lo is above the median that difference loses precision: the base's log-survival there (float64 in the
    // compiled replay; on the float32 tfjs path finite while the mass is above about 1e-38). Chosen by `where`, with
    // no read of the values, so the choice is recorded by the JIT.
    const below = logSumMass(base, supportLow, lo - 1);
    return where(lt(below, -LN2), log1mexp(below), base.logSurvival(lo - 1));
  }
  const sLow = base.logSurvival(lo - 1);
  return where(lt(sLow, -LN2), logDiffExp(sLow, base.logSurvival(hi)), logDiffExp(base.logCdf(hi), base.logCdf(lo - 1)));
}

/** Values of the mass function evaluated per step of the walk. */
const WALK_CHUNK = 64;

/** log p(k) for one k per (step, batch member): `ks` is [steps, batch] flattened. */
function logMassGrid(base: Distribution, ks: Float64Array, steps: number, batchShape: readonly number[]): Float64Array {
  if (batchShape.length === 0 && numberParams(base, ks[0]!)) return Float64Array.from(ks, (k) => base.logProb(k) as number);
  // the tensor leaves tidy and is read outside it: a typed array returned from tidy is walked element by element
  const lp = tf.tidy(() => base.logProb(tf.tensor(Float32Array.from(ks), [steps, ...batchShape])) as tf.Tensor);
  const out = Float64Array.from(lp.dataSync());
  lp.dispose();
  return out;
}

/** Walks longer than this many values stop with an error (a mass function that does not fall off). */
const WALK_LIMIT = 10_000_000;

/**
 * Exact draws from `base` restricted to the integers lo..hi: the inverse cdf,
 * found by walking the mass function from the bound in the tail (down from
 * hi when hi is below the median, else up from lo), in chunks. A first pass
 * sums the terms in log space until the far bound or until they fall below
 * float64 rounding of the sum (past the mode they only fall), so the draws
 * need no separately computed normaliser and stay exact where a float32
 * log-cdf would underflow; a second pass inverts the cumulative sums.
 */
export function sampleDiscreteByWalk(rng: Rng, base: Distribution, lo: number, hi: number, shape: readonly number[], batchShape: readonly number[]): Value {
  const nb = sizeOf(batchShape);
  const n = sizeOf(shape);
  const down = new Uint8Array(nb);
  if (Number.isFinite(hi)) {
    const lc = batchValues('Truncated: log cdf at high', () => base.logCdf(hi), batchShape);
    for (let b = 0; b < nb; b++) down[b] = lc[b]! < -LN2 ? 1 : 0;
  }
  const kAt = (b: number, step: number): number => (down[b] ? hi - step : lo + step);
  // pass 1: the log mass function along each walk, until the far bound or a negligible, falling tail
  const lps: number[][] = Array.from({ length: nb }, () => []);
  const logTotal = new Float64Array(nb).fill(-Infinity);
  const open = new Uint8Array(nb).fill(1);
  let left = nb;
  const ks = new Float64Array(WALK_CHUNK * nb);
  for (let off = 0; left > 0; off += WALK_CHUNK) {
    if (off > WALK_LIMIT) throw new Error(`Truncated(${base.name}): the mass function did not fall off within ${WALK_LIMIT} values of the bound; narrow the bounds`);
    for (let j = 0; j < WALK_CHUNK; j++) for (let b = 0; b < nb; b++) ks[j * nb + b] = Math.min(Math.max(kAt(b, off + j), lo), hi);
    const lp = logMassGrid(base, ks, WALK_CHUNK, batchShape);
    for (let b = 0; b < nb; b++) {
      if (!open[b]) continue;
      const row = lps[b]!;
      for (let j = 0; j < WALK_CHUNK; j++) {
        const v = lp[j * nb + b]!;
        const prev = row.length > 0 ? row[row.length - 1]! : Infinity;
        row.push(v);
        logTotal[b] = logAddExpNumber(logTotal[b]!, v);
        const k = kAt(b, off + j);
        const last = down[b] ? k <= lo : k >= hi;
        if (last || (v < prev && v - logTotal[b]! < NEGLIGIBLE_LOG)) {
          open[b] = 0;
          left--;
          break;
        }
      }
    }
  }
  for (let b = 0; b < nb; b++) {
    if (!(logTotal[b]! > -Infinity) || Number.isNaN(logTotal[b]!)) throw new Error(`Truncated(${base.name}): the mass function is zero (or not finite) over the bounds for batch member ${b}`);
  }
  // pass 2: invert the cumulative sums
  const u = rng.uniforms(n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const b = i % nb;
    const row = lps[b]!;
    let cum = 0;
    let j = 0;
    for (; j < row.length - 1; j++) {
      cum += Math.exp(row[j]! - logTotal[b]!);
      if (cum >= u[i]!) break;
    }
    out[i] = kAt(b, j);
  }
  return shape.length === 0 ? out[0]! : tf.tensor(Float32Array.from(out), shape as number[]);
}

/** A term this far (in log) below the running sum is below float64 rounding of it. */
const NEGLIGIBLE_LOG = Math.log(1e-17);

function logAddExpNumber(a: number, b: number): number {
  const m = Math.max(a, b);
  return m === -Infinity ? -Infinity : m + Math.log1p(Math.exp(-Math.abs(a - b)));
}
