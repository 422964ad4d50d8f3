/**
 * The wrapper every language model gets: auto-batching of concurrent
 * requests, a prefix trie of next-token rows, KV caches on trie nodes for
 * incremental models, and counters.
 *
 * ```ts
 * const lm = wrapLanguageModel(myModel, { maxBatchSize: 64 });
 * // particles ask one prefix at a time; requests made in the same tick become one forward pass
 * const rows = await Promise.all(particles.map((p) => lm.logprobs(p.tokens)));
 * lm.stats(); // { requests, hits, merged, misses, forwardPasses, tokensEvaluated, ... }
 * ```
 *
 * @module
 */
import { abortReason } from '../../infer/pace.js';
import { TickBatcher, type FlushMode } from './batcher.js';
import { validatePrefix } from './errors.js';
import { AbortWatch, SharedBatch, SharedJob } from './shared-abort.js';
import { PrefixTrie, type TrieBudget, type TrieNode } from './trie.js';
import { type ExtendRequest, type IncrementalLanguageModel, type LanguageModel, type LanguageModelCallOptions, isIncremental } from './types.js';

/** Options of {@link CachedLanguageModel}. */
export interface CachedLanguageModelOptions extends TrieBudget {
  /** Most prefixes in one forward pass (default 64). */
  readonly maxBatchSize?: number;
  /** Collect a batch until the next macrotask (default), the next microtask, or for `{ delayMs }` (a full batch goes at once). */
  readonly flush?: FlushMode;
  /**
   * Keep rows in the prefix trie and merge identical prefixes (default true).
   * With false every request is evaluated, batched but not deduplicated: the
   * baseline the counters compare against.
   */
  readonly cache?: boolean;
  /** Keep KV caches on trie nodes for incremental models (default true when the model is incremental and `cache` is on). */
  readonly kvCache?: boolean;
  /**
   * Largest |logsumexp| of a row the model returns (default
   * 1e-3), checked on the first row of each
   * forward pass; a row further from normalised is an error naming the model
   * and prefix. `Infinity` turns the check off (the
   * conformance checks do, to report it as `rows-normalised` instead).
   */
  readonly rowTolerance?: number;
}

/** Counters of a {@link CachedLanguageModel} (a snapshot). */
export interface LanguageModelStats {
  /** Prefixes asked for. */
  readonly requests: number;
  /** Answered from a cached row, no model call. */
  readonly hits: number;
  /** Joined an identical prefix already queued or being evaluated. */
  readonly merged: number;
  /** Prefixes the model evaluated (rows computed). */
  readonly misses: number;
  /** Calls into the model (`nextTokenLogprobs` or `extend`), one per batch. */
  readonly forwardPasses: number;
  /** Tokens the model ran (BOS counted where the model adds it); with KV caches only the new tokens count. */
  readonly tokensEvaluated: number;
  /** Evaluations that continued from a cached ancestor's KV cache. */
  readonly kvReuses: number;
  /** Number of forward passes of each batch size. */
  readonly batchSizes: Readonly<Record<number, number>>;
  /** Mean prefixes per forward pass. */
  readonly meanBatchSize: number;
  /** Trie contents now, and evictions so far. */
  readonly nodes: number;
  readonly cachedRows: number;
  readonly cachedRowBytes: number;
  readonly cachedKvCaches: number;
  readonly evictedRows: number;
  readonly evictedKvCaches: number;
}

/** Options of one request to a {@link CachedLanguageModel}. */
export interface LogprobsRequestOptions {
  /**
   * Stop waiting when this signal aborts: the call rejects with its reason at
   * once. A forward pass that no caller waits for any more no longer holds
   * the batcher (passes never overlap): the next batch runs, and the
   * abandoned pass's rows and KV caches are dropped if it ever settles.
   */
  readonly signal?: AbortSignal;
}

/**
 * One prefix to evaluate, and the callers waiting for it (a caller without a
 * signal never leaves; an aborted caller leaves at once, and the last to
 * leave abandons the job: see `shared-abort.ts`).
 */
class Job extends SharedJob<Float32Array> {
  constructor(
    private readonly owner: CachedLanguageModel,
    readonly prefix: readonly number[],
    readonly node: TrieNode | null,
  ) {
    super();
  }

  protected override abandoned(): void {
    this.owner.abandonJob(this);
  }
}

/**
 * A {@link LanguageModel} wrapped with auto-batching, a prefix trie cache,
 * KV caches (for incremental models) and counters. It is itself a
 * LanguageModel, so anything that takes a model takes it.
 *
 * Rows returned are copies: callers may change them.
 */
export class CachedLanguageModel implements LanguageModel {
  readonly name: string;
  readonly vocab: LanguageModel['vocab'];
  readonly contextLength: number;
  private readonly trie: PrefixTrie;
  private readonly batcher: TickBatcher<Job>;
  private readonly useCache: boolean;
  private readonly rowTolerance: number;
  private readonly useKv: boolean;
  private c = { requests: 0, hits: 0, merged: 0, misses: 0, forwardPasses: 0, tokensEvaluated: 0, kvReuses: 0 };
  private sizes: Record<number, number> = {};
  private disposed = false;
  /** One abort listener per signal for all the callers waiting with it. */
  private readonly abortWatch = new AbortWatch();

  constructor(
    readonly inner: LanguageModel,
    options: CachedLanguageModelOptions = {},
  ) {
    this.name = inner.name;
    this.vocab = inner.vocab;
    this.contextLength = inner.contextLength;
    this.useCache = options.cache ?? true;
    this.rowTolerance = options.rowTolerance ?? ROW_LOGSUMEXP_TOLERANCE;
    if (!(this.rowTolerance >= 0)) throw new RangeError(`CachedLanguageModel: rowTolerance must be a number >= 0, got ${options.rowTolerance}`);
    this.useKv = this.useCache && (options.kvCache ?? true) && isIncremental(inner);
    if (options.kvCache && !isIncremental(inner)) throw new Error(`CachedLanguageModel: kvCache asked for, but model "${inner.name}" has no extend()`);
    this.trie = new PrefixTrie(options);
    this.batcher = new TickBatcher((batch) => this.run(batch), options.maxBatchSize ?? 64, options.flush ?? 'macrotask');
  }

  /**
   * Next-token log-probabilities after one prefix; concurrent calls are
   * batched. With `signal`, the call rejects with the signal's reason as soon
   * as it aborts, even while the model's forward pass hangs (see
   * {@link LogprobsRequestOptions}).
   */
  async logprobs(prefix: readonly number[], options: LogprobsRequestOptions = {}): Promise<Float32Array> {
    if (this.disposed) throw new Error(`language model "${this.name}": used after dispose()`);
    validatePrefix(this, prefix);
    const { signal } = options;
    if (signal !== undefined && typeof (signal as Partial<AbortSignal> | null)?.addEventListener !== 'function') {
      throw new TypeError(`language model "${this.name}": logprobs' signal must be an AbortSignal, got ${signal === null ? 'null' : typeof signal}`);
    }
    if (signal?.aborted) throw abortReason(signal);
    this.c.requests++;
    if (!this.useCache) return this.wait(this.enqueue(prefix.slice(), null), signal);
    const node = this.trie.node(prefix);
    if (node.row) {
      this.c.hits++;
      this.trie.touchRow(node);
      return node.row.slice();
    }
    if (node.pending) {
      this.c.merged++;
      return this.wait(node.pending as Job, signal);
    }
    this.c.misses++;
    const job = this.enqueue(prefix.slice(), node);
    node.pending = job;
    return this.wait(job, signal);
  }

  /** The batched form: one row per prefix, all requests joining the current batch. */
  nextTokenLogprobs(prefixes: readonly (readonly number[])[], options: LogprobsRequestOptions = {}): Promise<Float32Array[]> {
    return Promise.all(prefixes.map((p) => this.logprobs(p, options)));
  }

  /** Log-probability of `token` after `prefix`. */
  async tokenLogprob(prefix: readonly number[], token: number): Promise<number> {
    validatePrefix(this, [token]);
    return (await this.logprobs(prefix))[token];
  }

  /** True when the row of `prefix` is cached (no counters change). */
  has(prefix: readonly number[]): boolean {
    return !!this.trie.find(prefix)?.row;
  }

  /** A snapshot of the counters and the trie's contents. */
  stats(): LanguageModelStats {
    const t = this.trie.counts();
    const passes = this.c.forwardPasses;
    let rows = 0;
    for (const [size, count] of Object.entries(this.sizes)) rows += Number(size) * count;
    return {
      ...this.c,
      batchSizes: { ...this.sizes },
      meanBatchSize: passes ? rows / passes : 0,
      nodes: t.nodes,
      cachedRows: t.rows,
      cachedRowBytes: t.rowBytes,
      cachedKvCaches: t.kvCaches,
      evictedRows: t.evictedRows,
      evictedKvCaches: t.evictedKvCaches,
    };
  }

  /** Zero the counters (the cache is kept). */
  resetStats(): void {
    this.c = { requests: 0, hits: 0, merged: 0, misses: 0, forwardPasses: 0, tokensEvaluated: 0, kvReuses: 0 };
    this.sizes = {};
  }

  /** Drop every cached row and dispose every KV cache (the model is kept). */
  clearCache(): void {
    this.trie.clear();
  }

  /** Dispose the caches and the wrapped model. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.trie.clear();
    this.inner.dispose?.();
  }

  private enqueue(prefix: readonly number[], node: TrieNode | null): Job {
    const job = new Job(this, prefix, node);
    this.batcher.push(job);
    return job;
  }

  /** A copy of `job`'s row when it comes, or the signal's reason as soon as it aborts (the caller then leaves the job). */
  private wait(job: Job, signal: AbortSignal | undefined): Promise<Float32Array> {
    return new Promise<Float32Array>((resolve, reject) => job.join(this.abortWatch, signal, (row) => resolve(row.slice()), reject, true));
  }

  /**
   * No one waits for `job` any more: a later request for its prefix starts a
   * new job, and a pass whose jobs are all abandoned lets the batcher go on
   * (an LM whose forward pass never settled held every later run behind an
   * aborted one; its batch's signal, given to the model, aborts then too:
   * see `shared-abort.ts`). Called by the job's last waiter as it leaves.
   *
   * @internal
   */
  abandonJob(job: Job): void {
    this.detach(job);
  }

  /** `job` is no longer the evaluation its trie node waits on. */
  private detach(job: Job): void {
    const node = job.node;
    if (!node || node.pending !== job) return;
    node.pending = null;
    this.trie.prune(node);
  }

  /** Answer every waiter of `job` (a row, or the error) and detach it. */
  private settle(job: Job, row: Float32Array | null, error?: unknown): void {
    this.detach(job);
    if (row) job.resolve(row);
    else job.reject(error);
  }

  private bosCost(): number {
    return this.vocab.bos === null ? 0 : 1;
  }

  private record(size: number): void {
    this.c.forwardPasses++;
    this.sizes[size] = (this.sizes[size] ?? 0) + 1;
  }

  /**
   * One forward pass over the batch's wanted jobs. The batcher waits for it
   * unless every job is abandoned first; the model is then told through the
   * pass's signal (it may stop early), and a pass that settles after that
   * changes nothing (its rows are not cached, its KV caches are disposed).
   */
  private async run(batch: Job[]): Promise<void> {
    const jobs = batch.filter((j) => !j.isAbandoned);
    if (jobs.length === 0) return;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const pass = new SharedBatch(jobs, release);
    const call: LanguageModelCallOptions | undefined = pass.signal ? { signal: pass.signal } : undefined;
    const work = (async () => {
      try {
        const rows = this.useKv ? await this.runIncremental(jobs, call) : await this.runPlain(jobs, call);
        jobs.forEach((job, i) => {
          if (job.isAbandoned) return;
          if (job.node && !this.disposed) this.trie.setRow(job.node, rows[i]);
          this.settle(job, rows[i]);
        });
      } catch (e) {
        for (const job of jobs) this.settle(job, null, e);
      }
    })();
    try {
      await Promise.race([work, released]);
    } finally {
      pass.close();
    }
  }

  private async runPlain(batch: Job[], call: LanguageModelCallOptions | undefined): Promise<Float32Array[]> {
    this.record(batch.length);
    for (const job of batch) this.c.tokensEvaluated += job.prefix.length + this.bosCost();
    const prefixes = batch.map((j) => j.prefix);
    const rows = await (call ? this.inner.nextTokenLogprobs(prefixes, call) : this.inner.nextTokenLogprobs(prefixes));
    this.checkRows(rows, batch);
    return rows;
  }

  private async runIncremental(batch: Job[], call: LanguageModelCallOptions | undefined): Promise<Float32Array[]> {
    const lm = this.inner as IncrementalLanguageModel;
    const bases: (TrieNode | null)[] = [];
    const requests: ExtendRequest[] = batch.map((job) => {
      const node = job.node!;
      const base = this.trie.deepestKv(node.parent);
      bases.push(base);
      if (base) {
        base.pins++;
        this.trie.touchKv(base);
        this.c.kvReuses++;
        this.c.tokensEvaluated += node.depth - base.depth;
        return { cache: base.kv, tokens: job.prefix.slice(base.depth) };
      }
      this.c.tokensEvaluated += job.prefix.length + this.bosCost();
      return { cache: null, tokens: job.prefix };
    });
    this.record(batch.length);
    let results;
    try {
      results = await (call ? lm.extend(requests, call) : lm.extend(requests));
    } finally {
      for (const b of bases) if (b) b.pins--;
    }
    if (!Array.isArray(results) || results.length !== batch.length) {
      throw new Error(`language model "${this.name}": extend() returned ${Array.isArray(results) ? results.length : typeof results} results for ${batch.length} requests`);
    }
    this.checkRows(results.map((r) => r.logprobs), batch);
    results.forEach((r, i) => {
      if (this.disposed || batch[i].isAbandoned) r.cache.dispose();
      else this.trie.setKv(batch[i].node!, r.cache);
    });
    this.trie.evictRows();
    return results.map((r) => r.logprobs);
  }

  private checkRows(rows: Float32Array[], batch: Job[]): void {
    const n = batch.length;
    if (!Array.isArray(rows) || rows.length !== n) throw new Error(`language model "${this.name}": returned ${Array.isArray(rows) ? rows.length : typeof rows} rows for ${n} prefixes`);
    const show = (i: number) => `[${batch[i].prefix.slice(0, 12).join(', ')}${batch[i].prefix.length > 12 ? ', ...' : ''}]`;
    rows.forEach((r, i) => {
      if (!(r instanceof Float32Array) || r.length !== this.vocab.size) {
        throw new Error(`language model "${this.name}": the row for prefix ${show(i)} is ${r?.constructor?.name ?? typeof r} of length ${r?.length}, expected a Float32Array of the vocabulary size ${this.vocab.size}`);
      }
      let m = -Infinity;
      for (let j = 0; j < r.length; j++) {
        const v = r[j];
        if (Number.isNaN(v)) throw new Error(`language model "${this.name}": the row for prefix ${show(i)} holds NaN (token ${j})`);
        if (v === Infinity) throw new Error(`language model "${this.name}": the row for prefix ${show(i)} holds +Infinity (token ${j}); rows are log-probabilities, at most 0`);
        if (v > m) m = v;
      }
      // logits or probabilities in place of log-probabilities steered without a word: log Z came out as
      // the EOS logit (0.1 for logits [2, 1, 0.5, 0.1]), or 7.76 with the locally optimal proposal
      // one row a forward pass (the first): a model that returns logits does so in every row, and summing
      // exp over every row cost ~0.5 ms a row at a 32k vocabulary (2 cores under load 14)
      if (i > 0 || this.rowTolerance === Infinity) return;
      let sum = 0;
      if (m > -Infinity) for (let j = 0; j < r.length; j++) sum += Math.exp(r[j] - m);
      const lse = m === -Infinity ? -Infinity : m + Math.log(sum);
      if (!(Math.abs(lse) <= this.rowTolerance)) {
        throw new Error(
          `language model "${this.name}": the row for prefix ${show(i)} is not normalised: its probabilities sum to ${Math.exp(lse).toPrecision(4)} (logsumexp ${lse.toPrecision(4)}); a row holds log-probabilities over the full vocabulary (the log-softmax of the logits), not logits or probabilities`,
        );
      }
    });
  }
}

/**
 * How far a model's row may be from normalised, as |logsumexp| (1e-3: float32
 * rows over 150k tokens sum to 1 within about 1e-5; logits or probabilities
 * given by mistake are off by far more).
 */
export const ROW_LOGSUMEXP_TOLERANCE = 1e-3;

/** Wrap a model with batching, the prefix trie and KV caches (see {@link CachedLanguageModel}). */
export function wrapLanguageModel(lm: LanguageModel, options: CachedLanguageModelOptions = {}): CachedLanguageModel {
  return new CachedLanguageModel(lm, options);
}
