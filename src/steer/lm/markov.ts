/**
 * A first-order Markov LM given by its transition table (the state is the
 * last token), and random ones for property tests: exact, finite-state and
 * incremental like the n-gram model, so the dynamic programs of `dp.ts`
 * give its constrained posteriors exactly.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { FiniteStateLanguageModel } from './finite-state.js';
import type { Vocabulary } from './types.js';

/**
 * `table[s]` is the next-token distribution after text token `s`, and
 * `table[textTokens]` (the last row) the distribution of the first token.
 * Text tokens are the ids other than EOS and BOS, in order.
 */
export class MarkovLM extends FiniteStateLanguageModel {
  readonly startState: number;
  private readonly textIds: number[];
  private readonly stateOfToken = new Map<number, number>();
  private readonly rows: Float64Array[];

  /**
   * @param table - one row per text token plus a last row for the start, each of length `vocab.size`,
   *   non-negative, summing to 1, with zero on BOS
   */
  constructor(
    readonly vocab: Vocabulary,
    table: readonly (readonly number[] | Float64Array)[],
    readonly name = 'markov',
  ) {
    super();
    this.textIds = Array.from({ length: vocab.size }, (_, i) => i).filter((i) => i !== vocab.eos && i !== vocab.bos);
    this.textIds.forEach((t, s) => this.stateOfToken.set(t, s));
    this.startState = this.textIds.length;
    if (table.length !== this.textIds.length + 1) throw new Error(`MarkovLM "${name}": the table needs ${this.textIds.length + 1} rows (one per text token, then the start), got ${table.length}`);
    this.rows = table.map((row, s) => {
      if (row.length !== vocab.size) throw new Error(`MarkovLM "${name}": row ${s} has length ${row.length}, expected ${vocab.size}`);
      let sum = 0;
      for (const p of row) {
        if (!(p >= 0)) throw new Error(`MarkovLM "${name}": row ${s} holds ${p}`);
        sum += p;
      }
      if (Math.abs(sum - 1) > 1e-9) throw new Error(`MarkovLM "${name}": row ${s} sums to ${sum}, not 1`);
      if (vocab.bos !== null && row[vocab.bos] !== 0) throw new Error(`MarkovLM "${name}": row ${s} gives BOS probability ${row[vocab.bos]}`);
      return Float64Array.from(row);
    });
  }

  /**
   * A random table: each row Dirichlet(concentration) over the text tokens,
   * scaled by 1 - eos, with EOS probability `eos`; a fraction `sparsity` of
   * text-token entries per row set to zero (at least one kept).
   */
  static random(vocab: Vocabulary, rng: Rng, options: { eos?: number; concentration?: number; sparsity?: number; name?: string } = {}): MarkovLM {
    const { eos = 0.2, concentration = 1, sparsity = 0 } = options;
    if (!(eos > 0 && eos < 1)) throw new Error(`MarkovLM.random: eos must be in (0, 1), got ${eos}`);
    const text = Array.from({ length: vocab.size }, (_, i) => i).filter((i) => i !== vocab.eos && i !== vocab.bos);
    const gamma = (a: number): number => {
      // Marsaglia–Tsang, with the a < 1 boost
      if (a < 1) return gamma(a + 1) * Math.pow(rng.uniform(), 1 / a);
      const d = a - 1 / 3;
      const c = 1 / Math.sqrt(9 * d);
      for (;;) {
        const x = rng.normal();
        const v = Math.pow(1 + c * x, 3);
        if (v > 0 && Math.log(rng.uniform()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
      }
    };
    const table = Array.from({ length: text.length + 1 }, () => {
      const row = new Float64Array(vocab.size);
      const keep = text.filter(() => rng.uniform() >= sparsity);
      if (keep.length === 0) keep.push(text[rng.int(text.length)]);
      const g = keep.map(() => gamma(concentration));
      const z = g.reduce((a, b) => a + b, 0);
      keep.forEach((t, k) => (row[t] = ((1 - eos) * g[k]) / z));
      row[vocab.eos] = eos;
      return row;
    });
    return new MarkovLM(vocab, table, options.name ?? 'random-markov');
  }

  nextState(state: number, token: number): number {
    const s = this.stateOfToken.get(token);
    if (s === undefined || !(this.rows[state][token] > 0)) return -1;
    return s;
  }

  protected computeProbs(state: number): Float64Array {
    return this.rows[state];
  }
}
