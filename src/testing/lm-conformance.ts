/**
 * Conformance checks every {@link LanguageModel} should pass, for tyche's own
 * models and for yours:
 *
 * - `rows-normalised`: each row has one float32 entry per token, no NaN or
 *   +Infinity, and its probabilities sum to 1;
 * - `batched-equals-unbatched`: a batch of prefixes gives the rows that one
 *   prefix at a time gives;
 * - `cached-equals-uncached`: the wrapper ({@link CachedLanguageModel}: batching,
 *   prefix trie, KV caches) gives the model's own rows, and answers a repeat from
 *   the trie without a forward pass;
 * - `kv-equals-recomputed` (incremental models): extending a KV cache token by
 *   token, or by several tokens at once, gives the rows of recomputing the prefix;
 * - `errors`: an unknown token id and a prefix longer than the context are
 *   rejected with an error that names the model;
 * - `tensors-flat`: repeated calls (and the wrapper's caches, once cleared)
 *   leave `tf.memory().numTensors` where it was.
 *
 * Prefixes are sampled from the model itself (seeded), so exact models with
 * zero-probability prefixes are asked only about prefixes they support.
 *
 * @module
 */
import { liveTensors } from '../backend/select.js';
import { type Seed, Rng } from '../core/rng.js';
import { CachedLanguageModel } from '../steer/lm/cached.js';
import { logSumExpRow, sampleFromLogprobs } from '../steer/lm/sampling.js';
import { type KVCache, type LanguageModel, isIncremental } from '../steer/lm/types.js';

/** Names of the checks, in the order they run. */
export const LM_CHECKS = ['rows-normalised', 'batched-equals-unbatched', 'cached-equals-uncached', 'kv-equals-recomputed', 'errors', 'tensors-flat'] as const;
/** One check's name. */
export type LmCheckName = (typeof LM_CHECKS)[number];

/** Options of {@link checkLanguageModel}. */
export interface LmConformanceOptions {
  readonly seed?: Seed;
  /** Number of prefixes sampled from the model (besides the empty prefix; default 6). */
  readonly prefixes?: number;
  /** Longest sampled prefix (default 8; capped by the context length). */
  readonly maxPrefixLength?: number;
  /** Prefixes to check besides the sampled ones. */
  readonly extraPrefixes?: readonly (readonly number[])[];
  /** Largest |Σ p - 1| of a row (default 1e-4: float32 rows). */
  readonly sumTolerance?: number;
  /** Largest |log p - log p'| between two ways of computing an entry with p > e^-20 (default 1e-4). */
  readonly agreeTolerance?: number;
  /** Repetitions for the tensor check (default 3). */
  readonly repeats?: number;
}

/** One check's outcome. */
export interface LmCheck {
  readonly name: LmCheckName;
  readonly passed: boolean;
  /** True when the check does not apply (e.g. KV checks on a model without extend). */
  readonly skipped: boolean;
  /** What was measured, or what failed. */
  readonly detail: string;
}

/** The outcome of {@link checkLanguageModel}. */
export interface LmConformanceReport {
  readonly model: string;
  readonly prefixes: readonly (readonly number[])[];
  readonly checks: readonly LmCheck[];
  readonly passed: boolean;
}

/** Largest |a - b| over entries where either is above e^-20; Infinity when their supports differ there. */
export function rowDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Math.max(a[i], b[i]) < -20) continue;
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

function isSpecial(lm: LanguageModel, t: number): boolean {
  return t === lm.vocab.eos || t === lm.vocab.bos;
}

async function samplePrefixes(lm: LanguageModel, rng: Rng, count: number, maxLen: number): Promise<number[][]> {
  const out: number[][] = [[]];
  for (let k = 0; k < count; k++) {
    const len = 1 + rng.int(Math.max(1, maxLen));
    const p: number[] = [];
    while (p.length < len) {
      const row = Float64Array.from((await lm.nextTokenLogprobs([p]))[0]);
      for (let t = 0; t < row.length; t++) if (isSpecial(lm, t)) row[t] = -Infinity;
      const z = logSumExpRow(row);
      if (!Number.isFinite(z)) break; // only EOS possible here
      for (let t = 0; t < row.length; t++) row[t] -= z;
      p.push(sampleFromLogprobs(row, rng));
    }
    out.push(p);
  }
  return out;
}

async function rejects(f: () => Promise<unknown>): Promise<Error | null> {
  try {
    await f();
    return null;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** Run the conformance checks on a model (see the module note). The model is not disposed. */
export async function checkLanguageModel(lm: LanguageModel, options: LmConformanceOptions = {}): Promise<LmConformanceReport> {
  const rng = new Rng(options.seed ?? 1);
  const sumTol = options.sumTolerance ?? 1e-4;
  const tol = options.agreeTolerance ?? 1e-4;
  const bos = lm.vocab.bos === null ? 0 : 1;
  const maxLen = Math.max(0, Math.min(options.maxPrefixLength ?? 8, lm.contextLength - bos - 1));
  const tensorsBefore = liveTensors().count;
  const prefixes: number[][] = [...(await samplePrefixes(lm, rng, options.prefixes ?? 6, maxLen)), ...(options.extraPrefixes ?? []).map((p) => [...p])];
  const checks: LmCheck[] = [];
  const add = (name: LmCheckName, passed: boolean, detail: string, skipped = false) => checks.push({ name, passed, skipped, detail });

  // one prefix at a time: the reference rows
  const single: Float32Array[] = [];
  for (const p of prefixes) single.push((await lm.nextTokenLogprobs([p]))[0]);

  // rows-normalised
  {
    let worst = 0;
    let bad = '';
    single.forEach((r, i) => {
      if (!(r instanceof Float32Array) || r.length !== lm.vocab.size) bad ||= `prefix ${i}: row is ${r?.constructor?.name} of length ${r?.length}, expected Float32Array of ${lm.vocab.size}`;
      else if (r.some((x) => Number.isNaN(x) || x === Infinity)) bad ||= `prefix ${i}: row holds NaN or +Infinity`;
      else worst = Math.max(worst, Math.abs(Math.exp(logSumExpRow(r)) - 1));
    });
    add('rows-normalised', !bad && worst <= sumTol, bad || `largest |sum p - 1| = ${worst.toExponential(2)} over ${prefixes.length} prefixes (tolerance ${sumTol})`);
  }

  // batched-equals-unbatched: forwards and reversed, in one call each
  {
    const fwd = await lm.nextTokenLogprobs(prefixes);
    const rev = (await lm.nextTokenLogprobs([...prefixes].reverse())).reverse();
    let worst = 0;
    prefixes.forEach((_, i) => (worst = Math.max(worst, rowDistance(fwd[i], single[i]), rowDistance(rev[i], single[i]))));
    add('batched-equals-unbatched', worst <= tol, `largest |log p batched - log p single| = ${worst.toExponential(2)} (tolerance ${tol})`);
  }

  // cached-equals-uncached, through the wrapper with default options (KV caches on for incremental models)
  {
    const w = new CachedLanguageModel(lm, { rowTolerance: Infinity }); // normalisation is rows-normalised's to report
    const first = await Promise.all(prefixes.map((p) => w.logprobs(p)));
    const s1 = w.stats();
    const again = await Promise.all(prefixes.map((p) => w.logprobs(p)));
    const s2 = w.stats();
    let worst = 0;
    prefixes.forEach((_, i) => (worst = Math.max(worst, rowDistance(first[i], single[i]), rowDistance(again[i], single[i]))));
    const noPass = s2.forwardPasses === s1.forwardPasses && s2.hits - s1.hits === prefixes.length;
    w.clearCache();
    add(
      'cached-equals-uncached',
      worst <= tol && noPass,
      `largest |log p wrapped - log p direct| = ${worst.toExponential(2)} (tolerance ${tol}); repeats answered from the trie: ${noPass ? 'yes' : `no (${s2.forwardPasses - s1.forwardPasses} extra passes, ${s2.hits - s1.hits} hits)`}`,
    );
  }

  // kv-equals-recomputed
  if (!isIncremental(lm)) add('kv-equals-recomputed', true, `model "${lm.name}" has no extend(): nothing to check`, true);
  else {
    let worst = 0;
    let bad = '';
    const caches: KVCache[] = [];
    for (const p of prefixes) {
      const [root] = await lm.extend([{ cache: null, tokens: [] }]);
      caches.push(root.cache);
      worst = Math.max(worst, rowDistance(root.logprobs, single[0]));
      if (root.cache.length !== bos) bad ||= `empty-context cache has length ${root.cache.length}, expected ${bos}`;
      let cache = root.cache;
      for (let k = 1; k <= p.length; k++) {
        const [step] = await lm.extend([{ cache, tokens: [p[k - 1]] }]);
        caches.push(step.cache);
        const [ref] = await lm.nextTokenLogprobs([p.slice(0, k)]);
        worst = Math.max(worst, rowDistance(step.logprobs, ref));
        if (step.cache.length !== k + bos) bad ||= `cache after ${k} tokens has length ${step.cache.length}, expected ${k + bos}`;
        cache = step.cache;
      }
      if (p.length >= 2) {
        // several tokens at once from the middle, and from nothing, in one batched call
        const mid = p.length >> 1;
        const [a] = await lm.extend([{ cache: null, tokens: p.slice(0, mid) }]);
        caches.push(a.cache);
        const [b, c] = await lm.extend([
          { cache: a.cache, tokens: p.slice(mid) },
          { cache: null, tokens: p },
        ]);
        caches.push(b.cache, c.cache);
        const idx = prefixes.indexOf(p);
        worst = Math.max(worst, rowDistance(b.logprobs, single[idx]), rowDistance(c.logprobs, single[idx]));
      }
    }
    for (const c of caches) c.dispose();
    add('kv-equals-recomputed', !bad && worst <= tol, bad || `largest |log p KV-cached - log p recomputed| = ${worst.toExponential(2)} (tolerance ${tol})`);
  }

  // errors
  {
    const problems: string[] = [];
    const expectNamed = async (what: string, prefix: number[]) => {
      const e = await rejects(() => lm.nextTokenLogprobs([prefix]));
      if (!e) problems.push(`${what} was accepted`);
      else if (!e.message.includes(lm.name)) problems.push(`${what}: the error does not name the model ("${e.message}")`);
    };
    await expectNamed(`token id ${lm.vocab.size}`, [lm.vocab.size]);
    await expectNamed('token id -1', [-1]);
    await expectNamed('token id 0.5', [0.5]);
    if (Number.isFinite(lm.contextLength)) await expectNamed(`a prefix of ${lm.contextLength} tokens`, Array(lm.contextLength).fill(prefixes.find((p) => p.length)?.[0] ?? 0));
    add('errors', problems.length === 0, problems.join('; ') || `unknown ids${Number.isFinite(lm.contextLength) ? ' and an over-long prefix' : ''} rejected with errors naming "${lm.name}"`);
  }

  // tensors-flat
  {
    const repeats = options.repeats ?? 3;
    const before = liveTensors().count;
    for (let r = 0; r < repeats; r++) await lm.nextTokenLogprobs(prefixes);
    const w = new CachedLanguageModel(lm, { rowTolerance: Infinity }); // normalisation is rows-normalised's to report
    for (let r = 0; r < repeats; r++) await Promise.all(prefixes.map((p) => w.logprobs(p)));
    w.clearCache();
    const after = liveTensors().count;
    add('tensors-flat', after === before, `live tensors ${before} before, ${after} after ${repeats} rounds (the run began with ${tensorsBefore})`);
  }

  return { model: lm.name, prefixes, checks, passed: checks.every((c) => c.passed) };
}
