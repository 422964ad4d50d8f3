/**
 * A finite weighted set of strings as a language model: the probability of a
 * string is its weight over the total, and the next-token distribution after
 * a prefix is the weight of the strings continuing it by each token (EOS for
 * the string equal to the prefix) over the weight of the strings extending
 * it. Exact and finite-state (the states are the trie nodes of the set).
 *
 * @module
 */
import { FiniteStateLanguageModel } from './finite-state.js';
import type { Vocabulary } from './types.js';

/** One member of the set: text (encoded with `vocab.encode`) or token ids, and a positive weight. */
export interface WeightedString {
  readonly value: string | readonly number[];
  readonly weight: number;
}

/** A finite weighted set of token sequences as an exact LM. */
export class WeightedSetLM extends FiniteStateLanguageModel {
  readonly startState = 0;
  /** Per trie node: child per token, total weight below, weight ending here. */
  private readonly child: Map<number, number>[] = [new Map()];
  private readonly mass: number[] = [0];
  private readonly ending: number[] = [0];
  /** The members as token sequences with their normalised log-probabilities. */
  readonly support: { readonly tokens: readonly number[]; readonly logprob: number }[] = [];

  constructor(
    readonly vocab: Vocabulary,
    members: readonly WeightedString[],
    readonly name = 'weighted-set',
  ) {
    super();
    if (members.length === 0) throw new Error(`WeightedSetLM "${name}": the set is empty`);
    const merged = new Map<string, { tokens: number[]; weight: number }>();
    members.forEach((m, i) => {
      if (!(m.weight > 0 && Number.isFinite(m.weight))) throw new Error(`WeightedSetLM "${name}": member ${i} has weight ${m.weight} (must be positive and finite)`);
      const ids = typeof m.value === 'string' ? vocab.encode?.(m.value) : [...m.value];
      if (!ids) throw new Error(`WeightedSetLM "${name}": member ${i} is text but the vocabulary has no encode()`);
      for (const t of ids) {
        if (!Number.isInteger(t) || t < 0 || t >= vocab.size || t === vocab.eos || t === vocab.bos) {
          throw new Error(`WeightedSetLM "${name}": member ${i} holds token ${t}, which is not a text token of the vocabulary`);
        }
      }
      const key = ids.join(',');
      const e = merged.get(key);
      if (e) e.weight += m.weight;
      else merged.set(key, { tokens: ids, weight: m.weight });
    });
    let total = 0;
    for (const { tokens, weight } of merged.values()) {
      total += weight;
      let s = 0;
      this.mass[s] += weight;
      for (const t of tokens) {
        let c = this.child[s].get(t);
        if (c === undefined) {
          c = this.child.length;
          this.child.push(new Map());
          this.mass.push(0);
          this.ending.push(0);
          this.child[s].set(t, c);
        }
        s = c;
        this.mass[s] += weight;
      }
      this.ending[s] += weight;
    }
    for (const { tokens, weight } of merged.values()) this.support.push({ tokens, logprob: Math.log(weight / total) });
  }

  nextState(state: number, token: number): number {
    return this.child[state].get(token) ?? -1;
  }

  protected computeProbs(state: number): Float64Array {
    const out = new Float64Array(this.vocab.size);
    const m = this.mass[state];
    for (const [t, c] of this.child[state]) out[t] = this.mass[c] / m;
    out[this.vocab.eos] = this.ending[state] / m;
    return out;
  }
}
