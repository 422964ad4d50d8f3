/**
 * The binomial distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { betainc, betaincNumber, logBetainc, logBetaincc, logChoose } from '../core/special.js';
import { logBetaincNumber } from '../math/log-cdf.js';
import { countTail } from './tails.js';
import { type Value, type ValueLike, add, exp, ge, log, maximum, minimum, mul, sub, toNumber, toTensor, where } from '../core/value.js';
import { type IntervalConstraint, nonnegativeInteger } from './constraints.js';
import { countSupport, integerRange, logFactorial, xLogYNumber } from './counts.js';
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
      const lp = add(logChoose(n, ks), add(this.p.xLogProbs(ks), this.p.xLog1mProbs(sub(n, ks))));
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

/** Binomial(totalCount, probs), or `Binomial(totalCount, { logits })`. */
export function Binomial<N extends ValueLike, P extends ProbsArg>(totalCount: N, probs: P): BinomialDistribution & Typed<DrawType<[N, ProbsValue<P>]>> {
  return new BinomialDistribution(totalCount, probs);
}
