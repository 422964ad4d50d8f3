/**
 * The geometric distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, add, div, expm1, maximum, mul, neg, square, sub, type ValueLike } from '../core/value.js';
import { countTail, log1mexp } from './tails.js';
import { nonnegativeInteger, positive } from './constraints.js';
import { isCount, xLogYNumber } from './counts.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, maskSupport, valueArg } from './distribution.js';
import { BinaryProbs, type ProbsArg, type ProbsValue } from './probs.js';
import { batchValues, drawScalars, geometricVariate } from './samplers.js';

/**
 * Geometric(p): the number of failures `k = 0, 1, 2, ...` before the first
 * success in independent trials that each succeed with probability `p`
 * (as in Pyro and TFP). Mass `(1 - p)^k p`, mean `(1 - p) / p`.
 *
 * `p` must be in (0, 1]; it may be given as `{ logits }` instead.
 */
export class GeometricDistribution extends Distribution {
  readonly name = 'Geometric';
  readonly support = nonnegativeInteger;
  readonly batchShape: readonly number[];
  private readonly p: BinaryProbs;

  /** @param probs - success probability in (0, 1], or `{ probs }` / `{ logits }`. */
  constructor(probs: ProbsArg) {
    super();
    this.p = new BinaryProbs('Geometric', probs);
    if (!this.p.isLogits) checkParam('Geometric', 'probs', this.p.value, positive);
    this.batchShape = this.p.isNumber ? [] : batchShapeOf('Geometric', { probs: this.p.value });
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
    if (this.p.isNumber && sampleShape.length === 0) return geometricVariate(rng, this.p.p);
    const probs = batchValues('Geometric', () => this.p.probs, this.batchShape);
    return drawScalars(this.shape(sampleShape), probs.length, (b) => geometricVariate(rng, probs[b]));
  }

  logProb(kLike: ValueLike): Value {
    const k = valueArg(this, 'logProb', kLike);
    if (typeof k === 'number' && this.p.isNumber) return isCount(k) ? xLogYNumber(k, this.p.log1mP) + this.p.logP : -Infinity;
    return tf.tidy(() => {
      const lp = add(this.p.xLog1mProbs(maximum(k, 0)), this.p.logProbs());
      return maskSupport(this.support, k, lp) as tf.Tensor;
    });
  }

  override get mean(): Value {
    return tf.tidy(() => {
      const p = this.p.probs;
      return div(sub(1, p), p);
    });
  }
  override get variance(): Value {
    return tf.tidy(() => {
      const p = this.p.probs;
      return div(sub(1, p), square(p));
    });
  }

  /** P(X <= k) = 1 - (1 - p)^(floor(k) + 1) (0 below 0). */
  override cdf(kLike: ValueLike): Value {
    const k = valueArg(this, 'cdf', kLike);
    return neg(expm1(this.logSurvival(k)));
  }
  /** log(1 - (1 - p)^(floor(k) + 1)), accurate in both tails. */
  override logCdf(kLike: ValueLike): Value {
    const k = valueArg(this, 'logCdf', kLike);
    return log1mexp(this.logSurvival(k));
  }
  /** log P(X > k) = (floor(k) + 1) log(1 - p) (0 below 0), exact in any tail. */
  override logSurvival(kLike: ValueLike): Value {
    const k = valueArg(this, 'logSurvival', kLike);
    const log1mP = this.p.isNumber ? this.p.log1mP : this.p.log1mProbs();
    return countTail([log1mP], k, (l, j) => (j + 1) * l, (l, j) => mul(add(j, 1), l), 0);
  }
}

/** Geometric(probs), or `Geometric({ logits })`: failures before the first success. */
export function Geometric<P extends ProbsArg>(probs: P): GeometricDistribution & Typed<DrawType<[ProbsValue<P>]>> {
  return new GeometricDistribution(probs);
}
