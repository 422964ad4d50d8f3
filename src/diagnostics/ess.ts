/**
 * Effective sample size (ESS) of MCMC draws, following Vehtari, Gelman,
 * Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
 * localization: An improved R-hat for assessing convergence of MCMC", as in
 * Stan (`stan::analyze::compute_effective_sample_size`), the posterior R
 * package and ArviZ.
 *
 * @module
 */
import { autocovariance } from './autocorrelation.js';
import { type ChainDraws, allFinite, pool, rankNormalize, readChains, splitChains, toChains } from './draws.js';
import { quantile, quantileSorted, variance } from './empirical.js';
import { rhatOfVariances } from './rhat.js';

/** Fewest draws per (split) chain for which an ESS is estimated; fewer give NaN. */
export const MIN_DRAWS_FOR_ESS = 4;

/** Options of {@link essBasic}. */
export interface EssOptions {
  /** Split each chain in half first (default true), as Stan's split-ESS. */
  readonly split?: boolean;
}

/**
 * Chains centred on their own means, end to end in one buffer, with the
 * variances R-hat and the ESS share: made in two plain passes per chain (the
 * first checks every draw is finite), with no copy per chain and no callback
 * per draw, since on a process's first MCMC call this code runs interpreted.
 */
interface Centred {
  /** Number of chains. */
  readonly m: number;
  /** Draws per chain. */
  readonly n: number;
  /** Chain j's centred draws at `j * n .. (j + 1) * n`. */
  readonly data: Float64Array;
  /** W: the mean within-chain variance (n - 1 denominator). */
  readonly within: number;
  /** B / n: the variance of the chain means (0 for one chain). */
  readonly betweenOverN: number;
}

/** The chains centred (see {@link Centred}); undefined when a draw is not finite. */
function centre(chains: readonly Float64Array[]): Centred | undefined {
  const m = chains.length;
  const n = chains[0].length;
  const data = new Float64Array(m * n);
  const means = new Float64Array(m);
  let within = 0;
  for (let j = 0; j < m; j++) {
    const c = chains[j];
    let s = 0;
    for (let i = 0; i < n; i++) {
      const v = c[i];
      if (v - v !== 0) return undefined; // NaN or an infinity
      s += v;
    }
    const mu = s / n;
    let ss = 0;
    const o = j * n;
    for (let i = 0; i < n; i++) {
      const d = c[i] - mu;
      data[o + i] = d;
      ss += d * d;
    }
    means[j] = mu;
    within += ss / (n - 1);
  }
  // variance(means), written out: a call first reached after the loops had no feedback when V8 compiled the loops
  // on the stack, so it threw that code away at the call, once per quantity (20 times on eight schools' warnings)
  let betweenOverN = 0;
  if (m > 1) {
    let s = 0;
    for (let j = 0; j < m; j++) s += means[j];
    const mm = s / m;
    let v = 0;
    for (let j = 0; j < m; j++) v += (means[j] - mm) ** 2;
    betweenOverN = v / (m - 1);
  }
  return { m, n, data, within: within / m, betweenOverN };
}

/**
 * The ESS estimator on chains already centred: see
 * {@link essOfPreparedChains}. With W the mean within-chain variance and
 * var+ = (n-1)/n W + var(chain means), rho_t = 1 - (W - mean_j gamma_{t,j}) / var+.
 */
function essOfCentred(c: Centred, chains: readonly Float64Array[]): number {
  return essOfAutocovariance(c.m, c.n, c.within, c.betweenOverN, new MeanAutocovariance(c, chains));
}

/** A source of the mean over chains of each chain's autocovariance at lag t (sums over n, centred on the chain's mean). */
interface LagAutocovariance {
  at(t: number): number;
}

/**
 * The ESS estimator of {@link essOfPreparedChains} from its ingredients: `nChains` chains of `n` draws, W (`within`),
 * the variance of the chain means (`betweenOverN`) and the mean autocovariance by lag.
 */
function essOfAutocovariance(nChains: number, n: number, within: number, betweenOverN: number, acov: LagAutocovariance): number {
  const varPlus = (within * (n - 1)) / n + betweenOverN;
  if (!(varPlus > 0)) return NaN; // all draws identical

  const rho = new Float64Array(n);
  rho[0] = 1;
  rho[1] = 1 - (within - acov.at(1)) / varPlus;
  // Geyer's initial positive sequence over pairs (t, t + 1), t even
  let t = 0;
  let lastEven = rho[0];
  let lastOdd = rho[1];
  while (t + 3 < n - 1 && lastEven + lastOdd > 0) {
    lastEven = 1 - (within - acov.at(t + 2)) / varPlus;
    lastOdd = 1 - (within - acov.at(t + 3)) / varPlus;
    if (lastEven + lastOdd >= 0) {
      rho[t + 2] = lastEven;
      rho[t + 3] = lastOdd;
    }
    t += 2;
  }
  const maxT = t; // first lag of the last pair examined
  if (lastEven > 0) rho[maxT] = lastEven;
  // Geyer's initial monotone sequence: pair sums may not increase
  for (let s = 2; s <= maxT - 2; s += 2) {
    const prev = rho[s - 2] + rho[s - 1];
    if (rho[s] + rho[s + 1] > prev) {
      rho[s] = prev / 2;
      rho[s + 1] = prev / 2;
    }
  }
  let sum = 0;
  for (let i = 0; i < maxT; i++) sum += rho[i];
  const total = nChains * n;
  const tau = Math.max(-1 + 2 * sum + rho[maxT], 1 / Math.log10(total));
  return total / tau;
}

/**
 * The ESS estimator on chains already prepared (split, rank-normalized or
 * transformed as the caller wants).
 *
 * Autocovariances gamma_{t,j} of each chain j are summed directly for the
 * first lags and come from an FFT beyond; with W the mean within-chain
 * variance and var+ = (n-1)/n W + var(chain means), the combined
 * autocorrelation is rho_t = 1 - (W - mean_j gamma_{t,j}) / var+ (so
 * between-chain disagreement lowers the ESS). The sum of rho_t is truncated by
 * Geyer's initial positive sequence (pairs rho_{2k} + rho_{2k+1} kept while
 * positive), made monotone by Geyer's initial monotone sequence, and the
 * last even lag is kept as in Stan's improved (antithetic-friendly) estimate:
 * tau = -1 + 2 sum_{t < T} rho_t + rho_T, ESS = M n / max(tau, 1 / log10(M n)).
 *
 * Returns NaN when a draw is not finite, when there are fewer than
 * {@link MIN_DRAWS_FOR_ESS} draws per chain, or when every draw is the same.
 */
export function essOfPreparedChains(chains: readonly Float64Array[]): number {
  if (chains[0].length < MIN_DRAWS_FOR_ESS) return NaN;
  const c = centre(chains);
  return c === undefined ? NaN : essOfCentred(c, chains);
}

/** Lags summed directly before the FFT is used (Geyer's truncation usually stops well before this). */
const DIRECT_LAGS = 32;

/**
 * The mean over chains of each chain's autocovariance at lag t (as
 * `autocovariance` computes it: sums over n, centred on the chain's mean):
 * the first {@link DIRECT_LAGS} lags by direct sums, two lags (t and t + 1,
 * which the ESS asks for in turn) per pass over the draws, and all lags by
 * FFT once a later one is asked for. The ESS reads lags only until Geyer's
 * truncation, a few for a well-mixed chain, where one FFT per chain cost
 * more than the rest of the diagnostics. A class, not a closure made per
 * quantity: on a process's first MCMC call V8 compiled the closure's loop
 * two or three times over the warnings' quantities (issue 16, session 12).
 */
class MeanAutocovariance {
  private acovs: Float64Array[] | undefined;
  private pairAt = -1;
  private pairEven = 0;
  private pairOdd = 0;

  constructor(
    private readonly c: Centred,
    private readonly chains: readonly Float64Array[],
  ) {}

  /** The mean autocovariance at lag `t`. */
  at(t: number): number {
    if (t < DIRECT_LAGS && this.acovs === undefined) {
      const base = t - (t & 1);
      if (base !== this.pairAt) this.sumPair(base);
      return t === base ? this.pairEven : this.pairOdd;
    }
    this.acovs ??= this.chains.map((ch) => autocovariance(ch));
    let s = 0;
    for (const a of this.acovs) s += a[t];
    return s / this.c.m;
  }

  /** Lags `base` and `base + 1` by direct sums, in one pass over the draws. */
  private sumPair(base: number): void {
    const { m, n, data } = this.c;
    let even = 0;
    let odd = 0;
    for (let j = 0; j < m; j++) {
      const o = j * n;
      let se = 0;
      let so = 0;
      // lag base for i < n - base, lag base + 1 for i < n - base - 1
      const last = o + n - base - 1;
      for (let i = o; i < last; i++) {
        const x = data[i];
        se += x * data[i + base];
        so += x * data[i + base + 1];
      }
      if (last >= o) se += data[last] * data[last + base];
      even += se / n;
      odd += so / n;
    }
    this.pairAt = base;
    this.pairEven = even / m;
    this.pairOdd = odd / m;
  }
}

/**
 * Classic split R-hat and the basic (split) ESS of one quantity together,
 * the values {@link splitRhat} and {@link essBasic} give, from one centring
 * of the split chains shared by both (they read the same chain means and
 * within-chain variances): what `infer` reads for its MCMC warnings, where
 * computing them apart cost twice the passes and copies over every
 * quantity's draws.
 *
 * @param draws - chains x draws of one scalar quantity.
 * @throws RangeError when draws are not a non-empty, rectangular chains x draws array.
 */
export function splitRhatAndEss(draws: ChainDraws): { rhat: number; ess: number } {
  const chains = splitChains(readChains(draws, 'splitRhatAndEss'));
  const n = chains[0].length;
  if (n < 2) return { rhat: NaN, ess: NaN };
  const c = centre(chains);
  if (c === undefined) return { rhat: NaN, ess: NaN };
  return { rhat: rhatOfVariances(n, c.within, c.betweenOverN), ess: n < MIN_DRAWS_FOR_ESS ? NaN : essOfCentred(c, chains) };
}

/**
 * Basic ESS: the effective number of independent draws for estimating the
 * mean of the quantity, from split chains (unless `split: false`). Use it for
 * Monte Carlo standard errors of means; for convergence checking prefer
 * {@link essBulk} and {@link essTail}.
 *
 * @param draws - chains x draws of one scalar quantity.
 * @throws RangeError when draws are not a non-empty, rectangular chains x draws array.
 */
export function essBasic(draws: ChainDraws, options: EssOptions = {}): number {
  const chains = readChains(draws, 'essBasic');
  return essOfPreparedChains(options.split === false ? chains : splitChains(chains));
}

/**
 * Bulk ESS: the ESS of the rank-normalized split chains. Robust to heavy
 * tails and invariant to monotone transformations; measures sampling
 * efficiency in the bulk of the distribution (for means and medians).
 */
export function essBulk(draws: ChainDraws): number {
  const chains = toChains(draws, 'essBulk');
  if (!allFinite(chains)) return NaN;
  return essOfPreparedChains(rankNormalize(splitChains(chains)));
}

/**
 * Split ESS of the indicator I(x <= threshold) over chains already checked;
 * the building block of quantile ESS and quantile MCSE.
 */
export function indicatorEss(chains: readonly Float64Array[], threshold: number): number {
  return essOfPreparedChains(splitIndicators(chains, threshold));
}

/**
 * The split chains (as `splitChains` cuts them: each chain's first and last
 * floor(n / 2) draws) of the indicator I(x <= threshold), made by plain loops
 * straight into the halves: the same arrays as `splitChains(mapDraws(...))`
 * without a callback per draw or a copy of each whole chain first.
 */
function splitIndicators(chains: readonly Float64Array[], threshold: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (const c of chains) {
    const len = c.length;
    const half = Math.floor(len / 2);
    const first = new Float64Array(half);
    const second = new Float64Array(half);
    const from = len - half;
    for (let i = 0; i < half; i++) {
      first[i] = c[i] <= threshold ? 1 : 0;
      second[i] = c[from + i] <= threshold ? 1 : 0;
    }
    out.push(first, second);
  }
  return out;
}

function essQuantileOf(chains: Float64Array[], p: number): number {
  if (!allFinite(chains)) return NaN;
  return indicatorEss(chains, quantile(pool(chains), p));
}

/**
 * ESS for estimating the p-quantile: the basic split ESS of the indicator
 * I(x <= q_p), with q_p the pooled sample quantile.
 *
 * @throws RangeError when p is not in [0, 1] or the draws are malformed.
 */
export function essQuantile(draws: ChainDraws, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`essQuantile: probability p must lie in [0, 1], got ${p}`);
  return essQuantileOf(toChains(draws, 'essQuantile'), p);
}

/**
 * Tail ESS: the smaller of the ESS for the 5% and 95% quantiles, which
 * measures sampling efficiency in the tails (for intervals). Both quantiles
 * come from one sort of the pooled draws (MCMC's warnings call this per site).
 */
export function essTail(draws: ChainDraws): number {
  const chains = readChains(draws, 'essTail');
  if (!allFinite(chains)) return NaN;
  // pool() is a fresh copy: sorted in place (quantiles() would copy it again)
  const sorted = pool(chains).sort();
  return Math.min(rareIndicatorEss(chains, quantileSorted(sorted, 0.05), false), rareIndicatorEss(chains, quantileSorted(sorted, 0.95), true));
}

/**
 * `indicatorEss` of I(x <= threshold) from the positions of the indicator's rarer value in each split chain:
 * the draws at or below a 5% quantile (`above` false), or above a 95% quantile (`above` true: the complement,
 * whose centred values are the indicator's negated, so the same autocovariances, variances and ESS). An
 * indicator's autocovariance at lag t is a function of counts, (n² C_t - n k (H_t + T_t) + (n - t) k²) / n³ with k
 * the chain's count of the value, C_t its pairs t apart, H_t its count in the first n - t draws and T_t in the last
 * n - t: an integer numerator (exact below 2^53) over one division. So the draws are read once (a comparison each) and the lags
 * cost the pairs of rare draws within {@link DIRECT_LAGS} of each other, where the indicator chains as floats cost
 * a copy, a centring and a pass per two lags, all run interpreted on a process's first MCMC call (issue 16,
 * session 13). Equal to `indicatorEss` up to rounding (the old sums rounded each centred product).
 */
function rareIndicatorEss(chains: readonly Float64Array[], threshold: number, above: boolean): number {
  const len = chains[0].length;
  const half = Math.floor(len / 2);
  if (half < MIN_DRAWS_FOR_ESS) return NaN;
  const acov = new RareIndicatorAutocovariance(chains, threshold, above);
  return essOfAutocovariance(2 * chains.length, half, acov.within, acov.betweenOverN, acov);
}

/**
 * Writes into `at` the positions (0 .. n - 1) of the draws `c[from .. from + n)` at or below `threshold` (`above`
 * false) or above it (`above` true); returns their count. This and the next two are functions of their own, not
 * loops in the constructor below: as its own loops they spent V8's budget within one process's first warnings and
 * had the whole constructor compiled on the stack (OSR, 12-76 ms of TurboFan on one thread at load ~12, for a few
 * ms of interpreted work); apart, only these small loops are compiled.
 */
function rarePositions(c: Float64Array, from: number, n: number, threshold: number, above: boolean, at: Int32Array): number {
  let k = 0;
  for (let i = 0; i < n; i++) {
    // one comparison for both tails (the draws are finite: v <= threshold is !(v > threshold)), so that the
    // second tail's call runs the compare the first one gave feedback for (two compares: V8 threw the loop's
    // code away at the first call for the upper tail, for want of feedback on its compare)
    if (c[from + i] > threshold === above) at[k++] = i;
  }
  return k;
}

/** `pairs[t]` = the number of pairs of positions in `at[0 .. k)` t apart, for 0 < t < DIRECT_LAGS (`at` ascending). */
function countPairs(at: Int32Array, k: number, pairs: Float64Array): void {
  pairs.fill(0);
  for (let a = 0; a < k; a++) {
    const pa = at[a];
    for (let b = a + 1; b < k; b++) {
      const t = at[b] - pa;
      if (t >= DIRECT_LAGS) break;
      pairs[t]++;
    }
  }
}

/** Adds one split chain's indicator autocovariances at lags 0 .. DIRECT_LAGS - 1 (from its `k` positions `at` of `n` draws) to `direct`. */
function addLagTerms(direct: Float64Array, at: Int32Array, k: number, n: number, n3: number, pairs: Float64Array): void {
  // H_t: the count in draws 0 .. n - t - 1; T_t: in draws t .. n - 1 (both k at t = 0)
  let head = k;
  let tail = k;
  let hi = k - 1;
  let lo = 0;
  for (let t = 0; t < DIRECT_LAGS && t < n; t++) {
    while (hi >= 0 && at[hi] >= n - t) (head--, hi--);
    while (lo < k && at[lo] < t) (tail--, lo++);
    const ct = t === 0 ? k : pairs[t];
    direct[t] += (n * n * ct - n * k * (head + tail) + (n - t) * k * k) / n3;
  }
}

/** The mean autocovariance of split indicator chains from the positions of their rarer value (see `rareIndicatorEss`). */
class RareIndicatorAutocovariance {
  /** Mean over split chains of the autocovariance at lags 0 .. DIRECT_LAGS - 1. */
  private readonly direct = new Float64Array(DIRECT_LAGS);
  /** Beyond DIRECT_LAGS: the float indicator chains' autocovariances by FFT, as `indicatorEss` computes them. */
  private far: MeanAutocovariance | undefined;
  /** W: the mean within-chain variance (n - 1 denominator). */
  readonly within: number;
  /** The variance of the chain means (0 for one split chain). */
  readonly betweenOverN: number;

  constructor(
    private readonly chains: readonly Float64Array[],
    private readonly threshold: number,
    above: boolean,
  ) {
    const len = chains[0].length;
    const n = Math.floor(len / 2);
    const m = 2 * chains.length;
    const means = new Float64Array(m);
    let within = 0;
    const at = new Int32Array(n);
    const pairs = new Float64Array(DIRECT_LAGS);
    const n3 = n * n * n;
    for (let h = 0; h < m; h++) {
      const c = chains[h >> 1];
      const from = (h & 1) === 0 ? 0 : len - n;
      const k = rarePositions(c, from, n, threshold, above, at);
      countPairs(at, k, pairs);
      addLagTerms(this.direct, at, k, n, n3, pairs);
      within += (k * (n - k)) / (n * (n - 1));
      means[h] = k / n;
    }
    for (let t = 0; t < DIRECT_LAGS; t++) this.direct[t] /= m;
    this.within = within / m;
    this.betweenOverN = variance(means);
  }

  /** The mean autocovariance at lag `t`. */
  at(t: number): number {
    if (t < DIRECT_LAGS) return this.direct[t];
    if (this.far === undefined) {
      const split = splitIndicators(this.chains, this.threshold);
      this.far = new MeanAutocovariance(centre(split)!, split);
    }
    return this.far.at(t);
  }
}
