/**
 * Exact conditioning of a finite-state language model (an n-gram model, a
 * weighted set) on a character-level regular expression, by dynamic
 * programming over the product of the model's states and the expression's
 * DFA.
 *
 * The target is p(x | decode(x) matches the pattern) over complete strings x
 * (EOS-terminated), optionally only those with at most `maxLength` tokens.
 * With V(i) the probability, from product state i, that the rest of the
 * string makes a match: V = e + T V, where e(i) = p(EOS | s) [q accepts] and
 * T(i, j) = p(token | s) for the token taking i to j. Then Z = V(start), the
 * exact next-token posterior is p(a | s) V(j) / V(i) (the optimal proposal,
 * and V is the optimal twist), per-position marginals come from running
 * that chain forward, and every string's posterior probability is exact.
 *
 * The conditioned model is itself a {@link FiniteStateLanguageModel}, so it
 * can be sampled, wrapped and run through the conformance checks.
 *
 * @module
 */
import { ZeroProbabilityPrefixError } from './errors.js';
import { FiniteStateLanguageModel, type FiniteStateLM } from './finite-state.js';
import { type CharAutomaton, CharRegex } from './regex.js';

/** Options of {@link conditionOnRegex}. */
export interface ConditionOptions {
  /** Only strings of at most this many tokens (EOS not counted); default unbounded. */
  readonly maxLength?: number;
  /** Refuse products with more states than this (default 200 000). */
  readonly maxStates?: number;
  /** Solve the unbounded system densely up to this many states, iteratively above (default 1200). */
  readonly denseLimit?: number;
}

/** Per-position marginals of the conditioned distribution. */
export interface PositionMarginals {
  /** tokens[t][a]: probability that token t of the string (EOS included, 0-based) is a. */
  readonly tokens: Float64Array[];
  /** ended[t]: probability the string (with its EOS) has fewer than t + 1 tokens, so position t is absent. */
  readonly ended: number[];
}

/** One string with its exact posterior probability. */
export interface ExactString {
  /** The token ids, EOS excluded. */
  readonly tokens: readonly number[];
  readonly text: string;
  /** Log posterior probability (given the match). */
  readonly logprob: number;
}

interface Product {
  readonly s: number[];
  readonly q: number[];
  /** outgoing edges per product state: token, target, prior probability */
  readonly edges: { token: number; to: number; p: number }[][];
  readonly end: Float64Array;
}

function explore(lm: FiniteStateLM, dfa: CharAutomaton, maxStates: number): Product {
  const { vocab } = lm;
  const texts = Array.from({ length: vocab.size }, (_, t) => (t === vocab.eos || t === vocab.bos ? null : vocab.tokenText(t)));
  const s: number[] = [];
  const q: number[] = [];
  const ids = new Map<string, number>();
  const edges: { token: number; to: number; p: number }[][] = [];
  const intern = (ls: number, dq: number): number => {
    const key = `${ls},${dq}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = s.push(ls) - 1;
      q.push(dq);
      ids.set(key, id);
      if (s.length > maxStates) throw new Error(`conditionOnRegex: more than ${maxStates} (model state, automaton state) pairs for model "${lm.name}" and /${dfa.pattern}/; raise maxStates or use a smaller model or pattern`);
    }
    return id;
  };
  intern(lm.startState, dfa.start);
  const endp: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const probs = lm.stateProbs(s[i]);
    const out: { token: number; to: number; p: number }[] = [];
    for (let t = 0; t < probs.length; t++) {
      const p = probs[t];
      const text = texts[t];
      if (!(p > 0) || text === null) continue;
      const dq = dfa.run(text, q[i]);
      if (!dfa.live(dq)) continue;
      const ls = lm.nextState(s[i], t);
      if (ls < 0) continue;
      out.push({ token: t, to: intern(ls, dq), p });
    }
    edges.push(out);
    endp.push(dfa.accepting(q[i]) ? lm.stateProbs(s[i])[vocab.eos] : 0);
  }
  return { s, q, edges, end: Float64Array.from(endp) };
}

/** Solve V = e + T V (the minimal non-negative solution). */
function solveValues(prod: Product, denseLimit: number): Float64Array {
  const n = prod.s.length;
  if (n <= denseLimit) {
    const v = denseSolve(prod);
    if (v) return v;
  }
  // Gauss–Seidel from zero: increases monotonically to the minimal solution
  const v = new Float64Array(n);
  for (let sweep = 0; sweep < 1_000_000; sweep++) {
    let change = 0;
    for (let i = n - 1; i >= 0; i--) {
      let x = prod.end[i];
      for (const e of prod.edges[i]) x += e.p * v[e.to];
      change = Math.max(change, Math.abs(x - v[i]) / Math.max(x, 1e-300));
      v[i] = x;
    }
    if (change < 1e-15) return v;
  }
  throw new Error('conditionOnRegex: the value iteration did not converge in 10^6 sweeps (a model that rarely ends?)');
}

/** (I - T) V = e by Gaussian elimination with partial pivoting; null if (nearly) singular. */
function denseSolve(prod: Product): Float64Array | null {
  const n = prod.s.length;
  const a = new Float64Array(n * n);
  const b = Float64Array.from(prod.end);
  for (let i = 0; i < n; i++) {
    a[i * n + i] += 1;
    for (const e of prod.edges[i]) a[i * n + e.to] -= e.p;
  }
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[piv * n + c])) piv = r;
    if (Math.abs(a[piv * n + c]) < 1e-12) return null;
    if (piv !== c) {
      for (let k = 0; k < n; k++) [a[c * n + k], a[piv * n + k]] = [a[piv * n + k], a[c * n + k]];
      [b[c], b[piv]] = [b[piv], b[c]];
    }
    const d = a[c * n + c];
    for (let r = c + 1; r < n; r++) {
      const f = a[r * n + c] / d;
      if (f === 0) continue;
      for (let k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  const v = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let x = b[r];
    for (let k = r + 1; k < n; k++) x -= a[r * n + k] * v[k];
    v[r] = Math.max(0, x / a[r * n + r]);
  }
  return v;
}

/**
 * A finite-state LM conditioned on a regular expression, with exact Z,
 * values, next-token posteriors, marginals and string probabilities.
 * Build it with {@link conditionOnRegex}.
 */
export class RegexConditionedLM extends FiniteStateLanguageModel {
  readonly name: string;
  readonly vocab: FiniteStateLM['vocab'];
  readonly startState = 0;
  /** The normaliser: probability under the model that a string matches (within maxLength). */
  readonly Z: number;
  readonly logZ: number;
  readonly dfa: CharAutomaton;
  private readonly n: number;
  /** values[r][i]: match probability from product state i with r tokens left (one array when unbounded). */
  private readonly values: Float64Array[];

  constructor(
    readonly prior: FiniteStateLM,
    pattern: string | CharAutomaton,
    readonly options: ConditionOptions = {},
  ) {
    super();
    this.dfa = typeof pattern === 'string' ? new CharRegex(pattern) : pattern;
    this.vocab = prior.vocab;
    this.name = `${prior.name} | /${this.dfa.pattern}/`;
    const { maxLength } = options;
    if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 0)) throw new Error(`conditionOnRegex: maxLength must be a non-negative integer, got ${maxLength}`);
    const prod = explore(prior, this.dfa, options.maxStates ?? 200_000);
    this.product = prod;
    this.n = prod.s.length;
    if (maxLength === undefined) this.values = [solveValues(prod, options.denseLimit ?? 1200)];
    else {
      this.values = [Float64Array.from(prod.end)];
      for (let r = 1; r <= maxLength; r++) {
        const prev = this.values[r - 1];
        const v = Float64Array.from(prod.end);
        for (let i = 0; i < this.n; i++) for (const e of prod.edges[i]) v[i] += e.p * prev[e.to];
        this.values.push(v);
      }
    }
    this.Z = this.value(0, 0);
    this.logZ = Math.log(this.Z);
    if (!(this.Z > 0)) throw new Error(`conditionOnRegex: no string${maxLength !== undefined ? ` of at most ${maxLength} tokens` : ''} matches /${this.dfa.pattern}/ with positive probability under "${prior.name}" (Z = 0)`);
  }

  private readonly product: Product;

  /** Unbounded: one state per product state. Bounded: state = t * n + i after t tokens. */
  private split(state: number): { t: number; i: number } {
    return { t: Math.floor(state / this.n), i: state % this.n };
  }

  private value(t: number, i: number): number {
    if (this.options.maxLength === undefined) return this.values[0][i];
    const r = this.options.maxLength - t;
    return r < 0 ? 0 : this.values[r][i];
  }

  nextState(state: number, token: number): number {
    const { t, i } = this.split(state);
    const e = this.product.edges[i].find((x) => x.token === token);
    if (!e || !(this.value(t + 1, e.to) > 0)) return -1;
    return this.options.maxLength === undefined ? e.to : (t + 1) * this.n + e.to;
  }

  protected computeProbs(state: number): Float64Array {
    const { t, i } = this.split(state);
    const here = this.value(t, i);
    const out = new Float64Array(this.vocab.size);
    if (!(here > 0)) throw new ZeroProbabilityPrefixError(this.name, []);
    for (const e of this.product.edges[i]) out[e.token] += (e.p * this.value(t + 1, e.to)) / here;
    out[this.vocab.eos] = this.product.end[i] / here;
    return out;
  }

  /** Probability that a string starting with `prefix` matches, given the prefix (under the prior); 0 if it cannot. */
  matchProbability(prefix: readonly number[]): number {
    let t = 0;
    let i = 0;
    for (const tok of prefix) {
      const e = this.product.edges[i].find((x) => x.token === tok);
      if (!e) return 0;
      i = e.to;
      t++;
    }
    return this.value(t, i);
  }

  /** Per-position marginals of the first `positions` tokens (EOS included) of the conditioned distribution. */
  marginals(positions: number): PositionMarginals {
    let dist = new Map<number, number>([[this.startState, 1]]);
    const tokens: Float64Array[] = [];
    const ended: number[] = [];
    for (let t = 0; t < positions; t++) {
      const m = new Float64Array(this.vocab.size);
      let alive = 0;
      const next = new Map<number, number>();
      for (const [state, w] of dist) {
        alive += w;
        const probs = this.stateProbs(state);
        for (let a = 0; a < probs.length; a++) {
          if (!(probs[a] > 0)) continue;
          m[a] += w * probs[a];
          if (a === this.vocab.eos) continue;
          const ns = this.nextState(state, a);
          next.set(ns, (next.get(ns) ?? 0) + w * probs[a]);
        }
      }
      tokens.push(m);
      ended.push(Math.max(0, 1 - alive));
      dist = next;
    }
    return { tokens, ended };
  }

  /** Every matching string of at most `maxTokens` tokens with its exact posterior probability, most probable first. */
  strings(maxTokens: number, limit = 100_000): ExactString[] {
    const out: ExactString[] = [];
    const walk = (state: number, prefix: number[], lp: number): void => {
      const probs = this.stateProbs(state);
      if (probs[this.vocab.eos] > 0) {
        if (out.length >= limit) throw new Error(`RegexConditionedLM.strings: more than ${limit} strings of at most ${maxTokens} tokens`);
        out.push({ tokens: prefix.slice(), text: this.vocab.decode(prefix), logprob: lp + Math.log(probs[this.vocab.eos]) });
      }
      if (prefix.length >= maxTokens) return;
      for (let a = 0; a < probs.length; a++) {
        if (!(probs[a] > 0) || a === this.vocab.eos) continue;
        prefix.push(a);
        walk(this.nextState(state, a), prefix, lp + Math.log(probs[a]));
        prefix.pop();
      }
    };
    walk(this.startState, [], 0);
    return out.sort((x, y) => y.logprob - x.logprob);
  }

  /** Number of (model state, automaton state) pairs reachable. */
  get productStates(): number {
    return this.n;
  }
}

/**
 * Condition a finite-state LM on a character-level regular expression (a
 * pattern, compiled with {@link CharRegex}) or any deterministic
 * {@link CharAutomaton} (whole-string acceptance of the decoded text),
 * exactly. See {@link RegexConditionedLM}.
 */
export function conditionOnRegex(lm: FiniteStateLM, pattern: string | CharAutomaton, options: ConditionOptions = {}): RegexConditionedLM {
  return new RegexConditionedLM(lm, pattern, options);
}
