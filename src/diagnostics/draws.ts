/**
 * The input shape shared by the MCMC diagnostics: draws of one scalar
 * quantity as chains x draws, plus checks and reshaping helpers.
 *
 * @module
 */
import { averageRanks } from './empirical.js';
import { normalQuantile } from './inverse-cdf.js';

/**
 * Draws of one scalar quantity, one array per chain, every chain the same
 * length (e.g. `number[][]` or `Float64Array[]`). A single chain is `[draws]`.
 */
export type ChainDraws = ReadonlyArray<ArrayLike<number>>;

/**
 * Checks the shape of chains x draws and copies them into Float64Arrays.
 * Throws a RangeError naming `fn` when there are no chains, a chain is not
 * array-like, chains differ in length or they hold no draws.
 */
export function toChains(draws: ChainDraws, fn: string): Float64Array[] {
  return toChainsChecked(draws, fn).map((c) => Float64Array.from(c));
}

/** The chains of `draws` after {@link toChains}' checks, as given. */
function toChainsChecked(draws: ChainDraws, fn: string): readonly ArrayLike<number>[] {
  if (!Array.isArray(draws) || draws.length === 0) {
    throw new RangeError(`${fn}: draws must be a non-empty array of chains (chains x draws), got ${describe(draws)}`);
  }
  const n = lengthOf(draws[0], fn, 0);
  if (n === 0) throw new RangeError(`${fn}: chains must hold at least one draw, chain 0 is empty`);
  draws.forEach((c, i) => {
    const len = lengthOf(c, fn, i);
    if (len !== n) throw new RangeError(`${fn}: all chains must have the same number of draws; chain 0 has ${n}, chain ${i} has ${len}`);
  });
  return draws;
}

/**
 * {@link toChains} without the copy where a chain is a Float64Array already
 * (read-only callers): the same checks and errors.
 */
export function readChains(draws: ChainDraws, fn: string): Float64Array[] {
  const chains = toChainsChecked(draws, fn);
  return chains.map((c) => (c instanceof Float64Array ? c : Float64Array.from(c)));
}

function lengthOf(c: unknown, fn: string, i: number): number {
  const len = (c as { length?: unknown } | null)?.length;
  if (typeof c !== 'object' || c === null || typeof len !== 'number') {
    throw new RangeError(`${fn}: chain ${i} must be an array of numbers, got ${describe(c)} (draws are chains x draws; wrap a single chain as [draws])`);
  }
  return len;
}

function describe(x: unknown): string {
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (x === null) return 'null';
  return typeof x;
}

/** True when every draw is a finite number. */
export function allFinite(chains: readonly Float64Array[]): boolean {
  return chains.every((c) => c.every(Number.isFinite));
}

/** All draws of all chains in one array, chain after chain. */
export function pool(chains: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(chains.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chains) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Cuts pooled draws back into `chains` chains of equal length (chains of no draws stay chains). */
export function unpool(flat: Float64Array, chains: number): Float64Array[] {
  const n = chains === 0 ? 0 : flat.length / chains;
  return Array.from({ length: chains }, (_, j) => flat.subarray(j * n, (j + 1) * n));
}

/**
 * Splits each chain into its first and second halves, doubling the number of
 * chains; with an odd number of draws the middle draw is dropped. Split chains
 * let R-hat and ESS see trends within a chain.
 */
export function splitChains(chains: readonly Float64Array[]): Float64Array[] {
  const out: Float64Array[] = [];
  for (const c of chains) {
    const half = Math.floor(c.length / 2);
    out.push(c.subarray(0, half), c.subarray(c.length - half));
  }
  return out;
}

/** Applies f to every draw, keeping the chain layout. */
export function mapDraws(chains: readonly Float64Array[], f: (x: number) => number): Float64Array[] {
  return chains.map((c) => c.map(f));
}

/**
 * Rank normalization (Vehtari et al. 2021): pooled average ranks r of all S
 * draws are mapped to normal scores Phi^{-1}((r - 3/8) / (S + 1/4)) (Blom's
 * offset), keeping the chain layout.
 */
export function rankNormalize(chains: readonly Float64Array[]): Float64Array[] {
  const flat = pool(chains);
  const ranks = averageRanks(flat);
  const s = flat.length;
  const z = ranks.map((r) => normalQuantile((r - 0.375) / (s + 0.25)));
  return unpool(z, chains.length);
}
