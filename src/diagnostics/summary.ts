/**
 * A posterior summary table of MCMC draws with convergence diagnostics, one
 * row per scalar quantity, in the layout of Stan's and ArviZ's summaries.
 *
 * @module
 */
import { type ChainDraws, pool, toChains } from './draws.js';
import { mean, quantileSorted, sortedCopy, variance } from './empirical.js';
import { essBulk, essTail } from './ess.js';
import { mcseMean, mcseSd } from './mcse.js';
import { rankNormalizedSplitRhat } from './rhat.js';

/**
 * One row of {@link summarize}. (A type alias rather than an interface, so a
 * row is assignable to the `SummaryRow` of `Posterior.summary()`.)
 */
export type DiagnosticsRow = {
  /** The quantity's name, e.g. `theta[1]`. */
  readonly name: string;
  /** Posterior mean over all draws. */
  readonly mean: number;
  /** Posterior standard deviation over all draws (n - 1 denominator). */
  readonly sd: number;
  /** 5% quantile. */
  readonly q5: number;
  /** Median. */
  readonly q50: number;
  /** 95% quantile. */
  readonly q95: number;
  /** Monte Carlo standard error of the mean ({@link mcseMean}). */
  readonly mcse_mean: number;
  /** Monte Carlo standard error of the sd ({@link mcseSd}). */
  readonly mcse_sd: number;
  /** Bulk effective sample size ({@link essBulk}). */
  readonly ess_bulk: number;
  /** Tail effective sample size ({@link essTail}). */
  readonly ess_tail: number;
  /** Rank-normalized split R-hat ({@link rankNormalizedSplitRhat}). */
  readonly r_hat: number;
};

/** The diagnostics row of one quantity. */
export function summarizeOne(name: string, draws: ChainDraws): DiagnosticsRow {
  const chains = toChains(draws, `summarize: quantity '${name}'`);
  const flat = pool(chains);
  const sorted = sortedCopy(flat);
  const finite = flat.every(Number.isFinite);
  const q = (p: number): number => (finite ? quantileSorted(sorted, p) : NaN);
  return {
    name,
    mean: mean(flat),
    sd: Math.sqrt(variance(flat)),
    q5: q(0.05),
    q50: q(0.5),
    q95: q(0.95),
    mcse_mean: mcseMean(chains),
    mcse_sd: mcseSd(chains),
    ess_bulk: essBulk(chains),
    ess_tail: essTail(chains),
    r_hat: rankNormalizedSplitRhat(chains),
  };
}

/**
 * Summarizes several scalar quantities, each given as chains x draws, in
 * the order of the map (or object): mean, sd, 5/50/95% quantiles, MCSEs,
 * bulk and tail ESS and rank-normalized R-hat.
 *
 * @throws RangeError naming the quantity whose draws are not a rectangular chains x draws array.
 */
export function summarize(columns: ReadonlyMap<string, ChainDraws> | Readonly<Record<string, ChainDraws>>): DiagnosticsRow[] {
  const entries = columns instanceof Map ? [...columns.entries()] : Object.entries(columns as Record<string, ChainDraws>);
  return entries.map(([name, draws]) => summarizeOne(name, draws));
}
