/**
 * The negative binomial distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { betainc, betaincNumber, lgamma, lgammaDiff, lgammaDiffNumber, lgammaNumber, logBetainc, logBetaincc } from '../core/special.js';
import { logBetaincNumber } from '../math/log-cdf.js';
import { countTail } from './tails.js';
import { type Value, type ValueLike, add, exp, log, maximum, mul, sub } from '../core/value.js';
import { lessThan, nonnegativeInteger, positive } from './constraints.js';
import { isCount, logFactorial, xLogYNumber } from './counts.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, maskSupport, param, valueArg } from './distribution.js';
import { BinaryProbs, type ProbsArg, type ProbsValue } from './probs.js';
import { logStandardGamma } from './gamma.js';
import { batchValues, drawScalars, poissonVariate } from './samplers.js';

const BELOW_ONE = lessThan(1);

/**
 * One NegativeBinomial(r, p) draw as a Gamma-Poisson mixture,
 * Poisson(Gamma(r, 1) * p / (1 - p)), with `logOdds = log(p / (1 - p))`.
 */
function negativeBinomialVariate(rng: Rng, r: number, logOdds: number): number {
  return poissonVariate(rng, Math.exp(logStandardGamma(rng, r) + logOdds));
}

/**
 * NegativeBinomial(r, p), parameterised as in Pyro, PyTorch and TFP: the
 * number of successes `k = 0, 1, 2, ...` before the `r`-th failure, in trials
 * that each succeed with probability `p`. Mass
 * `Gamma(k + r) / (k! Gamma(r)) * p^k (1 - p)^r`, mean `r p / (1 - p)`,
 * variance `r p / (1 - p)^2`.
 *
 * Read the other way, it counts failures before the `r`-th success when each
 * trial succeeds with probability `1 - p` (SciPy's `nbinom(r, 1 - p)`). Note
 * that {@link GeometricDistribution | Geometric}(q) equals
 * NegativeBinomial(1, 1 - q). With `{ logits }`, `log(mean / r) = logits`,
 * the usual GLM form. `totalCount` r is a positive real; `p` is in [0, 1).
 */
export class NegativeBinomialDistribution extends Distribution {
  readonly name = 'NegativeBinomial';
  readonly support = nonnegativeInteger;
  readonly batchShape: readonly number[];
  /** The number of failures r (a positive real). */
  readonly totalCount: Value;
  private readonly p: BinaryProbs;
  private readonly lgammaR: number;

  /**
   * @param totalCount - r, positive
   * @param probs - success probability in [0, 1), or `{ probs }` / `{ logits }`
   */
  constructor(totalCount: ValueLike, probs: ProbsArg) {
    super();
    this.totalCount = param('NegativeBinomial', 'totalCount', totalCount);
    checkParam('NegativeBinomial', 'totalCount', this.totalCount, positive);
    this.p = new BinaryProbs('NegativeBinomial', probs);
    if (!this.p.isLogits) checkParam('NegativeBinomial', 'probs', this.p.value, BELOW_ONE);
    const r = this.totalCount;
    this.batchShape = typeof r === 'number' && this.p.isNumber ? [] : batchShapeOf('NegativeBinomial', { totalCount: r, probs: this.p.value });
    this.lgammaR = typeof r === 'number' ? lgammaNumber(r) : NaN;
  }

  /** Success probability. */
  get probs(): Value {
    return this.p.probs;
  }
  /** Log-odds of success. */
  get logits(): Value {
    return this.p.logits;
  }

  /** log(p / (1 - p)), computed from log p and log(1 - p) (stable for logits and for p = 0). */
  private logOdds(): Value {
    return sub(this.p.logProbs(), this.p.log1mProbs());
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const r = this.totalCount;
    if (typeof r === 'number' && this.p.isNumber && sampleShape.length === 0) {
      return negativeBinomialVariate(rng, r, this.p.logP - this.p.log1mP);
    }
    const rs = batchValues('NegativeBinomial', () => r, this.batchShape);
    const lo = batchValues('NegativeBinomial', () => this.logOdds(), this.batchShape);
    return drawScalars(this.shape(sampleShape), rs.length, (b) => negativeBinomialVariate(rng, rs[b], lo[b]));
  }

  logProb(kLike: ValueLike): Value {
    const k = valueArg(this, 'logProb', kLike);
    const r = this.totalCount;
    if (typeof k === 'number' && typeof r === 'number' && this.p.isNumber) {
      if (!isCount(k)) return -Infinity;
      return lgammaDiffNumber(r, k, this.lgammaR) - logFactorial(k) + r * this.p.log1mP + xLogYNumber(k, this.p.logP);
    }
    return tf.tidy(() => {
      const ks = maximum(k, 0); // keeps lgamma's arguments valid; negative values are masked
      // lgamma(k + r) - lgamma(r) as one difference: near-Poisson data (r of 1e5 and more) cancel it in float32
      const norm = sub(lgammaDiff(r, ks), lgamma(add(ks, 1)));
      const lp = add(norm, add(mul(r, this.p.log1mProbs()), this.p.xLogProbs(ks)));
      return maskSupport(this.support, k, lp) as tf.Tensor;
    });
  }

  override get mean(): Value {
    return tf.tidy(() => mul(this.totalCount, exp(this.logOdds())));
  }
  override get variance(): Value {
    return tf.tidy(() => mul(this.totalCount, exp(sub(this.logOdds(), this.p.log1mProbs()))));
  }

  /** P(X <= k) = I_{1-p}(r, floor(k) + 1) (0 below 0). */
  override cdf(kLike: ValueLike): Value {
    const k = valueArg(this, 'cdf', kLike);
    return this.tail(k, (r, q, j) => betaincNumber(r, j + 1, q), (r, q, j) => betainc(r, add(j, 1), q), 0);
  }
  /** log I_{1-p}(r, floor(k) + 1) (Stan's `neg_binomial_lcdf` in this parameterisation), float64 in log space for numbers and tensors. */
  override logCdf(kLike: ValueLike): Value {
    const k = valueArg(this, 'logCdf', kLike);
    return this.tail(k, (r, q, j) => logBetaincNumber(r, j + 1, q), (r, q, j) => logBetainc(r, add(j, 1), q), -Infinity);
  }
  /** log P(X > k) = log I_p(floor(k) + 1, r) = log(1 - I_{1-p}(r, floor(k) + 1)), float64 in log space, finite far in the upper tail. */
  override logSurvival(kLike: ValueLike): Value {
    const k = valueArg(this, 'logSurvival', kLike);
    return this.tail(k, (r, q, j) => logBetaincNumber(j + 1, r, 1 - q), (r, q, j) => logBetaincc(r, add(j, 1), q), 0);
  }

  /** A cdf-like function of k through the incomplete beta at q = 1 - p (`below` for k < 0). */
  private tail(k: Value, num: (r: number, q: number, j: number) => number, ten: (r: tf.Tensor, q: tf.Tensor, j: tf.Tensor) => Value, below: number): Value {
    const q = this.p.isNumber ? Math.exp(this.p.log1mP) : exp(this.p.log1mProbs());
    return countTail([this.totalCount, q], k, num, ten, below);
  }
}

/**
 * NegativeBinomial(totalCount, probs), or `NegativeBinomial(totalCount, { logits })`:
 * successes before the `totalCount`-th failure (Pyro/TFP convention).
 */
export function NegativeBinomial<N extends ValueLike, P extends ProbsArg>(totalCount: N, probs: P): NegativeBinomialDistribution & Typed<DrawType<[N, ProbsValue<P>]>> {
  return new NegativeBinomialDistribution(totalCount, probs);
}
