/**
 * A posterior as a plain JSON object in the layout of ArviZ's `from_dict`:
 * every quantity as nested arrays of shape `(chain, draw, *event_shape)`.
 * Documented in docs/cli.md (`tyche run --out`).
 *
 * @module
 */
import type { Posterior } from '../infer/posterior.js';
import { type Value, isTensor } from '../core/value.js';

/** Nested arrays of numbers (or null where a draw lacks the quantity). */
export type NestedArray = (number | boolean | null | NestedArray)[];

/** The JSON document written by `tyche run --out`. */
export interface ArviZDict {
  /** Layout identifier and version: `tyche-arviz/1`. */
  readonly format: 'tyche-arviz/1';
  /** Latent quantities by address, each `chain x draw x *shape`. */
  readonly posterior: Record<string, NestedArray>;
  /** Per-draw sampler statistics, each `chain x draw`, named as ArviZ names them. */
  readonly sample_stats: Record<string, NestedArray>;
  /** Run metadata: method, chains, draws, seed, log marginal likelihood, ... */
  readonly attrs: Record<string, string | number | boolean | null>;
}

/** SamplerStats field -> ArviZ sample_stats name. */
const STAT_NAMES: [string, string][] = [
  ['divergent', 'diverging'],
  ['acceptStat', 'acceptance_rate'],
  ['treeDepth', 'tree_depth'],
  ['energy', 'energy'],
  ['logDensity', 'lp'],
  ['stepSize', 'step_size'],
  ['nLeapfrog', 'n_steps'],
];

function plain(v: Value | undefined): number | boolean | null | NestedArray {
  if (v === undefined) return null;
  if (isTensor(v)) {
    const a = v.arraySync();
    return (typeof a === 'number' ? a : (a as NestedArray)) as number | NestedArray;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  return null;
}

/** Draw indices grouped by chain, in order (one group for posteriors without chains). */
function chainGroups(post: Posterior): number[][] {
  if (post.draws.some((d) => d.chain === undefined)) return [post.draws.map((_, i) => i)];
  const groups: number[][] = [];
  post.draws.forEach((d, i) => {
    (groups[d.chain as number] ??= []).push(i);
  });
  return groups.filter((g) => g !== undefined);
}

/**
 * Convert a posterior to the `from_dict` layout. MCMC draws keep their
 * chains; weighted draws (importance, SMC, enumeration) become one chain
 * with their log-weights in `sample_stats.log_weight` — resample them
 * before treating them as equally weighted. NUTS/HMC statistics are
 * renamed to ArviZ's names (`diverging`, `acceptance_rate`, `tree_depth`,
 * `energy`, `lp`, `step_size`, `n_steps`).
 */
export function toArviZ(post: Posterior, attrs: Record<string, string | number | boolean | null> = {}): ArviZDict {
  const groups = chainGroups(post);
  const posterior: Record<string, NestedArray> = {};
  for (const addr of post.addresses()) posterior[addr] = groups.map((g) => g.map((i) => plain(post.draws[i].values[addr])));
  const sample_stats: Record<string, NestedArray> = {};
  const stats = post.diagnostics.stats;
  if (Array.isArray(stats) && stats.length === groups.length) {
    for (const [field, name] of STAT_NAMES) {
      const perChain = stats.map((s: Record<string, ArrayLike<number> | undefined>) => s?.[field]);
      if (perChain.some((a) => a === undefined)) continue;
      sample_stats[name] = perChain.map((a, c) => Array.from({ length: groups[c].length }, (_, k) => (name === 'diverging' ? (a as ArrayLike<number>)[k] === 1 : (a as ArrayLike<number>)[k])));
    }
  }
  const weighted = !post.draws.every((d) => d.logWeight === post.draws[0]?.logWeight);
  if (weighted) sample_stats.log_weight = groups.map((g) => g.map((i) => post.draws[i].logWeight));
  return {
    format: 'tyche-arviz/1',
    posterior,
    sample_stats,
    attrs: {
      method: post.method,
      chains: groups.length,
      draws: groups[0]?.length ?? 0,
      weighted,
      log_marginal_likelihood: Number.isFinite(post.logZ) ? post.logZ : null,
      created_at: new Date().toISOString(),
      ...attrs,
    },
  };
}
