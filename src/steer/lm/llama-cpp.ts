/**
 * llama.cpp through `node-llama-cpp` (an optional peer dependency, Node only):
 * load a local GGUF file (Qwen, Llama, ... or a tyche transformer exported by
 * `gguf.ts`) as a {@link LanguageModel} with full-vocabulary next-token
 * log-probabilities.
 *
 * Several prefixes are evaluated at once on separate sequences of one
 * llama.cpp context (node-llama-cpp merges their tokens into one batch).
 * Each sequence keeps its KV cache: a prefix that extends what a sequence
 * last evaluated runs only its new tokens, so token-by-token generation and
 * particles that share a prefix pay for the difference only. Weights are
 * never downloaded: the GGUF file must be on disk.
 *
 * ```ts
 * const lm = await loadLlamaCpp({ modelPath: 'qwen2.5-0.5b-instruct-q8_0.gguf', sequences: 8 });
 * const [row] = await lm.nextTokenLogprobs([lm.vocab.encode!('The capital of France is')]);
 * ```
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { validatePrefix } from './errors.js';
import { byteToUnicode, readGGUFInfo } from './gguf.js';
import { throwIfAborted } from '../../infer/pace.js';
import type { LanguageModel, LanguageModelCallOptions, Vocabulary } from './types.js';

/** Options of {@link loadLlamaCpp}. */
export interface LlamaCppOptions {
  /** Path of a local GGUF file. */
  readonly modelPath: string;
  /** Name used in errors and reports (default: the file name). */
  readonly name?: string;
  /** Sequences evaluated in parallel in one context (default 8). */
  readonly sequences?: number;
  /** Context size per sequence (default: the model's training context, at most 2048). */
  readonly contextSize?: number;
  /** `false` for CPU (default), or `'auto'` / `'cuda'` / `'vulkan'` / `'metal'` to let llama.cpp use a GPU. */
  readonly gpu?: false | 'auto' | 'cuda' | 'vulkan' | 'metal';
  /**
   * Precise mode (default true): float32 KV cache and no flash attention, so results match a float32
   * reference to ~1e-5 nats. false = llama.cpp's defaults (f16 KV cache, flash attention where
   * available: faster and leaner, log-probabilities off by ~1e-3).
   */
  readonly kvCacheF32?: boolean;
  /** CPU threads (default: llama.cpp's choice). */
  readonly threads?: number;
}

/** Load a module by a name held in a variable, so type-checking never needs it installed. */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

const PACKAGE = 'node-llama-cpp';

/** Decode GGUF token strings to bytes by the tokenizer model's convention. */
function tokenBytesFrom(tokens: readonly string[], types: readonly number[] | null, model: string): Uint8Array[] {
  const enc = new TextEncoder();
  const inv = new Map<string, number>();
  byteToUnicode().forEach((ch, b) => inv.set(ch, b));
  return tokens.map((t, i) => {
    const type = types?.[i] ?? 1;
    if (type === 3 || type === 2) return new Uint8Array(0); // control, unknown
    if (model === 'gpt2') {
      const out: number[] = [];
      for (const ch of t) {
        const b = inv.get(ch);
        if (b === undefined) return enc.encode(t); // added tokens stored as plain text
        out.push(b);
      }
      return Uint8Array.from(out);
    }
    if (model === 'llama') {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
      if (type === 6 || m) return Uint8Array.of(parseInt(m ? m[1]! : '0', 16));
      return enc.encode(t.replace(/\u2581/g, ' '));
    }
    return enc.encode(t);
  });
}

/** The vocabulary of a GGUF model, read from its metadata (token bytes exact for byte-level BPE and SentencePiece). */
export class GGUFVocabulary implements Vocabulary {
  readonly size: number;
  private readonly bytes: Uint8Array[];
  private readonly decoder = new TextDecoder();

  constructor(
    readonly name: string,
    tokens: readonly string[],
    types: readonly number[] | null,
    tokenizerModel: string,
    readonly bos: number | null,
    readonly eos: number,
    private readonly tokenizer: ((text: string) => number[]) | null,
  ) {
    this.size = tokens.length;
    this.bytes = tokenBytesFrom(tokens, types, tokenizerModel);
  }

  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) throw new Error(`language model "${this.name}": unknown token id ${id} (vocabulary size ${this.size})`);
    return this.bytes[id]!;
  }
  tokenText(id: number): string {
    return this.decoder.decode(this.tokenBytes(id));
  }
  decode(ids: readonly number[]): string {
    const parts = ids.map((id) => this.tokenBytes(id));
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return this.decoder.decode(all);
  }
  encode(text: string): number[] {
    if (!this.tokenizer) throw new Error(`language model "${this.name}": no tokenizer`);
    return this.tokenizer(text);
  }
}

/* Minimal structural types of the node-llama-cpp objects used here. */
interface NlcSequence {
  readonly contextTokens: number[];
  readonly nextTokenIndex: number;
  eraseContextTokenRanges(ranges: { start: number; end: number }[]): Promise<void>;
  controlledEvaluate(input: (number | [number, { generateNext: { probabilities: boolean } }])[]): Promise<({ next: { probabilities?: Map<number, number> } } | undefined)[]>;
  dispose(): void;
}
interface NlcContext {
  getSequence(): NlcSequence;
  dispose(): Promise<void>;
}
interface NlcModel {
  readonly trainContextSize: number;
  readonly tokens: { readonly bos: number | null; readonly eos: number | null; readonly shouldPrependBosToken: boolean };
  tokenize(text: string, specialTokens?: boolean): number[];
  createContext(options: Record<string, unknown>): Promise<NlcContext>;
  dispose(): Promise<void>;
}
interface NlcLlama {
  loadModel(options: { modelPath: string }): Promise<NlcModel>;
  dispose(): Promise<void>;
}
interface NlcModule {
  getLlama(options: Record<string, unknown>): Promise<NlcLlama>;
  LlamaLogLevel: Record<string, string>;
  GgufArchitectureType?: Record<string, string>;
}

/** Import node-llama-cpp, or explain how to install it. */
export async function importNodeLlamaCpp(): Promise<NlcModule> {
  try {
    return (await importOptional(PACKAGE)) as NlcModule;
  } catch (err) {
    throw new Error(`llama.cpp adapter: the optional package ${PACKAGE} is not installed (npm install ${PACKAGE}@3.21.1): ${(err as Error).message}`);
  }
}

/** A GGUF model running in llama.cpp, as a {@link LanguageModel}. */
export class LlamaCppLanguageModel implements LanguageModel {
  private readonly free: NlcSequence[];
  private readonly waiters: ((s: NlcSequence) => void)[] = [];
  private disposed = false;
  /** Forward calls made (one per evaluated prefix) and tokens evaluated, for benchmarks. */
  readonly stats = { evaluations: 0, tokensEvaluated: 0 };

  /** @internal use {@link loadLlamaCpp} */
  constructor(
    readonly name: string,
    readonly vocab: GGUFVocabulary,
    readonly contextLength: number,
    private readonly llama: NlcLlama,
    private readonly model: NlcModel,
    private readonly context: NlcContext,
    sequences: NlcSequence[],
    private readonly prependBos: boolean,
  ) {
    this.free = [...sequences];
  }

  private acquire(): Promise<NlcSequence> {
    const s = this.free.pop();
    return s ? Promise.resolve(s) : new Promise((resolve) => this.waiters.push(resolve));
  }
  private release(s: NlcSequence): void {
    const w = this.waiters.shift();
    if (w) w(s);
    else this.free.push(s);
  }

  /**
   * Rows for many prefixes, `sequences` of them evaluated at a time. With
   * `options.signal`, a prefix whose turn for a sequence comes after the
   * signal aborted is not evaluated (the call rejects with the signal's
   * reason), so an abandoned batch frees the sequences after the evaluations
   * already under way.
   */
  async nextTokenLogprobs(prefixes: readonly (readonly number[])[], options?: LanguageModelCallOptions): Promise<Float32Array[]> {
    if (this.disposed) throw new Error(`language model "${this.name}": the model has been disposed`);
    for (const p of prefixes) validatePrefix(this, p);
    const signal = options?.signal;
    throwIfAborted(signal, `${this.name} forward pass`);
    return Promise.all(prefixes.map((p) => this.one(p, signal)));
  }

  private async one(prefix: readonly number[], signal: AbortSignal | undefined): Promise<Float32Array> {
    const tokens = this.prependBos && this.vocab.bos !== null ? [this.vocab.bos, ...prefix] : [...prefix];
    if (tokens.length === 0) throw new Error(`language model "${this.name}": the model has no BOS token, so an empty prefix has no next-token distribution`);
    const seq = await this.acquire();
    try {
      throwIfAborted(signal, `${this.name} forward pass`);
      const have = seq.contextTokens;
      let common = 0;
      while (common < have.length && common < tokens.length && have[common] === tokens[common]) common++;
      if (common === tokens.length) common -= 1; // re-run the last token to get its distribution
      if (common < seq.nextTokenIndex) await seq.eraseContextTokenRanges([{ start: common, end: seq.nextTokenIndex }]);
      const rest = tokens.slice(common);
      const input: (number | [number, { generateNext: { probabilities: boolean } }])[] = [...rest.slice(0, -1), [rest.at(-1)!, { generateNext: { probabilities: true } }]];
      const out = await seq.controlledEvaluate(input);
      this.stats.evaluations += 1;
      this.stats.tokensEvaluated += rest.length;
      const probs = out.at(-1)?.next.probabilities;
      if (!probs) throw new Error(`language model "${this.name}": llama.cpp returned no probabilities`);
      const row = new Float32Array(this.vocab.size).fill(-Infinity);
      let total = 0;
      for (const [t, p] of probs) {
        if (t >= 0 && t < row.length && p > 0) {
          row[t] = Math.log(p);
          total += p;
        }
      }
      const z = Math.log(total);
      for (let i = 0; i < row.length; i++) row[i] = row[i]! - z;
      return row;
    } finally {
      this.release(seq);
    }
  }

  /** Free the context, the model and the llama.cpp instance. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.context
      .dispose()
      .then(() => this.model.dispose())
      .then(() => this.llama.dispose())
      .catch(() => undefined);
  }

  /** Like {@link dispose}, awaiting the native teardown. */
  async close(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}

/**
 * Load a local GGUF file in llama.cpp. Errors name the file and the cause: a
 * missing file, a file that is not GGUF, an architecture llama.cpp does not
 * know, or node-llama-cpp not installed.
 */
export async function loadLlamaCpp(options: LlamaCppOptions): Promise<LlamaCppLanguageModel> {
  const path = options.modelPath;
  const name = options.name ?? path.split('/').pop()!;
  if (!existsSync(path)) throw new Error(`llama.cpp model "${name}": GGUF file ${path} does not exist`);
  const info = readGGUFInfo(path, Number.MAX_SAFE_INTEGER);
  const arch = String(info.metadata['general.architecture'] ?? '');
  const nlc = await importNodeLlamaCpp();
  const known = nlc.GgufArchitectureType ? Object.values(nlc.GgufArchitectureType) : null;
  if (!arch || (known && !known.includes(arch))) {
    throw new Error(`llama.cpp model "${name}": unsupported architecture "${arch}" in ${path} (node-llama-cpp 3.21.1 knows ${known ? known.length : 'several'} architectures, e.g. llama, qwen2, gemma)`);
  }
  const tokens = info.metadata['tokenizer.ggml.tokens'];
  if (!Array.isArray(tokens)) throw new Error(`llama.cpp model "${name}": ${path} has no tokenizer.ggml.tokens list`);
  const types = Array.isArray(info.metadata['tokenizer.ggml.token_type']) ? (info.metadata['tokenizer.ggml.token_type'] as number[]) : null;
  const llama = await nlc.getLlama({ gpu: options.gpu ?? false, build: 'never', logLevel: nlc.LlamaLogLevel.error ?? 'error' });
  let model: NlcModel;
  try {
    model = await llama.loadModel({ modelPath: path });
  } catch (err) {
    await llama.dispose();
    throw new Error(`llama.cpp model "${name}": llama.cpp could not load ${path} (architecture "${arch}"): ${(err as Error).message}`);
  }
  const nSeq = options.sequences ?? 8;
  const ctxSize = options.contextSize ?? Math.min(model.trainContextSize, 2048);
  const f32 = options.kvCacheF32 ?? true;
  const context = await model.createContext({
    contextSize: ctxSize * nSeq,
    sequences: nSeq,
    batchSize: Math.max(512, ctxSize),
    ...(options.threads ? { threads: options.threads } : {}),
    // Flash attention on the CPU computes in f16 (log-probabilities move by ~1e-3): off in precise mode.
    ...(f32 ? { experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false } : {}),
  });
  const seqs = Array.from({ length: nSeq }, () => context.getSequence());
  const vocab = new GGUFVocabulary(
    name,
    tokens as string[],
    types,
    String(info.metadata['tokenizer.ggml.model'] ?? ''),
    model.tokens.bos,
    model.tokens.eos ?? -1,
    (text) => model.tokenize(text, false),
  );
  return new LlamaCppLanguageModel(name, vocab, Math.min(ctxSize, model.trainContextSize), llama, model, context, seqs, model.tokens.shouldPrependBosToken && model.tokens.bos !== null);
}
