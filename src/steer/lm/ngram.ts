/**
 * An n-gram (order n-1 Markov) language model fitted from token sequences,
 * with add-k or interpolated Kneser–Ney smoothing. Exact and finite-state:
 * the state is the last n-1 tokens (padded at the start of a sequence), so
 * the dynamic programs of `dp.ts` apply.
 *
 * @module
 */
import { FiniteStateLanguageModel } from './finite-state.js';
import type { Vocabulary } from './types.js';

/** Smoothing of an {@link NGramLM}. */
export type Smoothing =
  /** (c(h, w) + k) / (c(h) + k |V|) at the top order. */
  | { readonly kind: 'add-k'; readonly k: number }
  /** Interpolated Kneser–Ney with absolute discount d in (0, 1), down to a uniform base. */
  | { readonly kind: 'kneser-ney'; readonly discount?: number };

/** Options of {@link NGramLM.fit}. */
export interface NGramOptions {
  /** n: the model conditions on the previous n-1 tokens (n >= 1). */
  readonly order: number;
  /** Default: interpolated Kneser–Ney with discount 0.75. */
  readonly smoothing?: Smoothing;
  /** Name for messages (default `${order}-gram`). */
  readonly name?: string;
}

const PAD = -1;

type Counts = Map<string, Map<number, number>>;

function bump(m: Counts, ctx: string, w: number, by = 1): void {
  let row = m.get(ctx);
  if (!row) m.set(ctx, (row = new Map()));
  row.set(w, (row.get(w) ?? 0) + by);
}

/**
 * An n-gram LM. Every sequence is read as if preceded by n-1 start pads and
 * followed by EOS; a BOS token in the vocabulary (if any) gets probability 0.
 */
export class NGramLM extends FiniteStateLanguageModel {
  readonly name: string;
  readonly startState = 0;
  private readonly contexts: number[][] = [];
  private readonly stateIds = new Map<string, number>();
  private readonly transitions = new Map<number, Int32Array>();
  /** counts[k] for k = 1..n: context of k-1 tokens → next token → count (continuation counts below the top order for Kneser–Ney). */
  private readonly counts: Counts[] = [];
  private readonly predictable: number[];

  private constructor(
    readonly vocab: Vocabulary,
    readonly order: number,
    readonly smoothing: Smoothing,
    name: string,
  ) {
    super();
    this.name = name;
    this.predictable = Array.from({ length: vocab.size }, (_, i) => i).filter((i) => i !== vocab.bos);
    this.stateId(Array(order - 1).fill(PAD));
  }

  /**
   * Fit from token sequences (without EOS; it is appended) or texts (encoded
   * with `vocab.encode`).
   */
  static fit(vocab: Vocabulary, corpus: readonly (string | readonly number[])[], options: NGramOptions): NGramLM {
    const { order } = options;
    if (!(Number.isInteger(order) && order >= 1)) throw new Error(`NGramLM: order must be an integer >= 1, got ${order}`);
    const smoothing = options.smoothing ?? { kind: 'kneser-ney', discount: 0.75 };
    if (smoothing.kind === 'add-k' && !(smoothing.k > 0)) throw new Error(`NGramLM: add-k smoothing needs k > 0, got ${smoothing.k}`);
    if (smoothing.kind === 'kneser-ney') {
      const d = smoothing.discount ?? 0.75;
      if (!(d > 0 && d < 1)) throw new Error(`NGramLM: Kneser–Ney discount must be in (0, 1), got ${d}`);
    }
    const lm = new NGramLM(vocab, order, smoothing, options.name ?? `${order}-gram`);
    const seqs = corpus.map((x, i) => {
      const ids = typeof x === 'string' ? vocab.encode?.(x) : [...x];
      if (!ids) throw new Error(`NGramLM.fit: sequence ${i} is text but the vocabulary has no encode()`);
      for (const t of ids) {
        if (!Number.isInteger(t) || t < 0 || t >= vocab.size || t === vocab.eos || t === vocab.bos) {
          throw new Error(`NGramLM.fit: sequence ${i} holds token ${t}, which is not a text token of the vocabulary`);
        }
      }
      return [...Array(order - 1).fill(PAD), ...ids, vocab.eos];
    });
    lm.count(seqs);
    return lm;
  }

  private count(seqs: number[][]): void {
    const n = this.order;
    for (let k = 0; k <= n; k++) this.counts.push(new Map());
    const kn = this.smoothing.kind === 'kneser-ney';
    const seen = new Set<string>();
    for (const s of seqs) {
      for (let i = n - 1; i < s.length; i++) {
        const w = s[i];
        bump(this.counts[n], s.slice(i - n + 1, i).join(','), w);
        for (let k = 1; k < n; k++) {
          const ctx = s.slice(i - k + 1, i).join(',');
          if (!kn) continue;
          // continuation count: distinct left extensions of (ctx, w)
          const key = `${k}|${s[i - k]}|${ctx}|${w}`;
          if (seen.has(key)) continue;
          seen.add(key);
          bump(this.counts[k], ctx, w);
        }
      }
    }
  }

  private stateId(ctx: number[]): number {
    const key = ctx.join(',');
    let id = this.stateIds.get(key);
    if (id === undefined) {
      id = this.contexts.length;
      this.contexts.push(ctx);
      this.stateIds.set(key, id);
    }
    return id;
  }

  /** The last n-1 tokens of state `s` (-1 for start padding). */
  contextOf(s: number): readonly number[] {
    return this.contexts[s];
  }

  nextState(state: number, token: number): number {
    if (token === this.vocab.eos || token === this.vocab.bos) return -1;
    let row = this.transitions.get(state);
    if (!row) {
      row = new Int32Array(this.vocab.size).fill(-2);
      this.transitions.set(state, row);
    }
    if (row[token] === -2) row[token] = this.order === 1 ? 0 : this.stateId([...this.contexts[state].slice(1), token]);
    return row[token];
  }

  protected computeProbs(state: number): Float64Array {
    const ctx = this.contexts[state];
    const V = this.predictable.length;
    const out = new Float64Array(this.vocab.size);
    if (this.smoothing.kind === 'add-k') {
      const k = this.smoothing.k;
      const row = this.counts[this.order].get(ctx.join(','));
      let total = 0;
      row?.forEach((c) => (total += c));
      for (const w of this.predictable) out[w] = ((row?.get(w) ?? 0) + k) / (total + k * V);
      return out;
    }
    const d = this.smoothing.discount ?? 0.75;
    // interpolate from the uniform base up to the full context
    for (const w of this.predictable) out[w] = 1 / V;
    for (let k = 1; k <= this.order; k++) {
      const row = this.counts[k].get(ctx.slice(ctx.length - (k - 1)).join(','));
      if (!row || k - 1 > ctx.length) continue;
      let total = 0;
      row.forEach((c) => (total += c));
      if (total === 0) continue;
      const backoff = (d * row.size) / total;
      for (const w of this.predictable) out[w] = Math.max((row.get(w) ?? 0) - d, 0) / total + backoff * out[w];
    }
    return out;
  }
}
