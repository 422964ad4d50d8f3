/**
 * The Bernoulli distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { NumberCache } from '../core/number-cache.js';
import type { Rng } from '../core/rng.js';
import { type Value, eq, mul, softplus, sub, where, type ValueLike } from '../core/value.js';
import { boolean } from './constraints.js';
import { integerRange } from './counts.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, maskSupport, valueArg } from './distribution.js';
import { BinaryProbs, type ProbsArg, type ProbsValue } from './probs.js';
import { batchValues, bernoulliVariate, drawScalars } from './samplers.js';

/**
 * Bernoulli(p): 1 with probability `p`, 0 with probability `1 - p`. Values are
 * the numbers 0 and 1 (float32 0/1 in tensors); `true`/`false` observations
 * are read as 1/0.
 *
 * With a number parameter, `logProb` of a number is a table lookup (no
 * allocation), so the distribution is cheap inside exact enumeration.
 */
export class BernoulliDistribution extends Distribution {
  readonly name = 'Bernoulli';
  readonly support = boolean;
  readonly batchShape: readonly number[];
  private readonly p: BinaryProbs;

  /** @param probs - success probability in [0, 1], or `{ probs }` / `{ logits }`. */
  constructor(probs: ProbsArg) {
    super();
    this.p = new BinaryProbs('Bernoulli', probs);
    this.batchShape = this.p.isNumber ? [] : batchShapeOf('Bernoulli', { probs: this.p.value });
  }

  /** Probability of 1. */
  get probs(): Value {
    return this.p.probs;
  }
  /** Log-odds of 1. */
  get logits(): Value {
    return this.p.logits;
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    if (this.p.isNumber && sampleShape.length === 0) return bernoulliVariate(rng, this.p.p);
    const probs = batchValues('Bernoulli', () => this.p.probs, this.batchShape);
    return drawScalars(this.shape(sampleShape), probs.length, (b) => bernoulliVariate(rng, probs[b]));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    if (typeof x === 'number' && this.p.isNumber) return x === 1 ? this.p.logP : x === 0 ? this.p.log1mP : -Infinity;
    if (this.p.isLogits) {
      // x l - softplus(l): log p at 1 and log(1 - p) at 0, stably, in three ops (gradient x - sigmoid(l))
      const l = this.p.value;
      return tf.tidy(() => maskSupport(boolean, x, sub(mul(x, l), softplus(l))) as tf.Tensor);
    }
    return tf.tidy(() => maskSupport(boolean, x, where(eq(x, 1), this.p.logProbs(), this.p.log1mProbs())) as tf.Tensor);
  }

  override get mean(): Value {
    return this.p.probs;
  }
  override get variance(): Value {
    return tf.tidy(() => {
      const p = this.p.probs;
      return mul(p, sub(1, p));
    });
  }

  /** `[0, 1]` when the batch shape is `[]`, else `undefined`. */
  override enumerateSupport(): Value[] | undefined {
    return this.batchShape.length === 0 ? integerRange(2) : undefined;
  }
}

/**
 * The distribution of each number probability seen lately: a `BernoulliDistribution` of a number
 * holds nothing but that number (and its logs, made on first use), so `Bernoulli(p)` at a site a
 * model visits again and again (each path of an enumeration) returns the same object instead of
 * building one per visit.
 */
const shared = new NumberCache<BernoulliDistribution>();

/** (One function for every miss: a closure per call would be allocated on every hit.) */
function makeBernoulli(p: number): BernoulliDistribution {
  return new BernoulliDistribution(p);
}

/**
 * Bernoulli(probs), or `Bernoulli({ logits })`. Parameters may be numbers, arrays or tensors. Calls
 * with the same number may return the same (immutable) object.
 */
export function Bernoulli<P extends ProbsArg>(probs: P): BernoulliDistribution & Typed<DrawType<[ProbsValue<P>]>> {
  // (an invalid number is never remembered: the constructor checks it each time)
  if (typeof probs === 'number' && probs >= 0 && probs <= 1) return shared.get(probs, makeBernoulli) as BernoulliDistribution & Typed<DrawType<[ProbsValue<P>]>>;
  return new BernoulliDistribution(probs);
}
