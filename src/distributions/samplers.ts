/**
 * Random variate generators in plain JavaScript (float64), drawing from an
 * {@link Rng}, and a helper that fills a tensor elementwise with them.
 *
 * Discrete draws are made here rather than with tfjs random ops so that a
 * seed gives the same values on every backend (`tf.multinomial` differs
 * between backends) and the scalar path never touches tfjs.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, sizeOf } from '../core/value.js';
import { logFactorial } from './counts.js';
import { broadcastValues } from './gamma.js';

/** A Bernoulli(p) draw: 1 with probability `p`, else 0. */
export function bernoulliVariate(rng: Rng, p: number): number {
  return rng.uniform() < p ? 1 : 0;
}

/**
 * Row-wise cumulative sums of `p` (rows of length `k`), for
 * {@link categoricalVariate}. Each row reaches exactly 1 at its last category
 * with positive mass, so rounding can never select a zero-mass category.
 */
export function cumulativeRows(p: ArrayLike<number>, k: number): Float64Array {
  const c = new Float64Array(p.length);
  for (let off = 0; off < p.length; off += k) {
    let s = 0;
    let last = off;
    for (let i = off; i < off + k; i++) {
      c[i] = s += p[i];
      if (p[i] > 0) last = i;
    }
    for (let i = last; i < off + k; i++) c[i] = 1;
  }
  return c;
}

/**
 * A category index in `0..k-1` drawn from the cumulative table `cdf` (one row
 * of {@link cumulativeRows} starting at `off`): the first `i` with
 * `u < cdf[off + i]`. Linear scan for small `k`, bisection otherwise.
 */
export function categoricalVariate(rng: Rng, cdf: ArrayLike<number>, off = 0, k = cdf.length - off): number {
  const u = rng.uniform();
  if (k <= 16) {
    for (let i = 0; i < k - 1; i++) if (u < cdf[off + i]) return i;
    return k - 1;
  }
  let lo = 0;
  let hi = k - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (u < cdf[off + mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A Geometric(p) draw: the number of failures before the first success (p in (0, 1]). */
export function geometricVariate(rng: Rng, p: number): number {
  if (p >= 1) return 0;
  return Math.floor(Math.log(rng.uniform()) / Math.log1p(-p));
}

/**
 * A Poisson(rate) draw. Inversion by sequential search for rate < 10;
 * Hörmann's transformed rejection with squeeze (PTRS, 1993) above.
 */
export function poissonVariate(rng: Rng, rate: number): number {
  if (rate <= 0) return 0;
  if (rate < 10) {
    const u = rng.uniform();
    let x = 0;
    let p = Math.exp(-rate);
    let s = p;
    while (u > s && p > 0) {
      x += 1;
      p *= rate / x;
      s += p;
    }
    return x;
  }
  const sl = Math.sqrt(rate);
  const logRate = Math.log(rate);
  const b = 0.931 + 2.53 * sl;
  const a = -0.059 + 0.02483 * b;
  const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.uniform() - 0.5;
    const v = rng.uniform();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + rate + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + logInvAlpha - Math.log(a / (us * us) + b) <= -rate + k * logRate - logFactorial(k)) return k;
  }
}

/**
 * A Binomial(n, p) draw. Uses the symmetry p -> 1 - p so that p <= 1/2, then
 * inversion (BINV) when n p < 10 and Hörmann's BTRS transformed rejection
 * (1993) otherwise; expected cost is O(1) in n.
 */
export function binomialVariate(rng: Rng, n: number, p: number): number {
  if (n === 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomialVariate(rng, n, 1 - p);
  const q = 1 - p;
  if (n * p < 10) {
    const s = p / q;
    const a = (n + 1) * s;
    const r0 = Math.pow(q, n);
    for (;;) {
      let u = rng.uniform();
      let r = r0;
      let x = 0;
      while (u > r && x <= n) {
        u -= r;
        x += 1;
        r *= a / x - s;
      }
      if (x <= n) return x;
      // rounding carried the search past n: draw again
    }
  }
  const spq = Math.sqrt(n * p * q);
  const b = 1.15 + 2.53 * spq;
  const a = -0.0873 + 0.0248 * b + 0.01 * p;
  const c = n * p + 0.5;
  const vr = 0.92 - 4.2 / b;
  const alpha = (2.83 + 5.1 / b) * spq;
  const lpq = Math.log(p / q);
  const m = Math.floor((n + 1) * p);
  const h = logFactorial(m) + logFactorial(n - m);
  for (;;) {
    const u = rng.uniform() - 0.5;
    let v = rng.uniform();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + c);
    if (k < 0 || k > n) continue;
    if (us >= 0.07 && v <= vr) return k;
    v = Math.log((v * alpha) / (a / (us * us) + b));
    if (v <= h - logFactorial(k) - logFactorial(n - k) + (k - m) * lpq) return k;
  }
}

/**
 * A float32 tensor of shape `sampleShape ++ batchShape ++ eventShape` filled
 * event by event: `draw(b, out, offset)` writes one event (of `eventSize`
 * entries) of batch member `b` (its row-major index in the batch) at
 * `offset` in `out`.
 */
export function drawEvents(
  shape: readonly number[],
  batchSize: number,
  eventSize: number,
  draw: (b: number, out: Float32Array, offset: number) => void,
): tf.Tensor {
  const out = new Float32Array(sizeOf(shape));
  const events = out.length / eventSize;
  for (let e = 0; e < events; e++) draw(e % batchSize, out, e * eventSize);
  return tf.tensor(out, shape as number[]);
}

/**
 * A float32 tensor of shape `sampleShape ++ batchShape` of scalar draws,
 * `draw(b)` for batch member `b` (row-major index in the batch).
 */
export function drawScalars(shape: readonly number[], batchSize: number, draw: (b: number) => number): tf.Tensor {
  return drawEvents(shape, batchSize, 1, (b, out, i) => {
    out[i] = draw(b);
  });
}

/**
 * Flat float64 values of a parameter computed by `f` (e.g. probabilities
 * from logits), broadcast to `batchShape`. Tensors that `f` creates are
 * disposed; the parameters it reads are not.
 */
export function batchValues(what: string, f: () => Value, batchShape: readonly number[]): Float64Array {
  let out: Float64Array | undefined;
  tf.tidy(() => {
    out = broadcastValues(what, f(), batchShape);
  });
  return out as Float64Array;
}
