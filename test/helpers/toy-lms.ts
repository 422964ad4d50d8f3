/**
 * Small language models for tests: a tfjs recurrent model with real tensor
 * caches (so KV caching, eviction and tensor counts are exercised), and
 * deliberately broken models (planted bugs the conformance checks must catch).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../src/core/rng.js';
import { validatePrefix } from '../../src/steer/lm/errors.js';
import type { ExtendRequest, ExtendResult, IncrementalLanguageModel, KVCache, LanguageModel } from '../../src/steer/lm/types.js';
import { TokenVocabulary } from '../../src/steer/lm/vocab.js';

class TensorCache implements KVCache {
  disposed = false;
  constructor(
    readonly h: tf.Tensor1D,
    readonly length: number,
    private readonly live: Set<TensorCache>,
  ) {
    live.add(this);
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.live.delete(this);
    this.h.dispose();
  }
}

/**
 * h_0 = tanh(b), h_t = tanh(W h_{t-1} + E[x_t]), next-token log-probabilities
 * logSoftmax(U h_t); the cache is h (a tensor). BOS is implicit in h_0 and
 * counted in cache lengths when `bos` is set.
 */
export class ToyRecurrentLM implements IncrementalLanguageModel {
  readonly vocab: TokenVocabulary;
  readonly liveCaches = new Set<TensorCache>();
  private readonly W: tf.Tensor2D;
  private readonly E: tf.Tensor2D;
  private readonly U: tf.Tensor2D;
  private readonly b: tf.Tensor1D;
  /** Number of tokens run through the recurrence (BOS counted as one). */
  tokensRun = 0;
  calls = 0;

  constructor(
    readonly name = 'toy-rnn',
    alphabet = 'abcd',
    readonly contextLength = 32,
    hidden = 6,
    seed = 3,
  ) {
    this.vocab = TokenVocabulary.characters(alphabet, { bos: true });
    const rng = new Rng(seed);
    const mat = (r: number, c: number, s: number) => tf.tensor2d(Array.from(rng.normals(r * c), (x) => x * s), [r, c]);
    this.W = mat(hidden, hidden, 0.6);
    this.E = mat(this.vocab.size, hidden, 1);
    this.U = mat(hidden, this.vocab.size, 1.2);
    this.b = tf.tensor1d(Array.from(rng.normals(hidden), (x) => x * 0.5));
  }

  private step(h: tf.Tensor1D, token: number): tf.Tensor1D {
    this.tokensRun++;
    const x = tf.reshape(tf.gather(this.E, [token]), [-1]);
    return tf.tanh(tf.add(tf.reshape(tf.matMul(tf.reshape(h, [1, -1]), this.W), [-1]), x)) as tf.Tensor1D;
  }

  private rowOf(h: tf.Tensor1D): Float32Array {
    const out = tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(h, [1, -1]), this.U), [-1]));
    const logits = Float64Array.from(out.dataSync());
    out.dispose();
    logits[this.vocab.bos!] = -Infinity;
    let m = -Infinity;
    for (const x of logits) m = Math.max(m, x);
    let z = 0;
    for (const x of logits) z += Math.exp(x - m);
    return Float32Array.from(logits, (x) => x - m - Math.log(z));
  }

  private start(): tf.Tensor1D {
    this.tokensRun++;
    return tf.tanh(this.b);
  }

  async nextTokenLogprobs(prefixes: readonly (readonly number[])[]): Promise<Float32Array[]> {
    this.calls++;
    for (const p of prefixes) validatePrefix(this, p);
    return prefixes.map((p) => {
      const h = tf.tidy(() => p.reduce((acc, t) => this.step(acc, t), this.start()));
      const row = this.rowOf(h);
      h.dispose();
      return row;
    });
  }

  async extend(requests: readonly ExtendRequest[]): Promise<ExtendResult[]> {
    this.calls++;
    return requests.map(({ cache, tokens }) => {
      validatePrefix(this, tokens);
      if (cache && (!(cache instanceof TensorCache) || cache.disposed)) throw new Error(`language model "${this.name}": extend() got a disposed or foreign cache`);
      const c = cache as TensorCache | null;
      const h = tf.tidy(() => tokens.reduce((acc, t) => this.step(acc, t), c ? c.h : this.start()));
      return { cache: new TensorCache(h, (c ? c.length : 1) + tokens.length, this.liveCaches), logprobs: this.rowOf(h) };
    });
  }

  dispose(): void {
    for (const c of [...this.liveCaches]) c.dispose();
    for (const t of [this.W, this.E, this.U, this.b]) t.dispose();
  }
}

/** Planted bugs: a model that is right except for the named defect. */
export function brokenModel(base: LanguageModel, bug: 'unnormalised' | 'batch-dependent' | 'accepts-unknown-ids' | 'leaks-tensors'): LanguageModel {
  return {
    name: `${base.name} (planted bug: ${bug})`,
    vocab: base.vocab,
    contextLength: base.contextLength,
    async nextTokenLogprobs(prefixes) {
      if (bug === 'accepts-unknown-ids') {
        const safe = prefixes.map((p) => p.map((t) => (Number.isInteger(t) && t >= 0 && t < base.vocab.size ? t : 0)));
        return base.nextTokenLogprobs(safe);
      }
      const rows = await base.nextTokenLogprobs(prefixes);
      if (bug === 'unnormalised') return rows.map((r) => r.map((x) => x + 0.01));
      if (bug === 'batch-dependent' && prefixes.length > 1) return rows.map((r, i) => r.map((x) => x + 1e-3 * i));
      if (bug === 'leaks-tensors') tf.scalar(1);
      return rows;
    },
  };
}

/** A model whose extend() is off by one token (forgets the last token of a multi-token extension). */
export function brokenIncremental(base: IncrementalLanguageModel): IncrementalLanguageModel {
  return {
    name: `${base.name} (planted bug: stale KV cache)`,
    vocab: base.vocab,
    contextLength: base.contextLength,
    nextTokenLogprobs: (p) => base.nextTokenLogprobs(p),
    extend: (reqs) => base.extend(reqs.map((r) => (r.cache && r.tokens.length >= 1 ? { cache: r.cache, tokens: r.tokens.length > 1 ? r.tokens.slice(0, -1) : r.tokens } : r))),
  };
}
