/**
 * Drawing tokens from a next-token row of log-probabilities, seeded with
 * tyche's {@link Rng}: temperature, top-k and top-p (nucleus) truncation.
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';

/** How to reshape a row before drawing from it. */
export interface SampleOptions {
  /** Divide log-probabilities by this (> 0; default 1). Near 0 approaches greedy decoding. */
  readonly temperature?: number;
  /** Keep only the k most probable tokens (default: all). */
  readonly topK?: number;
  /** Keep the smallest set of most probable tokens whose probability reaches p (0 < p <= 1; default 1). */
  readonly topP?: number;
}

/** log Σ exp(row). -Infinity for an all -Infinity row. */
export function logSumExpRow(row: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > m) m = row[i];
  if (m === -Infinity) return -Infinity;
  if (m === Infinity) return Infinity;
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - m);
  return m + Math.log(s);
}

/** Index of the largest entry (the greedy token). */
export function argmaxRow(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * The distribution a draw is made from, as log-probabilities normalised over
 * the kept tokens (-Infinity elsewhere): temperature first, then top-k, then
 * top-p. A proposal that uses these options reports this row's entry as its
 * log-density.
 */
export function shapeRow(row: ArrayLike<number>, options: SampleOptions = {}): Float64Array {
  const { temperature = 1, topK, topP = 1 } = options;
  if (!(temperature > 0)) throw new Error(`sampleToken: temperature must be > 0, got ${temperature}`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) throw new Error(`sampleToken: topK must be a positive integer, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`sampleToken: topP must be in (0, 1], got ${topP}`);
  const n = row.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = row[i] / temperature;
  let z = logSumExpRow(out);
  if (!Number.isFinite(z)) throw new Error(`sampleToken: the row has no finite log-probability (log-normaliser ${z})`);
  for (let i = 0; i < n; i++) out[i] -= z;
  if ((topK !== undefined && topK < n) || topP < 1) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => out[b] - out[a]);
    let keep = topK !== undefined ? Math.min(topK, n) : n;
    if (topP < 1) {
      let mass = 0;
      for (let j = 0; j < keep; j++) {
        mass += Math.exp(out[order[j]]);
        if (mass >= topP) {
          keep = j + 1;
          break;
        }
      }
    }
    for (let j = keep; j < n; j++) out[order[j]] = -Infinity;
    z = logSumExpRow(out);
    for (let i = 0; i < n; i++) out[i] -= z;
  }
  return out;
}

/** Draw one index from normalised log-probabilities by inversion. */
export function sampleFromLogprobs(logp: ArrayLike<number>, rng: Rng): number {
  const u = rng.uniform();
  let c = 0;
  let last = -1;
  for (let i = 0; i < logp.length; i++) {
    if (logp[i] === -Infinity) continue;
    c += Math.exp(logp[i]);
    last = i;
    if (u < c) return i;
  }
  if (last < 0) throw new Error('sampleToken: every token has probability zero');
  return last; // rounding: the cumulative sum ended just below u
}

/**
 * Draw a token from a next-token row (log-probabilities) with optional
 * temperature / top-k / top-p; returns the token and its log-probability
 * under the shaped distribution it was drawn from.
 */
export function sampleToken(row: ArrayLike<number>, rng: Rng, options: SampleOptions = {}): { token: number; logprob: number } {
  const shaped = shapeRow(row, options);
  const token = sampleFromLogprobs(shaped, rng);
  return { token, logprob: shaped[token] };
}
