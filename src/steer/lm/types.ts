/**
 * The language-model interface everything in `src/steer/lm/` stands on.
 *
 * A {@link LanguageModel} maps token prefixes to next-token log-probabilities
 * over its **full** vocabulary, many prefixes at once. Prefixes never contain
 * BOS: a model that conditions on a beginning-of-sequence token adds it
 * itself, so `[]` asks for the distribution of the first token. A user plugs
 * in their own model by implementing this interface; the wrapper
 * (`CachedLanguageModel`) adds auto-batching, a prefix trie cache and KV
 * caches on top of any model.
 *
 * @module
 */

/** Token ids and their text/bytes. */
export interface Vocabulary {
  /** Number of tokens; token ids are 0 .. size-1. */
  readonly size: number;
  /** The beginning-of-sequence id the model conditions on, or null if it has none. */
  readonly bos: number | null;
  /** The end-of-sequence id: sampling it finishes a sequence. */
  readonly eos: number;
  /** The UTF-8 bytes of token `id` (empty for special tokens such as EOS). */
  tokenBytes(id: number): Uint8Array;
  /** The text of token `id` (a lossy decode of its bytes; '' for special tokens). */
  tokenText(id: number): string;
  /** Text of a token sequence (bytes joined, then decoded, so multi-byte characters split across tokens survive). */
  decode(ids: readonly number[]): string;
  /** Token ids of a text, where the model has a tokenizer. */
  encode?(text: string): number[];
}

/** A cache of a model's attention keys/values after some prefix (opaque to callers). */
export interface KVCache {
  /** Number of tokens (BOS included if the model adds one) the cache holds. */
  readonly length: number;
  /** Free the cache's memory (tensors, native sequences). Idempotent. */
  dispose(): void;
}

/** One request to {@link IncrementalLanguageModel.extend}. */
export interface ExtendRequest {
  /** The cache to continue from, or null to start from an empty context (BOS added by the model). Not consumed. */
  readonly cache: KVCache | null;
  /** Tokens to run on top of the cache (may be empty only when cache is null). */
  readonly tokens: readonly number[];
}

/** The result of one {@link ExtendRequest}. */
export interface ExtendResult {
  /** A new cache holding the old prefix plus `tokens` (the caller owns it). */
  readonly cache: KVCache;
  /** Next-token log-probabilities after the last token (length = vocabulary size). */
  readonly logprobs: Float32Array;
}

/**
 * Options of one call into a model. The wrapper (`CachedLanguageModel`)
 * passes a `signal` when every run waiting on the forward pass could leave
 * it; the signal aborts once all of them have (see `shared-abort.ts`). A
 * model may then stop early and reject (with `signal.reason`); one that
 * ignores it just finishes the pass, whose rows are then dropped. Rows
 * computed under a signal that has not aborted must equal those computed
 * without one.
 */
export interface LanguageModelCallOptions {
  readonly signal?: AbortSignal;
}

/** A language model: next-token log-probabilities over the full vocabulary. */
export interface LanguageModel {
  /** A name used in error messages and reports. */
  readonly name: string;
  readonly vocab: Vocabulary;
  /** Maximum number of tokens (BOS included) the model can condition on. Infinity if unbounded. */
  readonly contextLength: number;
  /**
   * Next-token log-probabilities for each prefix: one float32 row of length
   * `vocab.size` per prefix, in the same order. Rows are normalised
   * (logsumexp = 0 up to float32 rounding). See {@link LanguageModelCallOptions}
   * for `options.signal`.
   */
  nextTokenLogprobs(prefixes: readonly (readonly number[])[], options?: LanguageModelCallOptions): Promise<Float32Array[]>;
  /** Free whatever the model holds (weights, native contexts). Optional. */
  dispose?(): void;
}

/** A model that can continue from a cached prefix at the cost of the new tokens only. */
export interface IncrementalLanguageModel extends LanguageModel {
  /**
   * Run each request's tokens on top of its cache, all requests in one batch
   * where possible (`options.signal`: see {@link LanguageModelCallOptions}).
   */
  extend(requests: readonly ExtendRequest[], options?: LanguageModelCallOptions): Promise<ExtendResult[]>;
}

/** True when `lm` implements {@link IncrementalLanguageModel}. */
export function isIncremental(lm: LanguageModel): lm is IncrementalLanguageModel {
  return typeof (lm as Partial<IncrementalLanguageModel>).extend === 'function';
}
