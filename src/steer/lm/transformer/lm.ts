/**
 * {@link TransformerLM}: the tfjs transformer of `model.ts` as an
 * {@link IncrementalLanguageModel}. Many prefixes run in one padded forward
 * pass; KV caches hold each prefix's rotated keys and values per layer, and
 * {@link TransformerLM.extend} runs only the new tokens of many caches at once
 * (caches of different lengths are padded and masked).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted, yieldToEventLoop } from '../../../infer/pace.js';
import type { ExtendRequest, ExtendResult, IncrementalLanguageModel, KVCache, LanguageModelCallOptions } from '../types.js';
import { type LayerKV, type Rope, type TransformerConfig, type TransformerWeights, attentionMask, checkConfig, forward, head, makeRope } from './model.js';
import { FusedStep, type FusedStepOptions, KVBuffer, type TypedKV } from './step.js';
import { CharVocabulary } from './tokenizer.js';

/** Options of {@link TransformerLM}. */
export interface TransformerLMOptions {
  /** Name used in errors and reports. */
  readonly name?: string;
  /** Largest number of sequences in one forward pass (bigger requests are split). Default 128. */
  readonly maxBatch?: number;
  /**
   * One-token extensions (any number of caches at once, and fresh
   * sequences whose only token is BOS) run in the fused step of `step.ts`
   * (SIMD WebAssembly kernels on the shared KV buffers) instead of a padded
   * tfjs forward pass (default true; false = always the tfjs pass, the
   * baseline bench/lm.ts compares against).
   */
  readonly fusedStep?: boolean;
  /** Which kernels run the fused step: SIMD WebAssembly (default) or typed arrays + tfjs. */
  readonly fusedStepOptions?: FusedStepOptions;
}

/**
 * A KV cache of a {@link TransformerLM}: per layer rotated keys and values
 * `[length, dModel]`, the first `length` positions of a buffer that a chain of
 * caches shares (extending the newest cache of a chain writes in place).
 */
export class TransformerKVCache implements KVCache {
  private disposed = false;
  private buf: KVBuffer | null;
  /** @internal */
  constructor(
    readonly owner: TransformerLM,
    buffer: KVBuffer,
    readonly length: number,
  ) {
    this.buf = buffer;
  }
  /** The per-layer keys and values (views, valid until dispose). */
  get layers(): readonly TypedKV[] {
    return this.buf ? this.buf.views(this.length) : [];
  }
  /** @internal the shared buffer */
  get buffer(): KVBuffer {
    if (!this.buf) throw new Error(`${this.owner.name}: the KV cache has been disposed`);
    return this.buf;
  }
  /** True once {@link dispose} has run. */
  get isDisposed(): boolean {
    return this.disposed;
  }
  dispose(): void {
    this.disposed = true;
    this.buf = null;
  }
}

/** A llama-style transformer with a character vocabulary, as a language model. */
export class TransformerLM implements IncrementalLanguageModel {
  readonly name: string;
  readonly contextLength: number;
  private readonly rope: Rope;
  private readonly maxBatch: number;
  private readonly useFused: boolean;
  private fused: FusedStep | null = null;
  private disposed = false;

  /**
   * @param config - the shape (its head must be `lm`)
   * @param weights - tensors named as in `weightShapes(config)`; the model takes ownership
   * @param vocab - the tokenizer (its size must equal `config.vocabSize`)
   */
  constructor(
    readonly config: TransformerConfig,
    readonly weights: TransformerWeights,
    readonly vocab: CharVocabulary,
    options: TransformerLMOptions = {},
  ) {
    this.name = options.name ?? 'transformer';
    checkConfig(config, `${this.name} config`);
    if (config.head !== 'lm') throw new Error(`${this.name}: a TransformerLM needs an "lm" head, the config has "${config.head}"`);
    if (vocab.size !== config.vocabSize) throw new Error(`${this.name}: vocabulary has ${vocab.size} tokens, config says ${config.vocabSize}`);
    this.contextLength = config.contextLength;
    this.maxBatch = options.maxBatch ?? 128;
    this.useFused = options.fusedStep ?? true;
    this.rope = makeRope(config);
    // built now, so the model's tensor count is fixed from construction on
    if (this.useFused) this.fused = new FusedStep(config, weights, this.capacity, options.fusedStepOptions);
  }

  private checkTokens(tokens: readonly number[], offset: number, what: string): void {
    if (this.disposed) throw new Error(`${this.name}: the model has been disposed`);
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= this.vocab.size) throw new Error(`${this.name}: unknown token id ${t} in ${what} (vocabulary size ${this.vocab.size})`);
    }
    if (offset + tokens.length > this.contextLength) {
      throw new Error(`${this.name}: ${what} needs ${offset + tokens.length} positions (BOS included), more than the context length ${this.contextLength}`);
    }
  }

  /**
   * Rows for many prefixes, in chunks of `maxBatch`. With `options.signal`
   * the pass yields to the event loop before each chunk after the first and
   * stops (rejecting with the signal's reason) once it has aborted.
   */
  async nextTokenLogprobs(prefixes: readonly (readonly number[])[], options?: LanguageModelCallOptions): Promise<Float32Array[]> {
    prefixes.forEach((p, i) => this.checkTokens(p, 1, `prefix ${i}`));
    const signal = options?.signal;
    const out: Float32Array[] = [];
    for (let s = 0; s < prefixes.length; s += this.maxBatch) {
      if (signal) await this.between(s, signal);
      const chunk = prefixes.slice(s, s + this.maxBatch).map((p) => [this.vocab.bos, ...p]);
      const { logp } = this.run(chunk, null, false);
      out.push(...(await this.rows(logp)));
    }
    return out;
  }

  /** Continue many caches; `options.signal` as in {@link TransformerLM.nextTokenLogprobs}. */
  async extend(requests: readonly ExtendRequest[], options?: LanguageModelCallOptions): Promise<ExtendResult[]> {
    const signal = options?.signal;
    const seqs: number[][] = [];
    const caches: (TransformerKVCache | null)[] = [];
    requests.forEach((r, i) => {
      let cache: TransformerKVCache | null = null;
      if (r.cache !== null) {
        if (!(r.cache instanceof TransformerKVCache) || r.cache.owner !== this) throw new Error(`${this.name}: extend request ${i} carries a cache from another model`);
        if (r.cache.isDisposed) throw new Error(`${this.name}: extend request ${i} carries a disposed cache`);
        cache = r.cache;
      }
      if (cache !== null && r.tokens.length === 0) throw new Error(`${this.name}: extend request ${i} has no tokens to run on its cache`);
      this.checkTokens(r.tokens, cache ? cache.length : 1, `extend request ${i}`);
      seqs.push(cache ? [...r.tokens] : [this.vocab.bos, ...r.tokens]);
      caches.push(cache);
    });
    const results: ExtendResult[] = [];
    // One token per request (a cache extended by one token, or a fresh sequence's BOS): the fused step.
    if (this.fused && seqs.length > 0 && seqs.every((q) => q.length === 1)) {
      const V = this.vocab.size;
      const c = this.config;
      for (let s = 0; s < seqs.length; s += this.maxBatch) {
        if (signal) await this.between(s, signal);
        const rows = caches.slice(s, s + this.maxBatch).map((cache, j) => ({
          buffer: cache ? cache.buffer : new KVBuffer(c.nLayers, this.capacity(1), c.dModel),
          length: cache ? cache.length : 0,
          token: seqs[s + j]![0]!,
        }));
        const { logprobs, buffers } = this.fused.step(rows);
        rows.forEach((r, j) => results.push({ logprobs: logprobs.slice(j * V, (j + 1) * V), cache: new TransformerKVCache(this, buffers[j]!, r.length + 1) }));
      }
      return results;
    }
    for (let s = 0; s < seqs.length; s += this.maxBatch) {
      if (signal) await this.between(s, signal);
      const { logp, newCaches } = this.run(seqs.slice(s, s + this.maxBatch), caches.slice(s, s + this.maxBatch), true);
      const rows = await this.rows(logp);
      rows.forEach((row, i) => results.push({ logprobs: row, cache: newCaches![i]! }));
    }
    return results;
  }

  /** Before the chunk starting at row `s` of a pass under `signal`: a turn of the event loop (not before the first), then stop if aborted. */
  private async between(s: number, signal: AbortSignal): Promise<void> {
    if (s > 0) await yieldToEventLoop();
    throwIfAborted(signal, `${this.name} forward pass`);
  }

  /** One padded forward pass; returns log-probabilities `[B, V]` at each row's last token and, if asked, new caches. */
  private run(seqs: number[][], caches: (TransformerKVCache | null)[] | null, wantCaches: boolean): { logp: tf.Tensor2D; newCaches?: TransformerKVCache[] } {
    const c = this.config;
    const B = seqs.length;
    const T = Math.max(...seqs.map((q) => q.length));
    const pastLens = seqs.map((_, b) => caches?.[b]?.length ?? 0);
    const P = Math.max(0, ...pastLens);
    const tok = new Int32Array(B * T);
    const pos = new Int32Array(B * T);
    seqs.forEach((q, b) => {
      for (let t = 0; t < T; t++) {
        tok[b * T + t] = t < q.length ? q[t]! : 0;
        pos[b * T + t] = Math.min(pastLens[b]! + t, c.contextLength - 1);
      }
    });
    const d = c.dModel;
    const hd = d / c.nHeads;
    // Past keys/values, right-padded to P, uploaded as one [B, P, d] array per layer and part.
    const pastArrays: Float32Array[][] = [];
    if (P > 0) {
      for (let l = 0; l < c.nLayers; l++) {
        const k = new Float32Array(B * P * d);
        const v = new Float32Array(B * P * d);
        for (let b = 0; b < B; b++) {
          const kv = caches?.[b]?.layers[l];
          if (kv) {
            k.set(kv.k, b * P * d);
            v.set(kv.v, b * P * d);
          }
        }
        pastArrays.push([k, v]);
      }
    }
    const kept: { logp: tf.Tensor2D; kv: tf.Tensor[] } = tf.tidy(() => {
      const toHeads = (a: Float32Array): tf.Tensor4D => tf.transpose(tf.tensor4d(a, [B, P, c.nHeads, hd]), [0, 2, 1, 3]);
      const past: LayerKV[] | null = P > 0 ? pastArrays.map(([k, v]) => ({ k: toHeads(k!), v: toHeads(v!) })) : null;
      const { hidden, kv } = forward(c, this.weights, this.rope, {
        tokens: tf.tensor2d(tok, [B, T], 'int32'),
        positions: tf.tensor2d(pos, [B, T], 'int32'),
        mask: attentionMask(pastLens, P, seqs.map((q) => q.length), T),
        past,
      });
      const last = tf.tensor1d(seqs.map((q, b) => b * T + q.length - 1), 'int32');
      const h = tf.gather(tf.reshape(hidden, [B * T, d]), last) as tf.Tensor2D;
      const logp = tf.logSoftmax(head(c, this.weights, h)) as tf.Tensor2D;
      // this call's keys/values back to [B, T, d]
      const fresh = wantCaches ? kv.flatMap((x) => [tf.transpose(x.k, [0, 2, 1, 3]), tf.transpose(x.v, [0, 2, 1, 3])]) : [];
      return { logp, kv: fresh };
    });
    if (!wantCaches) return { logp: kept.logp };
    const freshData = kept.kv.map((t) => t.dataSync() as Float32Array);
    tf.dispose(kept.kv);
    const newCaches = seqs.map((q, b) => {
      const n = q.length;
      const L = pastLens[b]!;
      const old = caches?.[b];
      const buf = old ? old.buffer.claim(L, this.capacity, n) : new KVBuffer(c.nLayers, this.capacity(n), d);
      if (!old) buf.used = n;
      for (let l = 0; l < c.nLayers; l++) {
        buf.k[l]!.set(freshData[2 * l]!.subarray(b * T * d, (b * T + n) * d), L * d);
        buf.v[l]!.set(freshData[2 * l + 1]!.subarray(b * T * d, (b * T + n) * d), L * d);
      }
      return new TransformerKVCache(this, buf, L + n);
    });
    return { logp: kept.logp, newCaches };
  }

  private async rows(logp: tf.Tensor2D): Promise<Float32Array[]> {
    const [B, V] = logp.shape;
    const data = (await logp.data()) as Float32Array;
    logp.dispose();
    const out: Float32Array[] = [];
    for (let b = 0; b < B; b++) out.push(data.slice(b * V, (b + 1) * V));
    return out;
  }

  /** Buffer capacity for a cache that needs `needed` positions: room to grow, within the context. */
  private readonly capacity = (needed: number): number => Math.min(this.contextLength, Math.max(needed + 32, 2 * needed));

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.fused?.dispose();
    this.rope.dispose();
    tf.dispose(Object.values(this.weights));
  }
}
