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
import { type ChainDraws, allFinite, mapDraws, pool, rankNormalize, splitChains, toChains } from './draws.js';
import { mean, quantile, variance } from './empirical.js';

/** Fewest draws per (split) chain for which an ESS is estimated; fewer give NaN. */
export const MIN_DRAWS_FOR_ESS = 4;

/** Options of {@link essBasic}. */
export interface EssOptions {
  /** Split each chain in half first (default true), as Stan's split-ESS. */
  readonly split?: boolean;
}

/**
 * The ESS estimator on chains already prepared (split, rank-normalized or
 * transformed as the caller wants).
 *
 * Autocovariances gamma_{t,j} of each chain j come from an FFT; with W the mean
 * within-chain variance and var+ = (n-1)/n W + var(chain means), the combined
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
  const nChains = chains.length;
  const n = chains[0].length;
  if (n < MIN_DRAWS_FOR_ESS || !allFinite(chains)) return NaN;
  const meanAcov = meanAutocovariance(chains);
  const within = (meanAcov(0) * n) / (n - 1); // W: mean of the within-chain variances
  let varPlus = (within * (n - 1)) / n;
  if (nChains > 1) varPlus += variance(chains.map((c) => mean(c)));
  if (!(varPlus > 0)) return NaN; // all draws identical
  const rhoAt = (t: number): number => 1 - (within - meanAcov(t)) / varPlus;

  const rho = new Float64Array(n);
  rho[0] = 1;
  rho[1] = rhoAt(1);
  // Geyer's initial positive sequence over pairs (t, t + 1), t even
  let t = 0;
  let lastEven = rho[0];
  let lastOdd = rho[1];
  while (t + 3 < n - 1 && lastEven + lastOdd > 0) {
    lastEven = rhoAt(t + 2);
    lastOdd = rhoAt(t + 3);
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

/** Lags summed directly before the FFT is used (Geyer's truncation usually stops well before this). */
const DIRECT_LAGS = 32;

/**
 * The mean over chains of each chain's autocovariance at lag t (as
 * `autocovariance` computes it: sums over n, centred on the chain's mean),
 * as a function of t: the first {@link DIRECT_LAGS} lags by direct sums,
 * O(n) each, and all lags by FFT once a later one is asked for. The ESS
 * reads lags only until Geyer's truncation, a few for a well-mixed chain,
 * where one FFT per chain cost more than the rest of the diagnostics.
 */
function meanAutocovariance(chains: readonly Float64Array[]): (t: number) => number {
  const n = chains[0].length;
  const centred = chains.map((c) => {
    const mu = mean(c);
    return Float64Array.from(c, (v) => v - mu);
  });
  let acovs: Float64Array[] | undefined;
  return (t: number): number => {
    let s = 0;
    if (t < DIRECT_LAGS && acovs === undefined) {
      for (const c of centred) {
        let d = 0;
        for (let i = 0; i + t < n; i++) d += c[i] * c[i + t];
        s += d / n;
      }
    } else {
      acovs ??= chains.map((c) => autocovariance(c));
      for (const a of acovs) s += a[t];
    }
    return s / chains.length;
  };
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
  const chains = toChains(draws, 'essBasic');
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
  return essOfPreparedChains(splitChains(mapDraws(chains, (x) => (x <= threshold ? 1 : 0))));
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
 * measures sampling efficiency in the tails (for intervals).
 */
export function essTail(draws: ChainDraws): number {
  const chains = toChains(draws, 'essTail');
  return Math.min(essQuantileOf(chains, 0.05), essQuantileOf(chains, 0.95));
}
