/**
 * The exact optimal twist of a finite-state LM conditioned on a regular
 * expression (from the dynamic program of `dp.ts`), and the check that a run
 * uses it where it is exact.
 *
 * @module
 */
import type { RegexConditionedLM } from '../dp.js';
import type { LanguageModel, Vocabulary } from '../types.js';
import type { Potential } from '../potentials/potential.js';

/**
 * The optimal twist ψ*(x) = log P(the string matches | it starts with x)
 * under the prior, exact by dynamic programming. With it as the critic and
 * the locally optimal proposal every particle's weight equals Z.
 *
 * It is −∞ on every prefix its own LM cannot complete to a match within its
 * `maxLength`; a critic's −∞ kills a particle, so steering refuses it (see
 * {@link ExactTwist.checkRun}) where that would drop strings the run's target allows.
 */
export class ExactTwist implements Potential {
  readonly name: string;
  readonly vocab: Vocabulary;
  constructor(readonly conditioned: RegexConditionedLM) {
    this.vocab = conditioned.vocab;
    this.name = `exact twist of ${conditioned.name}`;
  }
  prefix(x: readonly number[]): number {
    return Math.log(this.conditioned.matchProbability(x));
  }
  complete(x: readonly number[]): number {
    return this.conditioned.dfa.accepting(this.conditioned.dfa.run(this.vocab.decode(x))) ? 0 : -Infinity;
  }

  /**
   * Throws a `RangeError` when a steering run over `lm` (wrapped or not) with
   * up to `maxTokens` generated tokens would use this twist where its −∞ is
   * not a statement about the run's target (session 16; both were silent, the
   * run returning only the strings the twist allowed):
   * - built with `maxLength` below `maxTokens`: −∞ on every prefix longer than
   *   `maxLength` (a probe at maxLength 3, maxTokens 6: E[Ẑ/Z] 0.84, no string
   *   over 3 tokens returned);
   * - the DP of another LM: −∞ wherever that LM gives probability 0 (a sparser
   *   LM's twist: E[Ẑ/Z] 0.56).
   */
  checkRun(lm: LanguageModel, maxTokens: number): void {
    let base: LanguageModel = lm;
    while (typeof (base as { inner?: unknown }).inner === 'object' && (base as { inner?: unknown }).inner !== null) base = (base as unknown as { inner: LanguageModel }).inner;
    const prior = this.conditioned.prior;
    if (base !== prior) {
      throw new RangeError(
        `steering: critic "${this.name}" is the exact twist of the language model "${prior.name}", but the run steers "${base.name}" (another object): its −∞ where "${prior.name}" cannot complete a match would drop strings the target allows, without an error. Build it with conditionOnRegex(lm, pattern) on the LM you steer; to use another model's twist as a heuristic, wrap it in your own Potential that is never −∞ where the target allows`,
      );
    }
    const maxLength = this.conditioned.options.maxLength;
    if (maxLength !== undefined && maxLength < maxTokens) {
      throw new RangeError(
        `steering: critic "${this.name}" was built with maxLength = ${maxLength}, but the run generates up to maxTokens = ${maxTokens}: it is −∞ on every prefix longer than ${maxLength}, which would drop the longer strings the target allows, without an error. Build it with conditionOnRegex(lm, pattern, { maxLength: ${maxTokens} }) (or without maxLength), or pass maxTokens: ${maxLength}`,
      );
    }
  }
}
