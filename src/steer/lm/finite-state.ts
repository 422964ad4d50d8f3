/**
 * Language models whose next-token distribution depends on a finite state
 * reached by reading the prefix (n-gram / Markov models, finite weighted sets
 * of strings). They are exact (float64 inside, float32 rows out), incremental
 * (the "KV cache" is the state, so extending by one token costs one
 * transition), and they expose their states, which is what the dynamic
 * programs in `dp.ts` need.
 *
 * @module
 */
import { ZeroProbabilityPrefixError, validatePrefix } from './errors.js';
import type { ExtendRequest, ExtendResult, IncrementalLanguageModel, KVCache, Vocabulary } from './types.js';

/** The state reached after a prefix, as an opaque cache. */
export class StateCache implements KVCache {
  constructor(
    readonly state: number,
    readonly length: number,
  ) {}
  dispose(): void {}
}

/** The state-machine view a dynamic program needs. */
export interface FiniteStateLM extends IncrementalLanguageModel {
  /** The state before any token. */
  readonly startState: number;
  /** The state after reading `token` in `state`, or -1 when the prefix gets probability zero (EOS, or a token outside the support). */
  nextState(state: number, token: number): number;
  /** Next-token probabilities (float64, summing to 1) in `state`. Do not modify. */
  stateProbs(state: number): Float64Array;
}

/** True when `lm` exposes the finite-state view. */
export function isFiniteStateLM(lm: unknown): lm is FiniteStateLM {
  const x = lm as Partial<FiniteStateLM>;
  return typeof x?.nextState === 'function' && typeof x.stateProbs === 'function' && typeof x.startState === 'number';
}

/**
 * Base class: subclasses give `startState`, `nextState` and `computeProbs`;
 * this class gives the LanguageModel and IncrementalLanguageModel methods,
 * prefix checks and a per-state cache of rows.
 */
export abstract class FiniteStateLanguageModel implements FiniteStateLM {
  abstract readonly name: string;
  abstract readonly vocab: Vocabulary;
  abstract readonly startState: number;
  readonly contextLength: number = Infinity;
  private readonly probsCache = new Map<number, Float64Array>();
  private readonly rowCache = new Map<number, Float32Array>();

  abstract nextState(state: number, token: number): number;
  /** The next-token probabilities in `state` (called once per state, then cached). */
  protected abstract computeProbs(state: number): Float64Array;

  stateProbs(state: number): Float64Array {
    let p = this.probsCache.get(state);
    if (!p) {
      p = this.computeProbs(state);
      this.probsCache.set(state, p);
    }
    return p;
  }

  /** The state after `prefix`, from `state` (the start by default). @throws ZeroProbabilityPrefixError */
  stateAfter(prefix: readonly number[], state = this.startState, whole: readonly number[] = prefix): number {
    let s = state;
    for (const t of prefix) {
      s = this.nextState(s, t);
      if (s < 0) throw new ZeroProbabilityPrefixError(this.name, whole);
    }
    return s;
  }

  /** Log-probability of a whole token sequence (EOS included if it is there). */
  sequenceLogprob(tokens: readonly number[]): number {
    validatePrefix(this, tokens);
    let s = this.startState;
    let lp = 0;
    for (const t of tokens) {
      if (s < 0) return -Infinity;
      lp += Math.log(this.stateProbs(s)[t]);
      s = this.nextState(s, t);
    }
    return lp;
  }

  private row(state: number): Float32Array {
    let r = this.rowCache.get(state);
    if (!r) {
      const p = this.stateProbs(state);
      r = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) r[i] = Math.log(p[i]);
      this.rowCache.set(state, r);
    }
    return r.slice();
  }

  async nextTokenLogprobs(prefixes: readonly (readonly number[])[]): Promise<Float32Array[]> {
    return prefixes.map((prefix) => {
      validatePrefix(this, prefix);
      return this.row(this.stateAfter(prefix));
    });
  }

  async extend(requests: readonly ExtendRequest[]): Promise<ExtendResult[]> {
    return requests.map(({ cache, tokens }) => {
      if (cache !== null && !(cache instanceof StateCache)) throw new Error(`language model "${this.name}": extend() got a cache it did not make`);
      if (cache !== null && tokens.length === 0) throw new Error(`language model "${this.name}": extend() with a cache needs at least one token`);
      validatePrefix(this, tokens);
      const start = cache ? cache.state : this.startState;
      const s = this.stateAfter(tokens, start);
      return { cache: new StateCache(s, (cache ? cache.length : 0) + tokens.length), logprobs: this.row(s) };
    });
  }
}
