/**
 * Monte Carlo standard errors (MCSE) of posterior summaries estimated from
 * MCMC draws, after Vehtari et al. (2021) and the posterior R package.
 *
 * @module
 */
import { type ChainDraws, allFinite, mapDraws, pool, splitChains, toChains } from './draws.js';
import { essOfPreparedChains, indicatorEss } from './ess.js';
import { mean, quantileSorted, sortedCopy, variance } from './empirical.js';
import { betaQuantile } from './inverse-cdf.js';

/**
 * MCSE of the posterior mean: sd / sqrt(ESS), with the sd of all draws and
 * the basic split ESS. NaN where the ESS is (non-finite or constant draws).
 */
export function mcseMean(draws: ChainDraws): number {
  const chains = toChains(draws, 'mcseMean');
  return Math.sqrt(variance(pool(chains)) / essOfPreparedChains(splitChains(chains)));
}

/**
 * MCSE of the posterior standard deviation, without assuming normality: with
 * c = (x - mean)^2, Var(s^2) ~ (mean(c^2) - mean(c)^2) / ESS(c), and by the
 * delta method Var(s) ~ Var(s^2) / (4 s^2) (Kenney and Keeping 1951).
 */
export function mcseSd(draws: ChainDraws): number {
  const chains = toChains(draws, 'mcseSd');
  if (!allFinite(chains)) return NaN;
  const m = mean(pool(chains));
  const sq = mapDraws(chains, (x) => (x - m) ** 2);
  const flat = pool(sq);
  const ev = mean(flat);
  const varOfVar = (mean(flat.map((c) => c * c)) - ev * ev) / essOfPreparedChains(splitChains(sq));
  return Math.sqrt(varOfVar / ev / 4);
}

/** Probabilities of the normal distribution's +-1 sd points: Phi(-1), Phi(1). */
const ONE_SIGMA = [0.15865525393145707, 0.8413447460685429] as const;

/**
 * MCSE of the p-quantile estimate. With E the ESS of I(x <= q_p), the
 * uncertainty about which order statistic is the quantile is Beta(E p + 1,
 * E (1 - p) + 1); its +-1 sd probability points a1, a2 pick the order
 * statistics x_(floor(a1 S)) and x_(ceil(a2 S)) of the S pooled draws, and the
 * MCSE is half their distance.
 *
 * @throws RangeError when p is not in [0, 1] or the draws are malformed.
 */
export function mcseQuantile(draws: ChainDraws, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`mcseQuantile: probability p must lie in [0, 1], got ${p}`);
  const chains = toChains(draws, 'mcseQuantile');
  if (!allFinite(chains)) return NaN;
  const sorted = sortedCopy(pool(chains));
  const q = quantileSorted(sorted, p);
  const ess = indicatorEss(chains, q);
  if (!(ess > 0)) return NaN;
  const s = sorted.length;
  const a1 = betaQuantile(ONE_SIGMA[0], ess * p + 1, ess * (1 - p) + 1);
  const a2 = betaQuantile(ONE_SIGMA[1], ess * p + 1, ess * (1 - p) + 1);
  // 1-based order statistics as in posterior, clamped into 1..S
  const lo = Math.max(Math.floor(a1 * s), 1);
  const hi = Math.min(Math.ceil(a2 * s), s);
  return (sorted[hi - 1] - sorted[lo - 1]) / 2;
}
