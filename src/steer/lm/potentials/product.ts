/**
 * Products of potentials: log-weights add. The next-token row is the sum of
 * the factors' rows (each by its own fast form where it has one).
 *
 * @module
 */
import { assertSameVocabulary } from '../errors.js';
import type { Vocabulary } from '../types.js';
import { type Potential, type PotentialCallOptions, batchPrefixOf, completeOf, logwNext, prefixOf } from './potential.js';

/** The product of potentials over one vocabulary. */
export class ProductPotential implements Potential {
  readonly vocab: Vocabulary;
  readonly name: string;

  constructor(readonly factors: readonly Potential[]) {
    if (factors.length === 0) throw new Error('ProductPotential: give at least one factor');
    this.vocab = factors[0].vocab;
    for (const f of factors.slice(1)) assertSameVocabulary({ name: `potential ${factors[0].name}`, vocab: this.vocab }, { name: `potential ${f.name}`, vocab: f.vocab });
    this.name = factors.map((f) => f.name).join(' * ');
  }

  async prefix(x: readonly number[], options?: PotentialCallOptions): Promise<number> {
    let s = 0;
    for (const f of this.factors) {
      s += await prefixOf(f, x, options?.signal);
      if (s === -Infinity) return s;
    }
    return s;
  }

  /** Each factor's batched prefixes (one call per factor), summed. */
  async batchPrefix(xs: readonly (readonly number[])[], options?: PotentialCallOptions): Promise<number[]> {
    const out = new Array<number>(xs.length).fill(0);
    for (const f of this.factors) {
      const live = xs.flatMap((_, i) => (out[i] === -Infinity ? [] : [i]));
      if (live.length === 0) break;
      const vals = await batchPrefixOf(
        f,
        live.map((i) => xs[i]!),
        options?.signal,
      );
      live.forEach((i, k) => (out[i] += vals[k]!));
    }
    return out;
  }

  async complete(x: readonly number[], options?: PotentialCallOptions): Promise<number> {
    let s = 0;
    for (const f of this.factors) {
      s += await completeOf(f, x, options?.signal);
      if (s === -Infinity) return s;
    }
    return s;
  }

  async logwNext(x: readonly number[], options?: PotentialCallOptions): Promise<Float64Array> {
    const rows = await Promise.all(this.factors.map((f) => logwNext(f, x, options?.signal)));
    const out = rows[0].slice();
    for (const r of rows.slice(1)) for (let i = 0; i < out.length; i++) out[i] += r[i];
    return out;
  }
}

/** `a * b * ...` as one potential. */
export function product(...factors: Potential[]): ProductPotential {
  return new ProductPotential(factors);
}
