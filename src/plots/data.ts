/**
 * Tables of plain rows drawn from a {@link Posterior}, in the long ("tidy")
 * layout that Vega-Lite encodes: one row per scalar value.
 *
 * @module
 */
import type { Posterior } from '../infer/posterior.js';
import { Rng } from '../core/rng.js';

/** One scalar value of one draw. */
export interface DrawRow {
  /** Scalar quantity, e.g. `mu` or `theta[2]`. */
  readonly site: string;
  /** Index of the draw in `posterior.draws`. */
  readonly draw: number;
  /** Chain index (0 when the posterior has no chains). */
  readonly chain: number;
  /** Position of the draw within its chain (or among all draws). */
  readonly iteration: number;
  /** The scalar value. */
  readonly value: number;
  /** Normalised weight of the draw among those that have this quantity. */
  readonly weight: number;
}

/**
 * The scalar quantities named by `sites`: exact element names (`theta[1]`)
 * or whole sites (`theta` gives every `theta[...]`). All of them by default,
 * at most `limit`.
 */
export function selectColumns(post: Posterior, sites: readonly string[] | undefined, who: string, limit = Infinity): string[] {
  const known = [...post.scalarColumns().keys()];
  if (known.length === 0) throw new Error(`${who}: the posterior has no scalar latent quantities to plot`);
  if (sites === undefined) return known.slice(0, limit);
  if (!Array.isArray(sites) || sites.length === 0) throw new Error(`${who}: sites must be a non-empty array of names`);
  const out: string[] = [];
  for (const s of sites) {
    const matches = known.includes(s) ? [s] : known.filter((k) => k.startsWith(`${s}[`));
    if (matches.length === 0) throw new Error(`${who}: no scalar quantity named "${s}"; known: ${known.join(', ')}`);
    for (const m of matches) if (!out.includes(m)) out.push(m);
  }
  return out;
}

/** True when every draw has the same weight (MCMC output). */
export function equallyWeighted(post: Posterior): boolean {
  const w = post.weights;
  for (let i = 1; i < w.length; i++) if (Math.abs(w[i] - w[0]) > 1e-12 * Math.max(1, w[0])) return false;
  return true;
}

/** Long-format rows for the chosen quantities, with per-chain iteration numbers. */
export function drawRows(post: Posterior, names: readonly string[]): DrawRow[] {
  const cols = post.scalarColumns();
  const iterationOf = new Int32Array(post.size);
  const seen = new Map<number, number>();
  post.draws.forEach((d, i) => {
    const c = d.chain ?? 0;
    const k = seen.get(c) ?? 0;
    iterationOf[i] = k;
    seen.set(c, k + 1);
  });
  const rows: DrawRow[] = [];
  for (const name of names) {
    const col = cols.get(name);
    if (!col) continue;
    let total = 0;
    for (let i = 0; i < col.draw.length; i++) total += post.weights[col.draw[i]];
    for (let i = 0; i < col.draw.length; i++) {
      const d = col.draw[i];
      const value = col.values[i];
      if (!Number.isFinite(value)) continue;
      rows.push({ site: name, draw: d, chain: post.draws[d].chain ?? 0, iteration: iterationOf[d], value, weight: total > 0 ? post.weights[d] / total : 0 });
    }
  }
  return rows;
}

/**
 * Indices of at most `max` draws that represent the posterior with equal
 * weights: every draw (or an even thinning) for equally weighted draws, a
 * seeded weighted resample otherwise.
 */
export function representativeDraws(post: Posterior, max: number, seed: number | string = 0): number[] {
  if (!(Number.isInteger(max) && max > 0)) throw new RangeError(`maxPoints must be a positive integer, got ${max}`);
  if (equallyWeighted(post)) {
    const n = post.size;
    if (n <= max) return Array.from({ length: n }, (_, i) => i);
    return Array.from({ length: max }, (_, k) => Math.floor((k * n) / max));
  }
  return post.resampleIndices(max, new Rng(seed));
}

/** Per-draw sampler flags from MCMC diagnostics: 1 where the transition diverged, by draw index. */
export function divergentFlags(post: Posterior): Uint8Array | undefined {
  const stats = post.diagnostics.stats as { divergent?: ArrayLike<number> }[] | undefined;
  if (!Array.isArray(stats) || stats.some((s) => s?.divergent === undefined)) return undefined;
  const flags = new Uint8Array(post.size);
  const seen = new Map<number, number>();
  post.draws.forEach((d, i) => {
    const c = d.chain ?? 0;
    const k = seen.get(c) ?? 0;
    seen.set(c, k + 1);
    flags[i] = stats[c]?.divergent?.[k] ? 1 : 0;
  });
  return flags;
}
