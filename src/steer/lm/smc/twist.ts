/**
 * Twist functions for twisted SMC: the exact optimal twist of a finite-state
 * LM conditioned on a regular expression (from the dynamic program), and a
 * learned tabular twist trained by contrastive twist learning (CTL, Zhao et
 * al. 2024). A twist is a {@link Potential} used as a critic: only its
 * `prefix` is read (the twist is removed when a particle finishes).
 *
 * @module
 */
import type { RegexConditionedLM } from '../dp.js';
import type { Vocabulary } from '../types.js';
import type { Potential } from '../potentials/potential.js';

/**
 * The optimal twist ψ*(x) = log P(the string matches | it starts with x)
 * under the prior, exact by dynamic programming. With it as the critic and
 * the locally optimal proposal every particle's weight equals Z.
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
}
