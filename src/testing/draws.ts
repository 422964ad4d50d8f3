/**
 * Roughly independent posterior draws from any engine's output, as rank
 * statistics need them: weighted draws (importance sampling, SMC,
 * enumeration) are resampled by weight; MCMC chains are thinned by their
 * effective sample size (Talts et al. 2018, section 5.1) so that
 * autocorrelation does not masquerade as miscalibration.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { essBulk } from '../diagnostics/ess.js';
import type { Draw, Posterior } from '../infer/posterior.js';
import { flattenValues } from './simulate.js';

/** Draws selected by {@link independentDraws}, with how they were chosen. */
export interface IndependentDraws<R = unknown> {
  /** The selected draws (at most the number asked for). */
  readonly draws: Draw<R>[];
  /** `'resampled'` (by weight) or `'thinned'` (MCMC chains, by ESS). */
  readonly how: 'resampled' | 'thinned';
  /** For thinned chains: the smallest bulk ESS over the scalar quantities, and the stride used. */
  readonly ess?: number;
  readonly stride?: number;
}

/**
 * Draws of each scalar quantity split by chain, for the quantities present
 * in every draw (models whose structure varies keep their common sites),
 * each chain cut to the shortest chain's length.
 */
function commonChainColumns<R>(draws: readonly Draw<R>[]): Map<string, Float64Array[]> {
  const flat = draws.map((d) => flattenValues(d.values));
  const names = [...flat[0].keys()].filter((k) => flat.every((f) => f.has(k)));
  const chainIds = [...new Set(draws.map((d) => d.chain as number))];
  const rows = chainIds.map((c) => flat.filter((_, i) => draws[i].chain === c));
  const len = Math.min(...rows.map((r) => r.length));
  const out = new Map<string, Float64Array[]>();
  for (const name of names) out.set(name, rows.map((r) => Float64Array.from({ length: len }, (_, i) => r[i].get(name) as number)));
  return out;
}

/** True when every draw is tagged with a chain and the weights are equal (MCMC output). */
function isChainOutput(post: Posterior<never[], unknown>): boolean {
  if (post.draws.length === 0 || post.draws.some((d) => d.chain === undefined)) return false;
  const w0 = post.weights[0];
  return post.weights.every((w) => Math.abs(w - w0) <= 1e-12);
}

/**
 * Select up to `n` approximately independent draws from a posterior.
 *
 * - Weighted output: `n` draws resampled in proportion to the weights
 *   (independent given the weighted set).
 * - MCMC output (chain-tagged, equal weights): each chain is thinned with
 *   stride ceil(total draws / ESS), ESS the smallest bulk ESS over the
 *   scalar quantities present in every draw (constant ones ignored); `n` of the thinned draws
 *   are kept at random. Fewer than `n` come back when the chains hold fewer
 *   effective draws; callers rescale ranks (see `sbc`).
 */
export function independentDraws<A extends unknown[], R>(post: Posterior<A, R>, n: number, rng: Rng): IndependentDraws<R> {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`independentDraws: n must be a positive integer, got ${n}`);
  const p = post as unknown as Posterior<never[], unknown>;
  if (!isChainOutput(p)) return { draws: post.resampleIndices(n, rng).map((i) => post.draws[i]), how: 'resampled' };
  let ess = Infinity;
  for (const chains of commonChainColumns(post.draws).values()) {
    const e = essBulk(chains);
    if (Number.isFinite(e)) ess = Math.min(ess, e);
  }
  const total = post.draws.length;
  const stride = Number.isFinite(ess) && ess > 0 ? Math.max(1, Math.ceil(total / ess)) : 1;
  // thin each chain separately, keeping the order within chains
  const byChain = new Map<number, Draw<R>[]>();
  for (const d of post.draws) {
    const c = d.chain as number;
    let list = byChain.get(c);
    if (!list) byChain.set(c, (list = []));
    list.push(d);
  }
  const thinned: Draw<R>[] = [];
  for (const list of byChain.values()) for (let i = list.length - 1; i >= 0; i -= stride) thinned.push(list[i]);
  // a random subset of n (partial Fisher-Yates)
  const k = Math.min(n, thinned.length);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(thinned.length - i);
    [thinned[i], thinned[j]] = [thinned[j], thinned[i]];
  }
  return { draws: thinned.slice(0, k), how: 'thinned', ess, stride };
}
