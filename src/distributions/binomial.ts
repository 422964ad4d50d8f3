/**
 * The binomial distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { traceActive } from '../backend/jit/trace.js';
import { betainc, betaincNumber, gammaDevianceTensor, lgamma, logBetainc, logBetaincc, logChoose, logSaddleNormTensor } from '../core/special.js';
import { logBetaincNumber } from '../math/log-cdf.js';
import { countTail } from './tails.js';
import { type Value, type ValueLike, add, allTrueIfCheap, exp, ge, log, maximum, minimum, mul, sub, toNumber, toTensor, where } from '../core/value.js';
import { type IntervalConstraint, nonnegativeInteger } from './constraints.js';
import { countSupport, directOrSaddle, integerRange, logFactorial, xLogYNumber } from './counts.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, maskSupport, param, valueArg } from './distribution.js';
import { BinaryProbs, type ProbsArg, type ProbsValue } from './probs.js';
import { batchValues, binomialVariate, drawScalars } from './samplers.js';

/**
 * Binomial(n, p): the number of successes in `n` independent trials that each
 * succeed with probability `p`; support `0..n`. Mass
 * `C(n, k) p^k (1 - p)^(n - k)`.
 *
 * `totalCount` is a nonnegative integer (number or tensor); the probability
 * is given as `probs` or `{ logits }`. With number parameters `logProb` of a
 * number allocates nothing (log-factorials come from a table).
 */
export class BinomialDistribution extends Distribution {
  readonly name = 'Binomial';
  readonly support: IntervalConstraint;
  readonly batchShape: readonly number[];
  /** Number of trials n. */
  readonly totalCount: Value;
  private readonly p: BinaryProbs;
  private readonly logFactN: number;

  /**
   * @param totalCount - number of trials, a nonnegative integer
   * @param probs - success probability in [0, 1], or `{ probs }` / `{ logits }`
   */
  constructor(totalCount: ValueLike, probs: ProbsArg) {
    super();
    this.totalCount = param('Binomial', 'totalCount', totalCount);
    checkParam('Binomial', 'totalCount', this.totalCount, nonnegativeInteger);
    this.p = new BinaryProbs('Binomial', probs);
    const n = this.totalCount;
    const numbers = typeof n === 'number' && this.p.isNumber;
    this.batchShape = numbers ? [] : batchShapeOf('Binomial', { totalCount: n, probs: this.p.value });
    this.logFactN = typeof n === 'number' ? logFactorial(n) : NaN;
    this.support = countSupport(n);
  }

  /** Success probability. */
  get probs(): Value {
    return this.p.probs;
  }
  /** Log-odds of success. */
  get logits(): Value {
    return this.p.logits;
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const n = this.totalCount;
    if (typeof n === 'number' && this.p.isNumber && sampleShape.length === 0) return binomialVariate(rng, n, this.p.p);
    const ns = batchValues('Binomial', () => n, this.batchShape);
    const ps = batchValues('Binomial', () => this.p.probs, this.batchShape);
    return drawScalars(this.shape(sampleShape), ns.length, (b) => binomialVariate(rng, ns[b], ps[b]));
  }

  logProb(kLike: ValueLike): Value {
    const k = valueArg(this, 'logProb', kLike);
    const n = this.totalCount;
    if (typeof k === 'number' && typeof n === 'number' && this.p.isNumber) {
      if (!(Number.isInteger(k) && k >= 0 && k <= n)) return -Infinity;
      return this.logFactN - logFactorial(k) - logFactorial(n - k) + xLogYNumber(k, this.p.logP) + xLogYNumber(n - k, this.p.log1mP);
    }
    return tf.tidy(() => {
      // clamp into 0..n so that lgamma sees valid arguments; out-of-support values are masked
      const ks = minimum(maximum(k, 0), n);
      const direct = () => add(logChoose(n, ks), add(this.p.xLogProbs(ks), this.p.xLog1mProbs(sub(n, ks))));
      const lp = largeTrials(n, ks, this.p, direct);
      return maskSupport(this.support, k, lp) as tf.Tensor;
    });
  }

  override get mean(): Value {
    return tf.tidy(() => mul(this.totalCount, this.p.probs));
  }
  override get variance(): Value {
    return tf.tidy(() => {
      const p = this.p.probs;
      return mul(mul(this.totalCount, p), sub(1, p));
    });
  }

  /** P(X <= k) = I_{1-p}(n - j, j + 1), j = floor(k) (0 below 0, 1 from n on). */
  override cdf(kLike: ValueLike): Value {
    const k = valueArg(this, 'cdf', kLike);
    return this.tail(k, (n, q, j) => (j >= n ? 1 : betaincNumber(n - j, j + 1, q)), (n, q, j) => betainc(sub(n, j), add(j, 1), q), 0, 1);
  }
  /** log I_{1-p}(n - j, j + 1) (Stan's `binomial_lcdf`), float64 in log space for numbers and tensors. */
  override logCdf(kLike: ValueLike): Value {
    const k = valueArg(this, 'logCdf', kLike);
    return this.tail(k, (n, q, j) => (j >= n ? 0 : logBetaincNumber(n - j, j + 1, q)), (n, q, j) => logBetainc(sub(n, j), add(j, 1), q), -Infinity, 0);
  }
  /** log P(X > k) = log I_p(j + 1, n - j) = log(1 - I_{1-p}(n - j, j + 1)) (Stan's `binomial_lccdf`; -Infinity from n on), float64 in log space. */
  override logSurvival(kLike: ValueLike): Value {
    const k = valueArg(this, 'logSurvival', kLike);
    return this.tail(k, (n, q, j) => (j >= n ? -Infinity : logBetaincNumber(j + 1, n - j, 1 - q)), (n, q, j) => logBetaincc(sub(n, j), add(j, 1), q), 0, -Infinity);
  }

  /**
   * A cdf-like function of k through the incomplete beta at q = 1 - p:
   * `below` for k < 0, `atN` for k >= n, else `num`/`ten` of (n, q, floor(k)).
   */
  private tail(k: Value, num: (n: number, q: number, j: number) => number, ten: (n: tf.Tensor, q: tf.Tensor, j: tf.Tensor) => Value, below: number, atN: number): Value {
    const q = this.p.isNumber ? Math.exp(this.p.log1mP) : exp(this.p.log1mProbs());
    return countTail([this.totalCount, q], k, num, (n, qt, j) => {
      const top = ge(j, n);
      // keep the incomplete beta's arguments valid where j >= n (the value there is atN)
      const inside = ten(n, qt, toTensor(minimum(j, maximum(sub(n, 1), 0))));
      return where(top, atN, inside);
    }, below);
  }

  /** `0..n` as numbers when the batch shape is `[]`, else `undefined`. */
  override enumerateSupport(): Value[] | undefined {
    return this.batchShape.length === 0 ? integerRange(toNumber(this.totalCount) + 1) : undefined;
  }
}

/**
 * Trials from which the tensor mass takes the saddle-point form. Below it the
 * direct form's terms are under ~7000 (float32 rounding under ~4e-4 nats), and
 * a model with fewer trials pays for nothing but one cheap read of n.
 */
export const BINOMIAL_SADDLE_MIN = 1000;

/**
 * `direct` (log C(n, k) + k log p + (n - k) log(1 - p), tensors) with the
 * elements where n >= `BINOMIAL_SADDLE_MIN` and 0 < p < 1 replaced by the
 * same mass in Loader's (2000) saddle-point form
 * T(k) + T(n - k) - T(n) - bd0(k, n p) - bd0(n - k, n q), where
 * T(z) = z log z - z - lgamma(z + 1) (0 at z = 0; -log(2 pi z) / 2 less
 * Stirling's remainder from z = 10) and bd0(x, M) = x log(x / M) + M - x
 * (x times the gamma deviance at M / x; M at x = 0). The direct form's terms,
 * near n log n, cancel (float32: 0.14 nats off at n = 1e5, 0.83 at 1e6);
 * these are the size of the result. q comes from the logits where the
 * distribution holds them (no 1 - p rounding near p = 1). Elsewhere the direct
 * form, bit for bit; where a cheap read shows every element takes one form,
 * only that one is computed. While a trace records (a compiled or float64
 * shadow density, replayed in float64) the direct form throughout.
 */
function largeTrials(n: Value, ks: Value, probs: BinaryProbs, direct: () => Value): tf.Tensor {
  // a recorded density replays in float64 (backend/jit), where the direct form's terms are exact to ~1e-8 nats at
  // n = 1e7 and cost a quarter of the saddle-point form's (NUTS on a 40-row regression at n ~ 5000: 2.98 -> 0.63 s)
  if (traceActive()) return toTensor(direct());
  // decided on the trial counts alone first (data, usually: no read of p)
  if (typeof n === 'number' ? n < BINOMIAL_SADDLE_MIN : allTrueIfCheap(tf.less(n, BINOMIAL_SADDLE_MIN))) return toTensor(direct());
  const tn = toTensor(n);
  const p = toTensor(probs.probs);
  const q = probs.isLogits ? (tf.sigmoid(tf.neg(toTensor(probs.logits))) as tf.Tensor) : tf.sub(1, p);
  const big = tf.logicalAnd(tf.greaterEqual(tn, BINOMIAL_SADDLE_MIN), tf.logicalAnd(tf.greater(p, 0), tf.greater(q, 0)));
  return directOrSaddle(big, direct, (at) => saddleBinomial(at(tn, BINOMIAL_SADDLE_MIN), at(toTensor(ks), 0), at(p, 0.5), at(q, 0.5)));
}

/** The saddle-point binomial log mass (see `largeTrials`; 0 <= k <= n, 0 < p, q). */
function saddleBinomial(n: tf.Tensor, k: tf.Tensor, p: tf.Tensor, q: tf.Tensor): tf.Tensor {
  const m = tf.sub(n, k);
  const norm = tf.sub(tf.add(stirlingT(k), stirlingT(m)), stirlingT(n));
  return tf.sub(norm, tf.add(bd0(k, tf.mul(n, p)), bd0(m, tf.mul(n, q))));
}

/** T(z) = z log z - z - lgamma(z + 1) for z >= 0 (see `largeTrials`): direct below 10, Stirling's series from 10 (only that where a cheap read shows every z takes it). */
function stirlingT(z: tf.Tensor): tf.Tensor {
  const large = tf.greaterEqual(z, 10);
  if (allTrueIfCheap(large)) return tf.sub(logSaddleNormTensor(z), tf.log(z));
  const zl = tf.where(large, z, 10);
  const zs = tf.where(large, 1, z);
  const series = tf.sub(logSaddleNormTensor(zl), tf.log(zl));
  const small = tf.sub(tf.sub(tf.mul(zs, tf.log(tf.where(tf.greater(zs, 0), zs, 1))), zs), toTensor(lgamma(tf.add(zs, 1))));
  return tf.where(large, series, small);
}

/** bd0(x, M) = x log(x / M) + M - x for x >= 0, M > 0 (M at x = 0), through the gamma deviance at M / x. */
function bd0(x: tf.Tensor, M: tf.Tensor): tf.Tensor {
  const pos = tf.greater(x, 0);
  if (allTrueIfCheap(pos)) return tf.mul(x, gammaDevianceTensor(tf.div(M, x)));
  const xs = tf.where(pos, x, 1);
  const dev = tf.mul(xs, gammaDevianceTensor(tf.div(tf.where(pos, M, 1), xs)));
  return tf.where(pos, dev, M);
}

/** Binomial(totalCount, probs), or `Binomial(totalCount, { logits })`. */
export function Binomial<N extends ValueLike, P extends ProbsArg>(totalCount: N, probs: P): BinomialDistribution & Typed<DrawType<[N, ProbsValue<P>]>> {
  return new BinomialDistribution(totalCount, probs);
}
