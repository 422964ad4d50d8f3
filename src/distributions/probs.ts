/**
 * Probability parameters of the discrete families, given either as
 * probabilities or as logits.
 *
 * {@link BinaryProbs} holds the success probability of Bernoulli-type
 * families (Bernoulli, Binomial, Geometric, NegativeBinomial);
 * {@link SimplexProbs} holds a probability vector over the last axis
 * (Categorical, Multinomial). Both keep a float64 copy when the parameter is
 * given as plain numbers, so the per-particle scalar path never touches tfjs.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { ContentCache } from '../core/content-cache.js';
import { InvalidParameterError } from '../core/errors.js';
import { type Value, type ValueLike, all, describe, isTensor, log, log1p, logSigmoid, logSumExp, neg, sigmoid, softplus, sub } from '../core/value.js';
import { unitInterval } from './constraints.js';
import { xLog1mOf, xLogOf, xLogY } from './counts.js';
import { checkParam, param, validationEnabled } from './distribution.js';
import { cumulativeRows } from './samplers.js';

/** Probabilities given by name: `{ probs }` or `{ logits }` (log-odds, or unnormalised log-probabilities). */
export type ProbsSpec = { readonly probs: ValueLike; readonly logits?: undefined } | { readonly logits: ValueLike; readonly probs?: undefined };

/** A probability parameter: the probabilities themselves (a bare value) or `{ probs }` / `{ logits }`. */
export type ProbsArg = ValueLike | ProbsSpec;

/**
 * The value inside a {@link ProbsArg} type (`P` itself, or the type under
 * `probs` / `logits`), for draw typing with `DrawType`.
 */
export type ProbsValue<P> = P extends { readonly probs: infer Q } ? Q : P extends { readonly logits: infer Q } ? Q : P;

/**
 * The draw type of a distribution over category indices whose probability
 * vector has type `P`: `number` for a plain JS vector (the float64 path),
 * else `tf.Tensor`.
 */
export type IndexDraw<P> = ProbsValue<P> extends readonly number[] | Float64Array | Float32Array ? number : tf.Tensor;

function isSpec(x: ProbsArg): x is ProbsSpec {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !ArrayBuffer.isView(x) && !isTensor(x);
}

/** Split a {@link ProbsArg} into its value and whether it is logits, naming the distribution in errors. */
function unpack(dist: string, arg: ProbsArg): { raw: ValueLike; isLogits: boolean } {
  if (arg === undefined || arg === null) throw new TypeError(`${dist}: parameter probs (or logits) is missing`);
  if (!isSpec(arg)) return { raw: arg, isLogits: false };
  const hasP = arg.probs !== undefined;
  const hasL = arg.logits !== undefined;
  if (hasP === hasL) throw new TypeError(`${dist}: give exactly one of probs or logits`);
  return hasP ? { raw: arg.probs as ValueLike, isLogits: false } : { raw: arg.logits as ValueLike, isLogits: true };
}

/**
 * The success probability `p` of a two-outcome trial, stored as given (probs
 * or logits). With a number parameter, `p`, `log p` and `log(1 - p)` are
 * precomputed as float64 numbers (see {@link BinaryProbs.isNumber}).
 */
export class BinaryProbs {
  /** The parameter as given: probabilities, or logits when {@link isLogits}. */
  readonly value: Value;
  /** True when the parameter was given as logits. */
  readonly isLogits: boolean;
  /** True when the parameter is a number; then {@link p}, {@link logP} and {@link log1mP} hold float64 values. */
  readonly isNumber: boolean;
  /** The success probability (number parameters only, else NaN). */
  readonly p: number = NaN;
  /** log p and log(1 - p), computed on first use (a distribution rebuilt at a replayed site never needs them). */
  private logPCache: number | undefined;
  private log1mPCache: number | undefined;
  /** log p (number parameters only, else NaN). */
  get logP(): number {
    if (this.logPCache === undefined) {
      const v = this.value;
      this.logPCache = typeof v !== 'number' ? NaN : this.isLogits ? (logSigmoid(v) as number) : Math.log(v);
    }
    return this.logPCache;
  }
  /** log(1 - p) (number parameters only, else NaN). */
  get log1mP(): number {
    if (this.log1mPCache === undefined) {
      const v = this.value;
      this.log1mPCache = typeof v !== 'number' ? NaN : this.isLogits ? (logSigmoid(-v) as number) : Math.log1p(-v);
    }
    return this.log1mPCache;
  }

  /**
   * @param dist - distribution name for messages
   * @param arg - probabilities, or `{ probs }` / `{ logits }`
   */
  constructor(dist: string, arg: ProbsArg) {
    if (typeof arg === 'number') {
      // fast path: the scalar constructor runs once per execution in enumeration
      if (validationEnabled() && !(arg >= 0 && arg <= 1)) throw new InvalidParameterError(dist, 'probs', `${dist}: parameter probs must be in [0, 1], got ${arg}`);
      this.value = arg;
      this.isLogits = false;
    } else {
      const { raw, isLogits } = unpack(dist, arg);
      this.isLogits = isLogits;
      this.value = param(dist, isLogits ? 'logits' : 'probs', raw);
      if (!isLogits) checkParam(dist, 'probs', this.value, unitInterval);
    }
    const v = this.value;
    this.isNumber = typeof v === 'number';
    if (typeof v === 'number') this.p = this.isLogits ? (sigmoid(v) as number) : v;
  }

  /** The success probability. */
  get probs(): Value {
    if (this.isNumber) return this.p;
    return this.isLogits ? sigmoid(this.value) : this.value;
  }
  /** The log-odds log(p / (1 - p)). */
  get logits(): Value {
    if (this.isLogits) return this.value;
    if (this.isNumber) return this.logP - this.log1mP;
    return tf.tidy(() => sub(log(this.value), log1p(neg(this.value))));
  }
  // With logits, log p = -softplus(-l) and log(1 - p) = -softplus(l). (tf.logSigmoid is
  // avoided: its custom gradient closes over an intermediate that a surrounding
  // tf.tidy disposes before the backward pass.)
  /** log p, for numbers or tensors. */
  logProbs(): Value {
    if (this.isNumber) return this.logP;
    return this.isLogits ? neg(softplus(neg(this.value))) : log(this.value);
  }
  /** `x * log p`, 0 where `x` is 0 (with a zero gradient there, also at p = 0: `xLogOf` in counts.ts). */
  xLogProbs(x: Value): Value {
    return this.isNumber || this.isLogits ? xLogY(x, this.logProbs()) : xLogOf(x, this.value);
  }
  /** `x * log(1 - p)`, 0 where `x` is 0 (with a zero gradient there, also at p = 1: `xLog1mOf` in counts.ts). */
  xLog1mProbs(x: Value): Value {
    return this.isNumber || this.isLogits ? xLogY(x, this.log1mProbs()) : xLog1mOf(x, this.value);
  }
  /** log(1 - p), for numbers or tensors. */
  log1mProbs(): Value {
    if (this.isNumber) return this.log1mP;
    return this.isLogits ? neg(softplus(this.value)) : log1p(neg(this.value));
  }
}

/** Absolute tolerance on the sum of a probability vector of length `k`. */
function sumTolerance(k: number, float32: boolean): number {
  // float64 input: 1e-6 as documented; float32 tensors carry rounding of about k ulps
  return float32 ? Math.max(1e-6, 4 * k * 2 ** -24) : 1e-6;
}

function isNumberVector(x: unknown): x is number[] | Float64Array | Float32Array {
  if (x instanceof Float64Array || x instanceof Float32Array) return true;
  return Array.isArray(x) && x.every((e) => typeof e === 'number');
}

/**
 * A probability vector over the last axis, stored as normalised
 * log-probabilities. A parameter given as a plain JS vector (`number[]`,
 * `Float64Array`, `Float32Array`) is held in float64 ({@link SimplexProbs.logP64},
 * with probabilities and a cumulative table made on first use) and never
 * becomes a tensor unless asked for; anything else is a tensor of shape
 * `batchShape ++ [K]`.
 */
/**
 * Normalised log-probability tables of plain JS vectors, per vector object
 * and its contents (a vector filled again in place gets a new table).
 */
const probsTables = new ContentCache<Float64Array>();
const NO_BATCH: readonly number[] = Object.freeze([]);
const logitsTables = new ContentCache<Float64Array>();

export class SimplexProbs {
  /** Number of categories K (the size of the last axis). */
  readonly k: number;
  /** The batch shape: the parameter's shape without its last axis. */
  readonly batchShape: readonly number[];
  /** The parameter as given (a tensor), or `undefined` on the float64 path. */
  readonly tensor: tf.Tensor | undefined;
  /** True when the parameter was given as logits. */
  readonly isLogits: boolean;
  /** Normalised float64 log-probabilities on the float64 path, else `undefined`. */
  readonly logP64: Float64Array | undefined;
  private p64Cache: Float64Array | undefined;
  private cdf64Cache: Float64Array | undefined;

  /**
   * @param dist - distribution name for messages
   * @param arg - probabilities or `{ probs }` / `{ logits }` over the last axis
   */
  constructor(readonly dist: string, arg: ProbsArg) {
    const { raw, isLogits } = unpack(dist, arg);
    this.isLogits = isLogits;
    const name = isLogits ? 'logits' : 'probs';
    if (isNumberVector(raw)) {
      if (raw.length === 0) throw new RangeError(`${dist}: parameter ${name} is empty; it needs at least one category`);
      this.k = raw.length;
      this.batchShape = NO_BATCH;
      this.tensor = undefined;
      // a probability vector passed again with the same contents (e.g. a constant in a model) is checked and normalised once
      this.logP64 = (isLogits ? logitsTables : probsTables).get(raw, () => {
        if (validationEnabled()) checkVector(dist, name, raw, isLogits, false, 0, raw.length);
        return isLogits ? logPFromLogits(raw) : logPFromProbs(raw);
      });
      return;
    }
    const v = param(dist, name, raw);
    if (typeof v === 'number' || v.rank === 0) {
      throw new RangeError(`${dist}: parameter ${name} must be a vector (last axis = categories), got ${describe(v)}`);
    }
    this.k = v.shape[v.rank - 1];
    if (this.k === 0) throw new RangeError(`${dist}: parameter ${name} has an empty last axis; it needs at least one category`);
    this.batchShape = v.shape.slice(0, -1);
    this.tensor = v;
    this.logP64 = undefined;
    if (validationEnabled() && !all(validVectorsMask(v, isLogits, sumTolerance(this.k, v.dtype === 'float32')))) {
      // only an invalid parameter is read value by value (for the message): a valid one is checked by tensor ops
      // alone, so a traced model records the check as a guard instead of refusing to compile (backend/jit)
      const d = v.dataSync();
      for (let off = 0; off < d.length; off += this.k) checkVector(dist, name, d, isLogits, v.dtype === 'float32', off, this.k);
    }
  }

  /** Normalised float64 probabilities on the float64 path (made on first use), else `undefined`. */
  get p64(): Float64Array | undefined {
    if (this.logP64 && !this.p64Cache) this.p64Cache = this.logP64.map(Math.exp);
    return this.p64Cache;
  }
  /** The cumulative table of {@link p64} for sampling (see `cumulativeRows`), else `undefined`. */
  get cdf64(): Float64Array | undefined {
    const p = this.p64;
    if (p && !this.cdf64Cache) this.cdf64Cache = cumulativeRows(p, this.k);
    return this.cdf64Cache;
  }

  /** Normalised log-probabilities as a tensor of shape `batchShape ++ [K]`. */
  logProbsTensor(): tf.Tensor {
    if (this.logP64) return tf.tensor1d(Float32Array.from(this.logP64));
    const t = this.tensor as tf.Tensor;
    // logits minus their log-sum-exp rather than tf.logSoftmax: the same values, but tf.logSoftmax is a
    // custom-gradient op, which keeps a model's log density off the compiled replay (softmax regressions)
    if (this.isLogits) return tf.tidy(() => tf.sub(t, tf.logSumExp(t, -1, true)));
    // a probability of exactly 0 has log -Infinity and, through the normaliser alone, a finite gradient
    // (-1 / sum): tf.log's own gradient there is 0 / 0 = NaN even where that entry is not the one scored
    // (a Dirichlet draw that underflows in float32, probabilities made as z * p with z = 0), so the log
    // is taken of 1 in its place, its gradient stopped by the select
    return tf.tidy(() => {
      const positive = tf.greater(t, 0);
      const logT = tf.where(positive, tf.log(tf.where(positive, t, tf.onesLike(t))), tf.fill(t.shape, -Infinity));
      return tf.sub(logT, tf.log(tf.sum(t, -1, true)));
    });
  }

  /** Normalised probabilities as a tensor of shape `batchShape ++ [K]`. */
  probsTensor(): tf.Tensor {
    const p = this.p64;
    if (p) return tf.tensor1d(Float32Array.from(p));
    const t = this.tensor as tf.Tensor;
    return tf.tidy(() => (this.isLogits ? tf.softmax(t) : tf.div(t, tf.sum(t, -1, true))));
  }

  /** Normalised probabilities, flat in row-major order (batch members of K entries each), read synchronously. */
  probsArray(): Float64Array {
    const p64 = this.p64;
    if (p64) return p64;
    const p = this.probsTensor();
    const out = Float64Array.from(p.dataSync());
    p.dispose();
    return out;
  }
}

/**
 * Whether every vector along the last axis of `v` is a valid parameter, as a
 * boolean tensor (the same rules as `checkVector`): probabilities in [0, 1]
 * summing to 1 within `tol`; logits with no NaN or +Infinity and at least one
 * finite entry.
 */
function validVectorsMask(v: tf.Tensor, isLogits: boolean, tol: number): tf.Tensor {
  return tf.tidy(() => {
    if (isLogits) return tf.logicalAnd(tf.all(tf.less(v, Infinity)), tf.all(tf.any(tf.greater(v, -Infinity), -1)));
    const inUnit = tf.all(tf.logicalAnd(tf.greaterEqual(v, 0), tf.lessEqual(v, 1)));
    return tf.logicalAnd(inUnit, tf.all(tf.lessEqual(tf.abs(tf.sub(tf.sum(v, -1), 1)), tol)));
  });
}

/** Validate one probability (or logit) vector of length `k` at `off` in `x`. */
function checkVector(dist: string, name: string, x: ArrayLike<number>, isLogits: boolean, float32: boolean, off: number, k: number): void {
  let sum = 0;
  let anyFinite = false;
  for (let i = off; i < off + k; i++) {
    const e = x[i];
    if (Number.isNaN(e)) throw new InvalidParameterError(dist, name, `${dist}: parameter ${name} contains NaN`);
    if (isLogits) {
      if (e === Infinity) throw new InvalidParameterError(dist, name, `${dist}: parameter logits contains +Infinity`);
      if (e > -Infinity) anyFinite = true;
    } else if (!(e >= 0 && e <= 1)) {
      throw new InvalidParameterError(dist, name, `${dist}: parameter probs must lie in [0, 1], got ${e}`);
    }
    sum += e;
  }
  if (isLogits) {
    if (!anyFinite) throw new InvalidParameterError(dist, name, `${dist}: parameter logits are all -Infinity (no category has positive probability)`);
    return;
  }
  const tol = sumTolerance(k, float32);
  if (!(Math.abs(sum - 1) <= tol)) {
    throw new InvalidParameterError(dist, name, `${dist}: parameter probs must sum to 1 over the last axis (within ${tol.toPrecision(2)}), got a sum of ${sum}`);
  }
}

/** log(x_i / sum x), in float64. */
function logPFromProbs(x: ArrayLike<number>): Float64Array {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i];
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.log(x[i] / sum);
  return out;
}

/** x_i - logSumExp(x), in float64. */
function logPFromLogits(x: ArrayLike<number>): Float64Array {
  const lse = logSumExp(x);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] - lse;
  return out;
}
