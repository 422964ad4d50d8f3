/**
 * Half distributions: |X| for X from a distribution symmetric about 0 with a
 * scale parameter (HalfNormal, HalfCauchy).
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, abs, add } from '../core/value.js';
import { nonnegative, positive } from './constraints.js';
import { Distribution, checkParam, param, valueArg } from './distribution.js';
import { logDensity } from './draws.js';

const LOG2 = Math.log(2);

/**
 * |X| with X ~ base(0, scale): density 2 base(x) on x >= 0. Reparameterised
 * when the base is. Subclasses give the moments and the cdf.
 */
export abstract class HalfDistribution<B extends Distribution> extends Distribution {
  readonly support = nonnegative;
  override readonly hasRsample: boolean;
  readonly batchShape: readonly number[];
  /** Scale > 0. */
  readonly scale: Value;
  /** The symmetric base distribution with location 0. */
  protected readonly base: B;

  /**
   * @param name - the family name, for messages
   * @param scale - the scale parameter
   * @param makeBase - the base distribution at location 0 for a scale
   */
  constructor(name: string, scale: ValueLike, makeBase: (scale: Value) => B) {
    super();
    this.scale = param(name, 'scale', scale);
    checkParam(name, 'scale', this.scale, positive);
    this.base = makeBase(this.scale);
    this.batchShape = this.base.batchShape;
    this.hasRsample = this.base.hasRsample;
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return abs(this.base.sample(rng, sampleShape));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    return logDensity(this.support, x, 0, (v) => add(this.base.logProb(v), LOG2));
  }
}
