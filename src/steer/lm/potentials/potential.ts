/**
 * The potential contract (genlm-control's): a potential scores token
 * sequences with log-weights on prefixes (`prefix`) and on complete strings
 * (`complete`, the string followed by EOS). Next-token log-weights follow
 * from them:
 *
 *     logwNext(x)[y]   = prefix(x·y) − prefix(x)      for a text token y
 *     logwNext(x)[EOS] = complete(x) − prefix(x)
 *
 * so the autoregressive factorisation holds by construction:
 * `complete(x) − prefix(ε) = Σ_t logwNext(x_<t)[x_t] + logwNext(x)[EOS]`.
 * A potential overrides `logwNext` where a faster form exists (an automaton
 * coerced to tokens walks a character trie of the vocabulary instead of
 * calling `prefix` once per token). `-Infinity` means "impossible"; NaN is an
 * error that names the potential ({@link PotentialError}).
 *
 * @module
 */
import { assertSameVocabulary } from '../errors.js';
import type { Vocabulary } from '../types.js';

/** A potential returned NaN, threw, or was asked about a bad sequence. The message names it. */
export class PotentialError extends Error {
  constructor(
    readonly potential: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`potential "${potential}": ${message}`, options);
    this.name = 'PotentialError';
  }
}

/**
 * What a steering run passes with each potential call: its abort signal, so
 * that a potential doing long work (a reward model's forward pass) can stop
 * spending the CPU, or yield between pieces, once the run is aborted. A
 * potential may ignore it: the run rejects at once on an abort either way.
 */
export interface PotentialCallOptions {
  /** The run's signal (absent when the run has none). */
  readonly signal?: AbortSignal;
}

/** A log-weight on token sequences: genlm's prefix / complete / logwNext contract. */
export interface Potential {
  /** Used in errors and reports. */
  readonly name: string;
  /** The vocabulary the potential reads tokens in (checked against the LM's before generation). */
  readonly vocab: Vocabulary;
  /** log-weight of every string that starts with `x` (an upper bound of `complete` on its extensions for a constraint). */
  prefix(x: readonly number[], options?: PotentialCallOptions): number | Promise<number>;
  /** log-weight of the complete string `x` (EOS not included in `x`). */
  complete(x: readonly number[], options?: PotentialCallOptions): number | Promise<number>;
  /**
   * Optional fast form of the next-token log-weights after `x`: a row of
   * `vocab.size` entries, EOS scored by `complete`. The default (see
   * {@link logwNext}) calls `prefix` once per text token.
   */
  logwNext?(x: readonly number[], options?: PotentialCallOptions): Float64Array | Promise<Float64Array>;
  /**
   * Optional batched form of `prefix` (default: one call each): one value per
   * sequence, equal to `prefix` of each (the conformance check
   * `batched-equals-unbatched` holds it). Steering calls it once per step
   * with every live particle's prefix.
   */
  batchPrefix?(xs: readonly (readonly number[])[], options?: PotentialCallOptions): Promise<number[]>;
}

/** Check a log-weight a potential returned; NaN or a non-number is an error naming the potential. */
export function checkLogWeight(p: Potential, value: unknown, what: string, x: readonly number[]): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value === Infinity) {
    throw new PotentialError(p.name, `${what}(${describe(p.vocab, x)}) returned ${describeValue(value)} (expected a finite number or -Infinity)`);
  }
  return value;
}

/**
 * A value a user function returned, for an error message: `NaN`, `undefined`,
 * `string "0.5"`, `bigint 1n`, `object {"a":1}`. (`JSON.stringify` threw on a
 * bigint, "Do not know how to serialize a BigInt", hiding the potential's
 * name, and printed `undefined undefined`.)
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || value === undefined || value === null) return String(value);
  if (typeof value === 'bigint') return `bigint ${value}n`;
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === 'function' || typeof value === 'symbol') return typeof value;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  return json === undefined ? typeof value : `${typeof value} ${json.length > 60 ? `${json.slice(0, 57)}...` : json}`;
}

/** A short description of a token sequence for error messages. */
export function describe(vocab: Vocabulary, x: readonly number[]): string {
  let text: string;
  try {
    text = vocab.decode(x);
  } catch {
    text = `[${x.join(',')}]`;
  }
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text);
}

async function guard<T>(p: Potential, what: string, x: readonly number[], f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof PotentialError) throw err;
    throw new PotentialError(p.name, `${what}(${describe(p.vocab, x)}) threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The options object a call passes on: none without a signal (user potentials see the call they always saw). */
function callOptions(signal: AbortSignal | undefined): [] | [PotentialCallOptions] {
  return signal ? [{ signal }] : [];
}

/** `p.prefix(x)`, checked (NaN and throws become a {@link PotentialError} naming `p`); `signal` is passed on. */
export async function prefixOf(p: Potential, x: readonly number[], signal?: AbortSignal): Promise<number> {
  return checkLogWeight(p, await guard(p, 'prefix', x, () => p.prefix(x, ...callOptions(signal))), 'prefix', x);
}

/** `p.complete(x)`, checked; `signal` is passed on. */
export async function completeOf(p: Potential, x: readonly number[], signal?: AbortSignal): Promise<number> {
  return checkLogWeight(p, await guard(p, 'complete', x, () => p.complete(x, ...callOptions(signal))), 'complete', x);
}

/**
 * `prefix` of many sequences at once: one `batchPrefix` call when the
 * potential has one (a PRM scores every text in one forward pass), else one
 * `prefix` call each. Every value is checked as {@link prefixOf} checks it.
 */
export async function batchPrefixOf(p: Potential, xs: readonly (readonly number[])[], signal?: AbortSignal): Promise<number[]> {
  if (xs.length === 0) return [];
  if (!p.batchPrefix) return Promise.all(xs.map((x) => prefixOf(p, x, signal)));
  const vals = await guard(p, 'batchPrefix', xs[0]!, () => p.batchPrefix!(xs, ...callOptions(signal)));
  if (!Array.isArray(vals) || vals.length !== xs.length) {
    throw new PotentialError(p.name, `batchPrefix returned ${Array.isArray(vals) ? vals.length : typeof vals} values for ${xs.length} sequences`);
  }
  return vals.map((v, i) => checkLogWeight(p, v, 'prefix', xs[i]!));
}

/**
 * The log-weight of one next token: `prefix(x·y) − prefix(x)`, or
 * `complete(x) − prefix(x)` for EOS. `prefixX` may be passed when known.
 * Returns -Infinity when the prefix itself is impossible. `signal` is passed on.
 */
export async function logwNextToken(p: Potential, x: readonly number[], y: number, prefixX?: number, signal?: AbortSignal): Promise<number> {
  const px = prefixX ?? (await prefixOf(p, x, signal));
  if (px === -Infinity) return -Infinity;
  const num = y === p.vocab.eos ? await completeOf(p, x, signal) : await prefixOf(p, [...x, y], signal);
  return num === -Infinity ? -Infinity : num - px;
}

/**
 * The next-token log-weights after `x` (length `vocab.size`; EOS by
 * `complete`; BOS -Infinity): the potential's own `logwNext` when it has one,
 * else `prefix` once per text token. All -Infinity when `x` is impossible.
 */
export async function logwNext(p: Potential, x: readonly number[], signal?: AbortSignal): Promise<Float64Array> {
  const { vocab } = p;
  if (p.logwNext) {
    const row = await guard(p, 'logwNext', x, () => p.logwNext!(x, ...callOptions(signal)));
    if (!(row instanceof Float64Array) || row.length !== vocab.size) {
      throw new PotentialError(p.name, `logwNext(${describe(vocab, x)}) must return a Float64Array of ${vocab.size} entries (the vocabulary size)`);
    }
    for (let i = 0; i < row.length; i++) if (Number.isNaN(row[i]) || row[i] === Infinity) throw new PotentialError(p.name, `logwNext(${describe(vocab, x)})[${i}] is ${row[i]}`);
    return row;
  }
  const out = new Float64Array(vocab.size).fill(-Infinity);
  const px = await prefixOf(p, x, signal);
  if (px === -Infinity) return out;
  const ids: number[] = [];
  for (let y = 0; y < vocab.size; y++) if (y !== vocab.eos && y !== vocab.bos) ids.push(y);
  const vals = await batchPrefixOf(
    p,
    ids.map((y) => [...x, y]),
    signal,
  );
  ids.forEach((y, k) => {
    const v = vals[k]!;
    out[y] = v === -Infinity ? -Infinity : v - px;
  });
  const c = await completeOf(p, x, signal);
  out[vocab.eos] = c === -Infinity ? -Infinity : c - px;
  return out;
}

/** Throw a `VocabularyMismatchError` naming both when a potential reads tokens in a different vocabulary than the LM generates. */
export function assertPotentialVocabulary(lm: { readonly name: string; readonly vocab: Vocabulary }, p: Potential): void {
  assertSameVocabulary(lm, { name: `potential ${p.name}`, vocab: p.vocab });
}
