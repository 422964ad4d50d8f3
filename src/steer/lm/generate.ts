/**
 * Plain batched generation from any {@link LanguageModel}: all sequences
 * advance one token per step in one call to the model, through KV caches
 * when the model is incremental. Used by the evaluation scripts, the
 * benchmarks and `tyche serve`; steering algorithms build their own loops on
 * the SMC core.
 *
 * @module
 */
import { checkSteerOptions } from '../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../core/options.js';
import { type Rng, rngFrom } from '../../core/rng.js';
import { Pacer } from '../../infer/pace.js';
import { argmaxRow, sampleToken } from './sampling.js';
import { type KVCache, type LanguageModel, isIncremental } from './types.js';

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** Most new tokens per sequence. */
  readonly maxTokens: number;
  /** 0 = greedy; otherwise the sampling temperature (default 1). */
  readonly temperature?: number;
  /** Keep only the k most probable tokens when sampling. */
  readonly topK?: number;
  /** Nucleus sampling: keep the most probable tokens up to this much probability (default 1: all). */
  readonly topP?: number;
  /**
   * Seed or stream for sampling, shared by the batch; or one seed or stream per prompt, so that each
   * continuation depends on its own prompt and stream alone (`tyche serve` does this for a seeded request).
   */
  readonly rng?: Rng | number | string | readonly (Rng | number | string)[];
  /** Stop a sequence when its decoded continuation contains one of these (the stop text is cut off). */
  readonly stop?: readonly string[];
  /** Use KV caches where the model has them (default true). */
  readonly useCache?: boolean;
  /** Checked before each step. */
  readonly signal?: AbortSignal;
  /** Also report the `topLogprobs` most probable tokens at each step (default 0). */
  readonly topLogprobs?: number;
}

/** One generated continuation. */
export interface Generation {
  /** New tokens (EOS excluded; cut before a stop string). */
  readonly tokens: number[];
  /** Log-probability of each new token under the model (unshaped by temperature). */
  readonly logprobs: number[];
  /** The decoded continuation. */
  readonly text: string;
  /** Why it ended. */
  readonly finish: 'eos' | 'stop' | 'length';
  /** Per new token, the most probable tokens and their log-probabilities (when `topLogprobs` > 0). */
  readonly top: [number, number][][];
}

/** The k largest entries of a row as [index, value], largest first. */
export function topK(row: ArrayLike<number>, k: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (out.length < k) {
      out.push([i, v]);
      out.sort((a, b) => b[1] - a[1]);
    } else if (v > out[k - 1]![1]) {
      out[k - 1] = [i, v];
      out.sort((a, b) => b[1] - a[1]);
    }
  }
  return out;
}

/** The option names generate accepts (checked against its options type by the compiler). */
const GENERATE_OPTIONS = optionNames<GenerateOptions>({ maxTokens: true, temperature: true, topK: true, topP: true, rng: true, stop: true, useCache: true, signal: true, topLogprobs: true });

/**
 * Continue each prompt (token ids, no BOS) by up to `maxTokens` tokens, all
 * prompts batched in each model call. A sequence whose prompt leaves less room
 * in the model's context stops there (finish `'length'`); the others are not
 * affected. With one stream for the batch a seeded sequence's continuation
 * depends on the other prompts beside it; pass one stream per prompt (`rng`
 * as an array) to make each depend on its own alone.
 */
export async function generate(lm: LanguageModel, prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<Generation[]> {
  // (rng may also be a seed, a number or string, as GenerateOptions says: `tyche serve` passes the request's seed; the shared rule wants an Rng)
  const perPrompt = Array.isArray(options.rng) ? (options.rng as readonly (Rng | number | string)[]) : null;
  const seeded = perPrompt !== null || typeof options.rng === 'number' || typeof options.rng === 'string';
  checkSteerOptions('generate', seeded ? { ...options, rng: undefined } : options, GENERATE_OPTIONS);
  checkIntegerOptions('generate', options, { maxTokens: 0 });
  if (perPrompt && perPrompt.length !== prompts.length) throw new RangeError(`generate: rng has ${perPrompt.length} streams for ${prompts.length} prompts (give one per prompt, or one seed for the batch)`);
  const shared = perPrompt ? null : rngFrom((options.rng as Rng | number | string | undefined) ?? 0);
  const streams = perPrompt ? perPrompt.map((r) => rngFrom(r)) : null;
  // yields to the event loop every few ms (a fast LM never would) and rejects with the signal's reason, as every engine does
  const pace = new Pacer(options.signal);
  const temp = options.temperature ?? 1;
  const n = prompts.length;
  const toks: number[][] = prompts.map(() => []);
  const lps: number[][] = prompts.map(() => []);
  const tops: [number, number][][][] = prompts.map(() => []);
  const k = options.topLogprobs ?? 0;
  const finish: (Generation['finish'] | null)[] = prompts.map(() => null);
  const cut: (number | null)[] = prompts.map(() => null);
  if (options.stop?.some((s) => typeof s !== 'string' || s.length === 0)) throw new RangeError(`generate: every stop string must be a non-empty string (an empty one matches at once), got ${JSON.stringify(options.stop)}`);
  // each sequence's own budget: maxTokens, or less where its prompt leaves less room in the context
  // (before session 14 the tightest prompt's room capped every sequence of the batch)
  const limit = prompts.map((p) => Math.max(0, Math.min(options.maxTokens, lm.contextLength - (lm.vocab.bos !== null ? 1 : 0) - p.length)));
  const maxTokens = Math.max(0, ...limit);
  const incremental = isIncremental(lm) && options.useCache !== false ? lm : null;
  let caches: (KVCache | null)[] = prompts.map(() => null);
  let rows: Float32Array[];
  // the model gets the signal too, so a pass in flight can stop (`tyche serve` aborts when the client goes away)
  const call = options.signal ? { signal: options.signal } : undefined;
  if (incremental) {
    const res = await incremental.extend(prompts.map((p) => ({ cache: null, tokens: p })), call);
    caches = res.map((r) => r.cache);
    rows = res.map((r) => r.logprobs);
  } else rows = await lm.nextTokenLogprobs(prompts, call);
  let active = Array.from({ length: n }, (_, i) => i);
  try {
    for (let step = 0; step < maxTokens && active.length > 0; step++) {
      await pace.tick();
      const next: number[] = [];
      for (const [j, i] of active.entries()) {
        if (limit[i] === 0) continue; // no room at all: nothing drawn, finish 'length'
        const row = rows[j]!;
        const tok = temp === 0 ? argmaxRow(row) : sampleToken(row, streams ? streams[i]! : shared!, { temperature: temp, topK: options.topK, topP: options.topP }).token;
        if (tok === lm.vocab.eos) {
          finish[i] = 'eos';
          continue;
        }
        toks[i]!.push(tok);
        lps[i]!.push(row[tok]!);
        if (k > 0) tops[i]!.push(topK(row, k));
        if (options.stop?.length) {
          const text = lm.vocab.decode(toks[i]!);
          const hit = options.stop.map((s) => text.indexOf(s)).filter((k) => k >= 0);
          if (hit.length) {
            finish[i] = 'stop';
            cut[i] = Math.min(...hit);
            continue;
          }
        }
        if (toks[i]!.length < limit[i]!) next.push(i);
      }
      if (incremental) {
        const keep = new Set(next);
          for (const i of active) if (!keep.has(i)) caches[i]?.dispose();
        if (next.length === 0 || step + 1 >= maxTokens) {
          active = next;
          break;
        }
        const res = await incremental.extend(next.map((i) => ({ cache: caches[i]!, tokens: [toks[i]!.at(-1)!] })), call);
        next.forEach((i, j) => {
          caches[i]!.dispose();
          caches[i] = res[j]!.cache;
        });
        rows = res.map((r) => r.logprobs);
      } else if (next.length > 0 && step + 1 < maxTokens) {
        rows = await lm.nextTokenLogprobs(next.map((i) => [...prompts[i]!, ...toks[i]!]), call);
      }
      active = next;
    }
  } finally {
    for (const c of caches) c?.dispose();
  }
  return toks.map((t, i) => {
    let text = lm.vocab.decode(t);
    let tokens = t;
    let logprobs = lps[i]!;
    let top = tops[i]!;
    if (cut[i] !== null) {
      text = text.slice(0, cut[i]!);
      // keep the tokens whose text lies before the stop string
      let len = 0;
      let n = 0;
      while (n < t.length && len + lm.vocab.tokenText(t[n]!).length <= text.length) len += lm.vocab.tokenText(t[n++]!).length;
      tokens = t.slice(0, n);
      logprobs = logprobs.slice(0, n);
      top = top.slice(0, n);
    }
    return { tokens, logprobs, text, finish: finish[i] ?? 'length', top };
  });
}
