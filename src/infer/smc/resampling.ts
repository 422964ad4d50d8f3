/**
 * Resampling schemes for particle methods, all O(N).
 *
 * A resampler turns normalised weights `w` (length N) into `n` ancestor
 * indices. Every scheme here is *unbiased*: the expected number of offspring
 * of particle `i` is `n * w[i]`, which is what keeps SMC's estimate of the
 * normalising constant unbiased. They differ in variance (multinomial has the
 * most; residual, stratified and systematic less), and none of them uses a
 * quadratic loop: multinomial draws its uniforms already sorted (normalised
 * exponential spacings) and all four walk the cumulative weights once.
 *
 * Weights need not sum exactly to one: each scheme scales its uniforms by the
 * actual total, so rounding never selects past the end and a particle of
 * weight zero is never selected.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';

/** A resampling scheme: normalised weights, number of offspring, random stream -> ancestor indices. */
export type Resampler = (weights: Float64Array, n: number, rng: Rng) => Int32Array;

/** Names of the built-in schemes. */
export type ResamplingScheme = 'multinomial' | 'stratified' | 'systematic' | 'residual';

/** Check weights and return their total (throws naming the scheme on bad input). */
function checkedTotal(scheme: string, weights: Float64Array, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${scheme} resampling: n must be a non-negative integer, got ${n}`);
  if (weights.length === 0) throw new Error(`${scheme} resampling: weights are empty`);
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (!(w >= 0) || w === Infinity) throw new Error(`${scheme} resampling: weight ${i} is ${w}; weights must be finite and non-negative`);
    total += w;
  }
  if (!(total > 0)) throw new Error(`${scheme} resampling: all weights are zero`);
  return total;
}

/** Index of the last positive weight (0 when there is none). */
function lastPositive(weights: Float64Array): number {
  let last = weights.length - 1;
  while (last > 0 && weights[last] === 0) last--;
  return last;
}

/**
 * Inverse-CDF walk: for sorted points `u[k]` in [0, 1), the ancestor of
 * offspring k is the first index whose cumulative weight exceeds
 * `u[k] * total`. One pass over weights and points; zero-weight particles are
 * never chosen (their cumulative weight does not increase, and the walk stops
 * at the last positive weight whatever the rounding).
 */
function invertSorted(weights: Float64Array, total: number, u: Float64Array, out: Int32Array, offset = 0): void {
  const last = lastPositive(weights);
  let j = 0;
  let cum = weights[0];
  for (let k = 0; k < u.length; k++) {
    const v = u[k] * total;
    while (cum <= v && j < last) cum += weights[++j];
    out[offset + k] = j;
  }
}

/**
 * The same walk for the stratified grid (k + U_k) / n, with one shared U
 * (systematic) or one per stratum (stratified), without materialising the
 * points.
 */
function invertStrata(weights: Float64Array, total: number, n: number, rng: Rng, shared: boolean): Int32Array {
  const out = new Int32Array(n);
  const last = lastPositive(weights);
  const scale = total / n;
  const u0 = shared ? rng.uniform() : 0;
  let j = 0;
  let cum = weights[0];
  for (let k = 0; k < n; k++) {
    const v = (k + (shared ? u0 : rng.uniform())) * scale;
    while (cum <= v && j < last) cum += weights[++j];
    out[k] = j;
  }
  return out;
}

/** `n` sorted uniforms on [0, 1) in O(n), from normalised exponential spacings. */
export function sortedUniforms(n: number, rng: Rng): Float64Array {
  const u = new Float64Array(n);
  let s = 0;
  for (let k = 0; k < n; k++) {
    s += -Math.log(rng.uniform());
    u[k] = s;
  }
  s += -Math.log(rng.uniform());
  for (let k = 0; k < n; k++) u[k] /= s;
  return u;
}

/** Multinomial resampling: `n` independent draws from the weights (sorted ancestors). */
export const multinomial: Resampler = (weights, n, rng) => {
  const total = checkedTotal('multinomial', weights, n);
  const out = new Int32Array(n);
  invertSorted(weights, total, sortedUniforms(n, rng), out);
  return out;
};

/** Stratified resampling: one uniform in each stratum [k/n, (k+1)/n). */
export const stratified: Resampler = (weights, n, rng) => invertStrata(weights, checkedTotal('stratified', weights, n), n, rng, false);

/** Systematic resampling: one shared uniform, points (k + U)/n. Lowest variance in practice. */
export const systematic: Resampler = (weights, n, rng) => invertStrata(weights, checkedTotal('systematic', weights, n), n, rng, true);

/**
 * Residual resampling: particle i first gets `floor(n w_i)` copies, the
 * remaining `n - sum floor(n w_i)` offspring are drawn multinomially from the
 * residuals `n w_i - floor(n w_i)`.
 */
export const residual: Resampler = (weights, n, rng) => {
  const total = checkedTotal('residual', weights, n);
  const N = weights.length;
  const out = new Int32Array(n);
  const resid = new Float64Array(N);
  let k = 0;
  let residTotal = 0;
  for (let i = 0; i < N; i++) {
    const nw = (n * weights[i]) / total;
    let c = Math.floor(nw);
    if (k + c > n) c = n - k; // rounding guard
    for (let r = 0; r < c; r++) out[k++] = i;
    resid[i] = nw - c;
    residTotal += resid[i];
  }
  const rest = n - k;
  if (rest > 0) {
    if (!(residTotal > 0)) {
      // only reachable through rounding: fall back to the weights themselves
      invertSorted(weights, total, sortedUniforms(rest, rng), out, k);
    } else {
      invertSorted(resid, residTotal, sortedUniforms(rest, rng), out, k);
    }
  }
  return out;
};

/** The built-in schemes by name. */
export const RESAMPLERS: Readonly<Record<ResamplingScheme, Resampler>> = { multinomial, stratified, systematic, residual };

/** A resampler from a name or a function (throws on an unknown name, listing the known ones). */
export function resolveResampler(scheme: ResamplingScheme | Resampler = 'systematic'): Resampler {
  if (typeof scheme === 'function') return scheme;
  const r = (RESAMPLERS as Record<string, Resampler | undefined>)[scheme];
  if (!r) throw new Error(`unknown resampling scheme "${String(scheme)}"; choose one of ${Object.keys(RESAMPLERS).join(', ')}`);
  return r;
}

/** Maximum of an array (-Infinity when empty). */
function maxOf(xs: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) if (xs[i] > m) m = xs[i];
  return m;
}

/**
 * Effective sample size `(sum w)^2 / sum w^2` from log-weights (any
 * normalisation). Returns 0 when every weight is zero.
 */
export function ess(logWeights: ArrayLike<number>): number {
  const m = maxOf(logWeights);
  if (m === -Infinity) return 0;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < logWeights.length; i++) {
    const w = Math.exp(logWeights[i] - m);
    s += w;
    s2 += w * w;
  }
  return (s * s) / s2;
}

/**
 * Normalise log-weights in place so that they log-sum-exp to zero, after
 * first adding `increment` to them when given (one fused pass); writes the
 * normalised weights into `weights` and returns the log of the total before
 * normalising and the ESS. Throws when a log-weight becomes NaN or +Infinity,
 * naming the particle.
 */
export function normaliseLogWeights(logWeights: Float64Array, weights: Float64Array, increment?: ArrayLike<number>): { logTotal: number; ess: number } {
  const N = logWeights.length;
  if (increment) for (let i = 0; i < N; i++) logWeights[i] += increment[i];
  let m = -Infinity;
  let bad = false;
  for (let i = 0; i < N; i++) {
    const v = logWeights[i];
    // NaN and +Infinity are errors; one flag keeps the hot loop branch-light
    bad ||= v !== v || v === Infinity;
    if (v > m) m = v;
  }
  if (bad) {
    const i = logWeights.findIndex((v) => Number.isNaN(v) || v === Infinity);
    const what = increment && (Number.isNaN(increment[i]) || increment[i] === Infinity) ? `log potential of particle ${i} is ${increment[i]}` : `log-weight of particle ${i} is ${logWeights[i]}`;
    throw new Error(what);
  }
  if (m === -Infinity) return { logTotal: -Infinity, ess: 0 };
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < N; i++) {
    const w = Math.exp(logWeights[i] - m);
    weights[i] = w;
    s += w;
    s2 += w * w;
  }
  const logTotal = m + Math.log(s);
  const inv = 1 / s;
  for (let i = 0; i < N; i++) {
    weights[i] *= inv;
    logWeights[i] -= logTotal;
  }
  return { logTotal, ess: (s * s) / s2 };
}

/** What {@link temperedResample} returns. */
export interface TemperedResampling {
  /** Ancestor of each offspring. */
  readonly ancestors: Int32Array;
  /**
   * Log-weights of the offspring, *unnormalised* so that their sum has
   * expectation equal to the sum of the incoming weights: add
   * `logSumExp(logWeights)` of them minus that of the input to a running
   * log-normaliser to keep it unbiased.
   */
  readonly logWeights: Float64Array;
}

/**
 * Tempered (partial) resampling.
 *
 * Offspring are drawn from the weights raised to `alpha` in [0, 1],
 * `p_i ∝ w_i^alpha`, and then carry the rest of their weight,
 * `w'_k = w_{a_k}^(1 - alpha) * (sum_j w_j^alpha) / n`. Then, for any
 * function f, `E[sum_k w'_k f(x_{a_k})] = sum_i w_i f(x_i)`: the population
 * stays properly weighted and a normalising-constant estimate that includes
 * `log sum w' - log sum w` stays unbiased. `alpha = 1` is ordinary resampling
 * (all offspring weigh the mean weight); `alpha = 0` keeps the weights and
 * picks ancestors uniformly. Intermediate values trade weight degeneracy
 * against loss of diversity (as in entropy-regularised particle filters).
 *
 * @param logWeights - incoming log-weights (any normalisation), length N
 * @param alpha - tempering exponent in [0, 1]
 * @param n - number of offspring
 * @param resampler - the scheme used to draw ancestors from `w^alpha`
 */
export function temperedResample(logWeights: ArrayLike<number>, alpha: number, n: number, rng: Rng, resampler: Resampler = systematic): TemperedResampling {
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`temperedResample: alpha must lie in [0, 1], got ${alpha}`);
  const N = logWeights.length;
  const m = maxOf(logWeights);
  if (m === -Infinity || Number.isNaN(m)) throw new Error('temperedResample: all weights are zero');
  const p = new Float64Array(N);
  let sAlpha = 0;
  for (let i = 0; i < N; i++) {
    // a zero weight stays zero even when alpha = 0 (0 * -Infinity would be NaN)
    p[i] = logWeights[i] === -Infinity ? 0 : Math.exp(alpha * (logWeights[i] - m));
    sAlpha += p[i];
  }
  const ancestors = resampler(p, n, rng);
  // log w'_k = (1 - alpha) log w_a + log(sum w^alpha) - log n, with w measured relative to exp(m)
  const logShift = alpha * m + Math.log(sAlpha) - Math.log(n);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = alpha === 1 ? logShift : (1 - alpha) * logWeights[ancestors[k]] + logShift;
  return { ancestors, logWeights: out };
}

/**
 * Draw one index with probability proportional to `exp(logits[i])` (one
 * inverse-CDF walk). Overwrites `logits` with the unnormalised weights, to
 * spare an allocation in inner loops. Throws, prefixed with `who`, when no
 * index has positive weight.
 */
export function sampleLogCategorical(logits: Float64Array, rng: Rng, who = 'sampleLogCategorical'): number {
  const m = maxOf(logits);
  if (m === -Infinity || Number.isNaN(m)) throw new Error(`${who} found no candidate with positive weight`);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    logits[i] = Math.exp(logits[i] - m);
    total += logits[i];
  }
  const v = rng.uniform() * total;
  let cum = 0;
  let last = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > 0) last = i;
    cum += logits[i];
    if (cum > v) return i;
  }
  return last;
}
