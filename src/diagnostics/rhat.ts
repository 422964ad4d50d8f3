/**
 * The potential scale reduction factor R-hat: classic split-R-hat and the
 * rank-normalized, folded version of Vehtari, Gelman, Simpson, Carpenter and
 * Bürkner (2021). Values near 1 (below 1.01) suggest the chains agree.
 *
 * @module
 */
import { type ChainDraws, allFinite, mapDraws, pool, rankNormalize, readChains, splitChains, toChains } from './draws.js';
import { mean, quantile, variance } from './empirical.js';

/**
 * R-hat of chains as given (no splitting): with n draws per chain, B/n the
 * variance of the chain means and W the mean within-chain variance,
 * R-hat = sqrt(((n - 1)/n W + B/n) / W).
 *
 * Returns NaN when a draw is not finite, a chain has fewer than 2 draws or
 * every draw is the same, and Infinity when every chain is constant but
 * they disagree (stuck chains).
 */
export function rhatOfPreparedChains(chains: readonly Float64Array[]): number {
  const n = chains[0].length;
  if (n < 2 || !allFinite(chains)) return NaN;
  return rhatOfVariances(n, mean(chains.map((c) => variance(c))), chains.length > 1 ? variance(chains.map((c) => mean(c))) : 0);
}

/**
 * R-hat from n draws per chain, W the mean within-chain variance and B/n
 * the variance of the chain means: sqrt(((n - 1)/n W + B/n) / W); NaN where
 * every draw is the same, Infinity where each chain is constant but they
 * disagree.
 */
export function rhatOfVariances(n: number, within: number, betweenOverN: number): number {
  const varPlus = ((n - 1) / n) * within + betweenOverN;
  if (within === 0) return betweenOverN > 0 ? Infinity : NaN;
  return Math.sqrt(varPlus / within);
}

/**
 * Classic split-R-hat (Gelman et al., BDA3): R-hat of the chains cut into
 * halves. Sensitive to differences in location between chains, but not to
 * differences in scale, and unreliable for heavy tails; prefer
 * {@link rankNormalizedSplitRhat}.
 *
 * @param draws - chains x draws of one scalar quantity.
 * @throws RangeError when draws are not a non-empty, rectangular chains x draws array.
 */
export function splitRhat(draws: ChainDraws): number {
  return rhatOfPreparedChains(splitChains(readChains(draws, 'splitRhat')));
}

function bulk(chains: Float64Array[]): number {
  if (!allFinite(chains)) return NaN;
  return rhatOfPreparedChains(rankNormalize(splitChains(chains)));
}

function tail(chains: Float64Array[]): number {
  if (!allFinite(chains)) return NaN;
  const med = quantile(pool(chains), 0.5);
  return rhatOfPreparedChains(rankNormalize(splitChains(mapDraws(chains, (x) => Math.abs(x - med)))));
}

/**
 * Bulk R-hat: split-R-hat of the rank-normalized draws; detects chains that
 * disagree in location, and works for heavy tails.
 */
export function rhatBulk(draws: ChainDraws): number {
  return bulk(toChains(draws, 'rhatBulk'));
}

/**
 * Tail (folded) R-hat: split-R-hat of the rank-normalized distances from the
 * pooled median, |x - median|; detects chains that disagree in scale.
 */
export function rhatTail(draws: ChainDraws): number {
  return tail(toChains(draws, 'rhatTail'));
}

/**
 * The improved R-hat of Vehtari et al. (2021): the larger of
 * {@link rhatBulk} and {@link rhatTail}. Use chains with R-hat < 1.01.
 */
export function rankNormalizedSplitRhat(draws: ChainDraws): number {
  const chains = toChains(draws, 'rankNormalizedSplitRhat');
  return Math.max(bulk(chains), tail(chains));
}
