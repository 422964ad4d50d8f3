/**
 * A character-level automaton (a compiled regular expression or any
 * deterministic {@link CharAutomaton}) coerced to a token vocabulary.
 *
 * `prefix(x) = 0` while the decoded text of `x` can still be completed to a
 * match (the automaton state is live), `complete(x) = 0` when it matches.
 * Next-token weights come from a character trie of the vocabulary walked
 * against the automaton: from the state after `x`, one depth-first walk
 * visits each trie edge at most once and drops a whole subtree as soon as
 * the automaton dies, so the cost is the number of live trie nodes, not the
 * vocabulary size times the token length. Rows are memoised per automaton
 * state (they depend on nothing else).
 *
 * Tokens are read as their text (`vocab.tokenText`): a byte vocabulary whose
 * tokens split a multi-byte character is read lossily.
 *
 * @module
 */
import type { CharAutomaton } from '../regex.js';
import { CharRegex } from '../regex.js';
import type { Vocabulary } from '../types.js';
import type { Potential } from './potential.js';

/** A node of {@link VocabularyTrie}: the tokens whose text ends here and the children by next character. */
export interface VocabularyTrieNode {
  readonly children: Map<string, VocabularyTrieNode>;
  readonly tokens: number[];
}

/** A character trie of a vocabulary's text tokens. */
export class VocabularyTrie {
  readonly root: VocabularyTrieNode = { children: new Map(), tokens: [] };
  /** Number of nodes (root included). */
  readonly nodes: number;

  constructor(readonly vocab: Vocabulary) {
    let nodes = 1;
    for (let id = 0; id < vocab.size; id++) {
      if (id === vocab.eos || id === vocab.bos) continue;
      let n = this.root;
      for (const ch of vocab.tokenText(id)) {
        let c = n.children.get(ch);
        if (!c) {
          c = { children: new Map(), tokens: [] };
          n.children.set(ch, c);
          nodes++;
        }
        n = c;
      }
      n.tokens.push(id);
    }
    this.nodes = nodes;
  }
}

/** The state after each prefix, memoised (bounded). */
class StateMemo {
  private readonly memo = new Map<string, number>();
  constructor(
    private readonly dfa: CharAutomaton,
    private readonly vocab: Vocabulary,
    private readonly limit = 200_000,
  ) {}

  state(x: readonly number[]): number {
    if (x.length === 0) return this.dfa.start;
    const key = x.join(',');
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const parent = this.state(x.slice(0, -1));
    const last = x[x.length - 1];
    const q = parent < 0 || last === this.vocab.eos || last === this.vocab.bos ? -1 : this.dfa.run(this.vocab.tokenText(last), parent);
    if (this.memo.size >= this.limit) this.memo.clear();
    this.memo.set(key, q);
    return q;
  }
}

/**
 * A regular expression / automaton over the decoded text as a potential
 * (0 or -Infinity), with a fast `logwNext` by trie walk.
 *
 * @example
 * ```ts
 * const pot = new AutomatonPotential(lm.vocab, '[^eE]*');  // never the letter e
 * ```
 */
export class AutomatonPotential implements Potential {
  readonly name: string;
  readonly dfa: CharAutomaton;
  readonly trie: VocabularyTrie;
  private readonly states: StateMemo;
  private readonly rows = new Map<number, Float64Array>();
  /** Automaton transitions taken by trie walks (the work `logwNext` did). */
  transitions = 0;

  /**
   * @param options.maxTokens - a token budget: a prefix also gets -Infinity
   *   when no accepted string is reachable within the tokens left (the
   *   fewest tokens to acceptance, by breadth-first search over automaton
   *   states, exceeds `maxTokens − |x|`). The set of accepted strings of at
   *   most `maxTokens` tokens is unchanged; dead ends are seen earlier, which
   *   is what lets the locally optimal proposal finish "ends with a word"
   *   constraints on time. Use the steering run's `maxTokens`.
   */
  constructor(
    readonly vocab: Vocabulary,
    pattern: string | CharAutomaton,
    name?: string,
    readonly options: { readonly maxTokens?: number } = {},
  ) {
    this.dfa = typeof pattern === 'string' ? new CharRegex(pattern) : pattern;
    this.name = name ?? `/${this.dfa.pattern}/`;
    this.trie = new VocabularyTrie(vocab);
    this.states = new StateMemo(this.dfa, vocab);
    const m = options.maxTokens;
    if (m !== undefined && !(Number.isInteger(m) && m >= 0)) throw new Error(`AutomatonPotential ${this.name}: maxTokens must be a non-negative integer, got ${m}`);
  }

  private readonly distances = new Map<number, number>();
  private readonly successors = new Map<number, Map<number, number>>();

  /** Automaton state after each allowed text token from live state `q` (token → state), memoised. */
  private next(q: number): Map<number, number> {
    let m = this.successors.get(q);
    if (!m) {
      m = new Map();
      const row = this.rowFor(q);
      for (let y = 0; y < row.length; y++) if (row[y] === 0 && y !== this.vocab.eos) m.set(y, this.dfa.run(this.vocab.tokenText(y), q));
      this.successors.set(q, m);
    }
    return m;
  }

  /** Fewest tokens from live state `q` to an accepting state (Infinity if none), memoised. */
  tokensToAccept(q: number): number {
    const hit = this.distances.get(q);
    if (hit !== undefined) return hit;
    const seen = new Set([q]);
    let frontier = [q];
    let d = 0;
    let found = Infinity;
    while (frontier.length) {
      if (frontier.some((s) => this.dfa.accepting(s))) {
        found = d;
        break;
      }
      const nextFrontier: number[] = [];
      for (const s of frontier) for (const s2 of this.next(s).values()) if (!seen.has(s2)) (seen.add(s2), nextFrontier.push(s2));
      frontier = nextFrontier;
      d++;
    }
    this.distances.set(q, found);
    return found;
  }

  private inBudget(q: number, used: number): boolean {
    const m = this.options.maxTokens;
    return m === undefined || this.tokensToAccept(q) <= m - used;
  }

  /** The automaton state after the text of `x` (-1 when dead). */
  stateOf(x: readonly number[]): number {
    return this.states.state(x);
  }

  prefix(x: readonly number[]): number {
    const q = this.stateOf(x);
    return q >= 0 && this.dfa.live(q) && this.inBudget(q, x.length) ? 0 : -Infinity;
  }

  /** `prefix` of each sequence (automaton states come from the per-prefix memo, so a particle's next prefix costs one token's transitions). */
  async batchPrefix(xs: readonly (readonly number[])[]): Promise<number[]> {
    return xs.map((x) => this.prefix(x));
  }

  complete(x: readonly number[]): number {
    const m = this.options.maxTokens;
    return this.dfa.accepting(this.stateOf(x)) && (m === undefined || x.length <= m) ? 0 : -Infinity;
  }

  logwNext(x: readonly number[]): Float64Array {
    const q = this.stateOf(x);
    if (!(q >= 0 && this.dfa.live(q) && this.inBudget(q, x.length))) return new Float64Array(this.vocab.size).fill(-Infinity);
    const row = this.rowFor(q).slice();
    if (this.options.maxTokens !== undefined) for (const [y, q2] of this.next(q)) if (!this.inBudget(q2, x.length + 1)) row[y] = -Infinity;
    return row;
  }

  /** The next-token row in automaton state `q` (memoised; do not modify). */
  rowFor(q: number): Float64Array {
    let row = this.rows.get(q);
    if (row) return row;
    row = new Float64Array(this.vocab.size).fill(-Infinity);
    const r = row;
    const walk = (node: VocabularyTrieNode, state: number): void => {
      for (const [ch, child] of node.children) {
        this.transitions++;
        const next = this.dfa.step(state, ch);
        if (next < 0 || !this.dfa.live(next)) continue;
        for (const id of child.tokens) r[id] = 0;
        walk(child, next);
      }
    };
    walk(this.trie.root, q);
    row[this.vocab.eos] = this.dfa.accepting(q) ? 0 : -Infinity;
    this.rows.set(q, row);
    return row;
  }
}
