/**
 * Pareto-smoothed importance sampling (PSIS), after Vehtari, Simpson,
 * Gelman, Yao and Gabry (2024), "Pareto smoothed importance sampling",
 * JMLR 25(72), as in the `loo` and `posterior` R packages and ArviZ.
 *
 * Given log importance ratios log w_s = log p(x_s) - log q(x_s) of S draws
 * from a proposal q, PSIS fits a generalized Pareto distribution (GPD) to the
 * M = ceil(min(0.2 S, 3 sqrt(S))) largest ratios (above the next-largest
 * one, the cutoff) with the Zhang and Stephens (2009) profile-likelihood
 * estimator and a weakly informative prior that pulls the shape towards
 * 0.5, and replaces those M ratios by the GPD's expected order statistics.
 *
 * The fitted shape k-hat says how far the ratios can be trusted: below 0.5
 * the importance estimate has finite variance and converges quickly; up to
 * 0.7 (more exactly min(1 - 1/log10(S), 0.7)) it is usable with PSIS; above
 * 0.7 the proposal misses the target so badly that neither the weights nor
 * the proposal itself should be trusted. Yao, Vehtari, Simpson and Gelman
 * (2018), "Yes, but did it work?: Evaluating variational inference", use
 * k-hat of p/q for a fitted variational guide q as its diagnostic.
 *
 * ```ts
 * const { khat, logWeights } = psis(logP.map((lp, s) => lp - logQ[s]));
 * if (khat > PSIS_KHAT_THRESHOLD) console.warn(`k-hat ${khat.toFixed(2)}: the proposal is unreliable`);
 * ```
 *
 * @module
 */

import { kthSmallest } from '../math/select.js';

/** The k-hat above which importance ratios (and a variational fit) are unreliable (Vehtari et al. 2024). */
export const PSIS_KHAT_THRESHOLD = 0.7;

/** Fewest tail draws for which a GPD is fitted; with fewer, k-hat is `Infinity` and nothing is smoothed (as `loo`). */
export const PSIS_MIN_TAIL = 5;

/** A generalized Pareto fit: shape k and scale sigma (location 0). */
export interface GpdFit {
  /** The shape (tail index): the distribution has finite moments of order below 1/k. */
  readonly k: number;
  /** The scale. */
  readonly sigma: number;
}

/**
 * Fits a generalized Pareto distribution with location 0 to positive
 * exceedances `x`, sorted ascending, by the Zhang and Stephens (2009)
 * estimator: a posterior-mean estimate of theta = -k / sigma over a grid of
 * 30 + floor(sqrt(n)) values placed by quantiles of its prior, each weighted
 * by the profile likelihood. With `weaklyInformativePrior` (default true)
 * the shape is shrunk towards 0.5 as if 10 more observations had shape 0.5:
 * k = (n k + 5) / (n + 10) (Vehtari et al. 2024, appendix C).
 *
 * @param x - exceedances over the threshold, ascending, at least 1 value
 * @throws RangeError when `x` is empty, not sorted, or holds negative or non-finite values
 */
export function gpdFit(x: ArrayLike<number>, weaklyInformativePrior = true): GpdFit {
  const n = x.length;
  if (n === 0) throw new RangeError('gpdFit: need at least one exceedance');
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`gpdFit: exceedances must be finite and >= 0, got x[${i}] = ${v}`);
    if (i > 0 && v < x[i - 1]!) throw new RangeError('gpdFit: exceedances must be sorted ascending');
  }
  const xMax = x[n - 1]!;
  if (xMax === 0) return { k: NaN, sigma: NaN };
  const prior = 3;
  const m = 30 + Math.floor(Math.sqrt(n));
  const xStar = x[Math.max(0, Math.floor(n / 4 + 0.5) - 1)]!; // first quartile (1-based index floor(n/4 + 0.5))
  const theta = new Float64Array(m);
  const logLik = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const t = 1 / xMax + (1 - Math.sqrt(m / (j + 1 - 0.5))) / prior / (xStar > 0 ? xStar : xMax);
    theta[j] = t;
    // profile log-likelihood of theta: k(theta) = mean log(1 - theta x), n (log(-theta / k) - k - 1)
    let k = 0;
    for (let i = 0; i < n; i++) k += Math.log1p(-t * x[i]!);
    k /= n;
    logLik[j] = n * (Math.log(-t / k) - k - 1);
  }
  let top = -Infinity;
  for (const l of logLik) if (l > top) top = l;
  let total = 0;
  let thetaHat = 0;
  for (let j = 0; j < m; j++) {
    const w = Number.isFinite(logLik[j]!) ? Math.exp(logLik[j]! - top) : 0;
    total += w;
    thetaHat += w * theta[j]!;
  }
  thetaHat /= total;
  let k = 0;
  for (let i = 0; i < n; i++) k += Math.log1p(-thetaHat * x[i]!);
  k /= n;
  const sigma = -k / thetaHat;
  if (weaklyInformativePrior) k = (k * n + 10 * 0.5) / (n + 10);
  return { k, sigma };
}

/** The GPD quantile function (location 0) at probability p. */
export function gpdQuantile(p: number, k: number, sigma: number): number {
  if (Math.abs(k) < 1e-12) return -sigma * Math.log1p(-p);
  return (sigma * Math.expm1(-k * Math.log1p(-p))) / k;
}

/** The result of {@link psis}. */
export interface PsisResult {
  /** The Pareto shape estimate of the upper tail of the ratios (`Infinity` with too few tail draws or a tail wider than float64's range, `NaN` when the tail is flat). */
  readonly khat: number;
  /** Smoothed log ratios, in the input's order and on its scale (not normalised). */
  readonly logWeights: Float64Array;
  /** Number of tail draws M that were fitted and smoothed. */
  readonly tailLength: number;
  /** The sample-size-dependent threshold min(1 - 1 / log10(S), 0.7) above which the estimate is unreliable. */
  readonly threshold: number;
}

/** Options of {@link psis}. */
export interface PsisOptions {
  /**
   * Relative efficiency of the draws (ESS / S) when they are autocorrelated,
   * e.g. from MCMC; default 1 (independent draws). The tail has
   * ceil(min(0.2 S, 3 sqrt(S / rEff))) draws.
   */
  readonly rEff?: number;
}

/** The tail length M = ceil(min(0.2 S, 3 sqrt(S / rEff))). */
export function psisTailLength(size: number, rEff = 1): number {
  return Math.ceil(Math.min(0.2 * size, 3 * Math.sqrt(size / rEff)));
}

/**
 * Pareto-smoothed importance sampling of log ratios `logRatios`
 * (log p - log q per draw; any additive constant is fine).
 * `-Infinity` entries (draws the target rejects) are allowed and kept.
 *
 * @throws RangeError when there are no ratios, one is NaN or `+Infinity`, or `rEff` is not positive
 */
export function psis(logRatios: ArrayLike<number>, options: PsisOptions = {}): PsisResult {
  const S = logRatios.length;
  if (S === 0) throw new RangeError('psis: need at least one log ratio');
  const rEff = options.rEff ?? 1;
  if (!(rEff > 0) || !Number.isFinite(rEff)) throw new RangeError(`psis: rEff must be positive and finite, got ${rEff}`);
  let max = -Infinity;
  for (let i = 0; i < S; i++) {
    const v = logRatios[i]!;
    if (Number.isNaN(v) || v === Infinity) throw new RangeError(`psis: log ratio ${i} is ${v}; every log ratio must be a number or -Infinity`);
    if (v > max) max = v;
  }
  const threshold = Math.min(1 - 1 / Math.log10(S), PSIS_KHAT_THRESHOLD);
  const lw = Float64Array.from(logRatios);
  if (max === -Infinity) return { khat: NaN, logWeights: lw, tailLength: 0, threshold };
  // work on ratios shifted so that the largest is 0
  for (let i = 0; i < S; i++) lw[i] = lw[i]! - max;
  const M = Math.min(psisTailLength(S, rEff), S - 1);
  let khat = Infinity;
  let tail: number[] | undefined; // indices of the smoothed draws
  if (M >= PSIS_MIN_TAIL) {
    // the M + 1 largest ratios in ascending order (the cutoff, then the tail): positions S - M - 1 .. S - 1 of a stable
    // sort of all S, found in linear time (a full sort of 5e6 VI draws held the event loop for seconds)
    const order = largestAscending(lw, M + 1);
    const first = 1;
    const cutoff = lw[order[0]!]!;
    const tailMin = lw[order[first]!]!;
    if (Math.abs(0 - tailMin) < Number.EPSILON / 100 || cutoff === -Infinity) {
      khat = cutoff === -Infinity ? Infinity : NaN; // a flat tail, or fewer than M + 1 finite ratios
    } else if (Math.exp(tailMin) === 0) {
      // the tail spans more than float64's range (a tail ratio over ~745 nats below the largest underflows to 0):
      // the fit would see zeros and return a small k, yet such a tail is heavier than any k-hat can say (the largest
      // of M draws e^745 times the smallest needs k above 745 / log M); as with too few tail draws, nothing is smoothed
      khat = Infinity;
    } else {
      const expCutoff = Math.exp(cutoff);
      const exceed = new Float64Array(M);
      for (let j = 0; j < M; j++) exceed[j] = Math.max(0, Math.exp(lw[order[first + j]!]!) - expCutoff);
      const fit = gpdFit(exceed);
      khat = fit.k;
      if (Number.isFinite(fit.k)) {
        tail = order.slice(first);
        for (let j = 0; j < M; j++) {
          const p = (j + 1 - 0.5) / M;
          lw[order[first + j]!] = Math.log(gpdQuantile(p, fit.k, fit.sigma) + expCutoff);
        }
      }
    }
  }
  // truncate the smoothed tail at the largest raw ratio and shift it back; the other ratios keep their exact values
  const out = Float64Array.from(logRatios);
  if (tail) for (const i of tail) out[i] = Math.min(lw[i]!, 0) + max;
  return { khat, logWeights: out, tailLength: M, threshold };
}

/**
 * Indices of the `count` largest entries of `x` (no NaN), ascending by value
 * and, among equal values, by index: the last `count` entries of a stable
 * ascending sort of all indices, in O(n) expected time (a selection of the
 * threshold, then a sort of the few at or above it).
 */
export function largestAscending(x: Float64Array, count: number): number[] {
  const n = x.length;
  if (!Number.isInteger(count) || count < 1 || count > n) throw new RangeError(`largestAscending: count must be an integer in [1, ${n}], got ${count}`);
  const threshold = kthSmallest(Float64Array.from(x), n - count);
  const at: number[] = [];
  for (let i = 0; i < n; i++) if (x[i]! >= threshold) at.push(i);
  at.sort((a, b) => x[a]! - x[b]! || a - b);
  return at.slice(at.length - count);
}

