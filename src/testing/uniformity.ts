/**
 * Tests that rank statistics are uniform: a chi-square test on binned ranks,
 * and the simultaneous ECDF band of Säilynoja, Bürkner and Vehtari (2022),
 * "Graphical test for discrete uniformity and its applications in goodness
 * of fit evaluation and multiple sample comparison", Statistics and
 * Computing 32, computed by simulation with a fixed seed.
 *
 * Ranks are integers in 0..L (the rank of a true value among L draws), so
 * under the null hypothesis each of the L + 1 values has probability
 * 1 / (L + 1).
 *
 * @module
 */
import { checkSeed } from '../core/options.js';
import { Rng } from '../core/rng.js';
import { gammainccNumber, lgammaNumber } from '../core/special.js';

/** Result of {@link chiSquareUniformity}. */
export interface ChiSquareResult {
  /** Observed counts per bin. */
  readonly counts: Int32Array;
  /** Expected counts per bin under uniformity. */
  readonly expected: Float64Array;
  /** The statistic sum (O - E)^2 / E. */
  readonly statistic: number;
  /** Degrees of freedom (bins - 1). */
  readonly df: number;
  /** P(chi2_df >= statistic). */
  readonly pValue: number;
}

function checkRanks(ranks: ArrayLike<number>, maxRank: number, fn: string): void {
  if (!Number.isInteger(maxRank) || maxRank < 1) throw new RangeError(`${fn}: maxRank (L) must be a positive integer, got ${maxRank}`);
  if (ranks.length === 0) throw new RangeError(`${fn}: no ranks`);
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i];
    if (!Number.isInteger(r) || r < 0 || r > maxRank) throw new RangeError(`${fn}: rank ${i} is ${r}; ranks must be integers in 0..${maxRank}`);
  }
}

/** Survival function of the chi-square distribution, P(X >= x). */
export function chiSquareSurvival(x: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`chiSquareSurvival: df must be positive, got ${df}`);
  if (!(x > 0)) return 1;
  return gammainccNumber(df / 2, x / 2);
}

/**
 * Chi-square test that ranks in 0..maxRank are uniform, with `bins` bins
 * (rank r goes to bin floor(r bins / (maxRank + 1)); bins need not divide
 * maxRank + 1, the expected counts account for unequal bins).
 */
export function chiSquareUniformity(ranks: ArrayLike<number>, maxRank: number, bins: number): ChiSquareResult {
  checkRanks(ranks, maxRank, 'chiSquareUniformity');
  if (!Number.isInteger(bins) || bins < 2 || bins > maxRank + 1) throw new RangeError(`chiSquareUniformity: bins must be an integer in 2..${maxRank + 1}, got ${bins}`);
  const counts = new Int32Array(bins);
  for (let i = 0; i < ranks.length; i++) counts[Math.floor((ranks[i] * bins) / (maxRank + 1))]++;
  const width = new Float64Array(bins);
  for (let r = 0; r <= maxRank; r++) width[Math.floor((r * bins) / (maxRank + 1))]++;
  const n = ranks.length;
  const expected = Float64Array.from(width, (w) => (n * w) / (maxRank + 1));
  let statistic = 0;
  for (let b = 0; b < bins; b++) statistic += (counts[b] - expected[b]) ** 2 / expected[b];
  return { counts, expected, statistic, df: bins - 1, pValue: chiSquareSurvival(statistic, bins - 1) };
}

/**
 * The default number of bins for N ranks in 0..L: about N / 5 expected
 * counts of at least 5 per bin, at most 20 bins and at most L + 1.
 */
export function defaultBins(n: number, maxRank: number): number {
  return Math.max(2, Math.min(20, maxRank + 1, Math.floor(n / 5)));
}

/** A simultaneous band for the ECDF of N uniform ranks in 0..L. */
export interface EcdfBand {
  /** Number of ranks the band is for. */
  readonly n: number;
  /** The largest rank L. */
  readonly maxRank: number;
  /** Family-wise level: under uniformity the ECDF leaves the band with probability at most `alpha`. */
  readonly alpha: number;
  /** Evaluation points: the ECDF is evaluated at rank `points[k]` (fraction of ranks <= it). */
  readonly points: Int32Array;
  /** Uniform CDF at the points, (points + 1) / (L + 1). */
  readonly z: Float64Array;
  /** Lowest and highest accepted count of ranks <= points[k]. */
  readonly lower: Int32Array;
  readonly upper: Int32Array;
  /** The pointwise level gamma the simulation chose (a count is accepted when its two-sided binomial tail probability is >= gamma). */
  readonly gamma: number;
}

/** Two-sided binomial tail probabilities 2 min(P(X <= c), P(X >= c)) for c = 0..n, X ~ Binomial(n, p). */
function twoSidedTails(n: number, p: number): Float64Array {
  const logPmf = new Float64Array(n + 1);
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const lfn = lgammaNumber(n + 1);
  for (let c = 0; c <= n; c++) logPmf[c] = lfn - lgammaNumber(c + 1) - lgammaNumber(n - c + 1) + c * lp + (n - c) * lq;
  const cdf = new Float64Array(n + 1);
  const sf = new Float64Array(n + 1);
  let acc = 0;
  for (let c = 0; c <= n; c++) cdf[c] = acc += Math.exp(logPmf[c]);
  acc = 0;
  for (let c = n; c >= 0; c--) sf[c] = acc += Math.exp(logPmf[c]);
  return Float64Array.from(cdf, (f, c) => Math.min(1, 2 * Math.min(f, sf[c])));
}

/** Evaluation points: every rank below L, or about `maxPoints` of them evenly spaced. */
function evaluationPoints(maxRank: number, maxPoints: number): Int32Array {
  if (maxRank <= maxPoints) return Int32Array.from({ length: maxRank }, (_, k) => k);
  const pts = new Set<number>();
  for (let k = 1; k <= maxPoints; k++) pts.add(Math.round((k * (maxRank + 1)) / (maxPoints + 1)) - 1);
  return Int32Array.from([...pts].filter((p) => p >= 0 && p < maxRank).sort((a, b) => a - b));
}

/** Options of {@link uniformEcdfBand}. */
export interface EcdfBandOptions {
  /** Simulated uniform samples used to calibrate gamma (default max(5000, 100 / alpha), at most 200,000). */
  readonly replicates?: number;
  /** Most evaluation points (default 100). */
  readonly maxPoints?: number;
  /** Seed of the calibration (default 1); fixed, so the band is reproducible. */
  readonly seed?: number;
}

const bandCache = new Map<string, EcdfBand>();

/**
 * The simultaneous ECDF band for N ranks uniform on 0..L at family-wise
 * level `alpha` (Säilynoja et al. 2022, the simulation method): at each
 * evaluation point the count of ranks <= the point is Binomial(N, z); the
 * pointwise level gamma is calibrated by simulating uniform rank samples so
 * that the fraction of them leaving the band anywhere is at most `alpha`.
 * Results are cached.
 */
export function uniformEcdfBand(n: number, maxRank: number, alpha: number, options: EcdfBandOptions = {}): EcdfBand {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`uniformEcdfBand: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(maxRank) || maxRank < 1) throw new RangeError(`uniformEcdfBand: maxRank must be a positive integer, got ${maxRank}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`uniformEcdfBand: alpha must lie in (0, 1), got ${alpha}`);
  const replicates = options.replicates ?? Math.min(200_000, Math.max(5000, Math.ceil(100 / alpha)));
  const maxPoints = options.maxPoints ?? 100;
  checkSeed('uniformEcdfBand', options.seed);
  const seed = options.seed ?? 1;
  const key = `${n}|${maxRank}|${alpha}|${replicates}|${maxPoints}|${seed}`;
  const cached = bandCache.get(key);
  if (cached) return cached;

  const points = evaluationPoints(maxRank, maxPoints);
  const z = Float64Array.from(points, (p) => (p + 1) / (maxRank + 1));
  const tails = Array.from(z, (p) => twoSidedTails(n, p));
  const rng = new Rng(`ecdf-band/${seed}`);
  const mins = new Float64Array(replicates);
  const hist = new Int32Array(maxRank + 1);
  for (let r = 0; r < replicates; r++) {
    hist.fill(0);
    for (let i = 0; i < n; i++) hist[rng.int(maxRank + 1)]++;
    mins[r] = minTail(hist, points, tails);
  }
  mins.sort();
  // reject when the smallest tail probability is < gamma: at most floor(alpha R) replicates do
  const gamma = mins[Math.floor(alpha * replicates)];
  const lower = new Int32Array(points.length);
  const upper = new Int32Array(points.length);
  tails.forEach((t, k) => {
    let lo = 0;
    while (lo < n && t[lo] < gamma) lo++;
    let hi = n;
    while (hi > 0 && t[hi] < gamma) hi--;
    lower[k] = lo;
    upper[k] = hi;
  });
  const band: EcdfBand = { n, maxRank, alpha, points, z, lower, upper, gamma };
  bandCache.set(key, band);
  return band;
}

/** The smallest two-sided tail probability of the cumulative counts at the points. */
function minTail(hist: Int32Array, points: Int32Array, tails: Float64Array[]): number {
  let cum = 0;
  let next = 0;
  let min = 1;
  for (let r = 0; r < hist.length && next < points.length; r++) {
    cum += hist[r];
    if (r === points[next]) {
      const t = tails[next][cum];
      if (t < min) min = t;
      next++;
    }
  }
  return min;
}

/** Result of {@link ecdfBandTest}. */
export interface EcdfTestResult {
  readonly band: EcdfBand;
  /** ECDF minus the uniform CDF at the band's points (the ECDF-difference plot). */
  readonly difference: Float64Array;
  /** Indices (into `band.points`) where the ECDF leaves the band. */
  readonly violations: number[];
  /** True when the ECDF stays inside the band everywhere. */
  readonly pass: boolean;
}

/** Check ranks in 0..L against the simultaneous ECDF band at level `alpha`. */
export function ecdfBandTest(ranks: ArrayLike<number>, maxRank: number, alpha: number, options: EcdfBandOptions = {}): EcdfTestResult {
  checkRanks(ranks, maxRank, 'ecdfBandTest');
  const band = uniformEcdfBand(ranks.length, maxRank, alpha, options);
  const hist = new Int32Array(maxRank + 1);
  for (let i = 0; i < ranks.length; i++) hist[ranks[i]]++;
  const difference = new Float64Array(band.points.length);
  const violations: number[] = [];
  let cum = 0;
  let next = 0;
  for (let r = 0; r <= maxRank && next < band.points.length; r++) {
    cum += hist[r];
    if (r === band.points[next]) {
      difference[next] = cum / ranks.length - band.z[next];
      if (cum < band.lower[next] || cum > band.upper[next]) violations.push(next);
      next++;
    }
  }
  return { band, difference, violations, pass: violations.length === 0 };
}
