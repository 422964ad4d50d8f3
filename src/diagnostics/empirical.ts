/**
 * Empirical summaries of a flat sample: moments, quantiles, the empirical
 * CDF and ranks. Plain numbers in, plain numbers out.
 *
 * @module
 */

/** Arithmetic mean (NaN for an empty sample). */
export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/**
 * Variance with `ddof` degrees of freedom removed: sum (x - mean)^2 / (n - ddof).
 * Two-pass, so it stays accurate when the mean is large.
 */
export function variance(x: ArrayLike<number>, ddof = 1): number {
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m) ** 2;
  return s / (x.length - ddof);
}

/** The mean of independent estimates and its standard error, sd / sqrt(n). */
export function meanAndSe(x: ArrayLike<number>): { mean: number; se: number } {
  return { mean: mean(x), se: Math.sqrt(variance(x) / x.length) };
}

/** A sorted (ascending) Float64Array copy of the values. */
export function sortedCopy(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x).sort();
}

function checkProb(p: number, what: string): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${what}: probability must lie in [0, 1], got ${p}`);
}

/**
 * The p-quantile of values already sorted ascending, by linear interpolation
 * between order statistics (Hyndman and Fan type 7, the default of R and
 * NumPy): h = (n - 1) p, Q = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  checkProb(p, 'quantile');
  const n = sorted.length;
  if (n === 0) throw new RangeError('quantile: the sample is empty');
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const f = h - lo;
  return f === 0 ? sorted[lo] : sorted[lo] + f * (sorted[hi] - sorted[lo]);
}

/** The p-quantile of a sample (type 7, see {@link quantileSorted}). */
export function quantile(x: ArrayLike<number>, p: number): number {
  return quantileSorted(sortedCopy(x), p);
}

/** Several quantiles of a sample, sorting it once. */
export function quantiles(x: ArrayLike<number>, ps: readonly number[]): Float64Array {
  const s = sortedCopy(x);
  return Float64Array.from(ps, (p) => quantileSorted(s, p));
}

/** Number of sorted values that are <= v (binary search). */
function countAtMost(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The empirical CDF of a sample: `cdf(v)` is the fraction of values <= v. */
export interface Ecdf {
  /** Fraction of the sample at most v. */
  (v: number): number;
  /** The sample, sorted ascending. */
  readonly sorted: Float64Array;
}

/** The empirical CDF of a sample (each evaluation costs O(log n)). */
export function ecdf(x: ArrayLike<number>): Ecdf {
  const sorted = sortedCopy(x);
  if (sorted.length === 0) throw new RangeError('ecdf: the sample is empty');
  const f = (v: number): number => countAtMost(sorted, v) / sorted.length;
  return Object.assign(f, { sorted });
}

/**
 * 1-based ranks, ties given their average rank (so a discrete quantity keeps
 * its number of distinct values), as R's `rank(ties.method = "average")`.
 */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  // a numeric sort of the values (no comparator call per pair), then each value's run of equal
  // values found by binary search: its rank is the average of the ranks lo + 1 .. hi
  const sorted = Float64Array.from(x).sort();
  const ranks = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const v = x[k];
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    hi = n;
    while (end < hi) {
      const mid = (end + hi) >>> 1;
      if (sorted[mid] <= v) end = mid + 1;
      else hi = mid;
    }
    ranks[k] = (lo + 1 + end) / 2;
  }
  return ranks;
}
