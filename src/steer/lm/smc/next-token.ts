/**
 * `nextToken`: the LM's next-token distribution after a prefix as a tyche
 * {@link Distribution} (a categorical over the vocabulary), so an ordinary
 * tyche model whose sites are tokens steers an LM with any engine:
 *
 * ```ts
 * const steered = model(async ({ sample, factor }) => {
 *   const x: number[] = [];
 *   for (let t = 0; t < 12; t++) {
 *     const y = await sample(`tok${t}`, await nextToken(lm, x));
 *     if (y === lm.vocab.eos) { await factor('end', pot.complete(x)); break; }
 *     await factor(`c${t}`, logwNextToken(pot, x, y));  // the constraint, token by token
 *     x.push(y);
 *   }
 *   return lm.vocab.decode(x);
 * });
 * await infer(steered, { method: 'smc', particles: 64 });   // SMC steering by program SMC
 * ```
 *
 * Concurrent particles' requests are batched by the LM wrapper, as in
 * {@link smcSteer}.
 *
 * @module
 */
import { CategoricalDistribution } from '../../../distributions/categorical.js';
import { CachedLanguageModel } from '../cached.js';
import type { LanguageModel, LanguageModelCallOptions } from '../types.js';

/** A categorical over token ids whose logits are an LM row. */
export class NextTokenDistribution extends CategoricalDistribution {
  constructor(
    readonly lmName: string,
    readonly prefix: readonly number[],
    readonly row: Float64Array,
  ) {
    super({ logits: row });
  }
}

/**
 * The next-token distribution of `lm` after `prefix` (awaits the row; batched
 * across concurrent callers). With `options.signal` (a step program's
 * `this.signal`) the call rejects as soon as it aborts, and the model's pass
 * is cut once every run waiting on it has aborted.
 */
export async function nextToken(lm: LanguageModel, prefix: readonly number[], options: LanguageModelCallOptions = {}): Promise<NextTokenDistribution> {
  const call = options.signal ? { signal: options.signal } : undefined;
  const row = lm instanceof CachedLanguageModel ? await lm.logprobs(prefix, options) : (await (call ? lm.nextTokenLogprobs([prefix], call) : lm.nextTokenLogprobs([prefix])))[0];
  return new NextTokenDistribution(lm.name, prefix.slice(), Float64Array.from(row));
}
