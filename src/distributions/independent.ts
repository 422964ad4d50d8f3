/**
 * Reinterpreting batch dimensions of a distribution as event dimensions.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, sumLast, type ValueLike } from '../core/value.js';
import { type Constraint, independent } from './constraints.js';
import { Distribution, type Typed, type ValueOf, parameterShapeError, valueArg } from './distribution.js';

/**
 * Independent(base, n): the same draws as `base`, with its last `n` batch
 * dimensions treated as part of one event. `logProb` sums the base
 * log-density over those dimensions, so e.g. a `Normal` with batch shape
 * `[3]` becomes one distribution over vectors of size 3 (a diagonal
 * multivariate normal). Batch shape loses, and event shape gains, those `n`
 * dimensions.
 */
export class IndependentDistribution extends Distribution {
  readonly name: string;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  readonly support: Constraint;
  override readonly hasRsample: boolean;

  /**
   * @param base - any distribution
   * @param reinterpretedBatchNdims - how many trailing batch dimensions join the event (0..batch rank)
   */
  constructor(
    readonly base: Distribution,
    readonly reinterpretedBatchNdims: number,
  ) {
    super();
    if (!(base instanceof Distribution)) throw new TypeError(`Independent: base must be a distribution, got ${typeof base}`);
    this.name = `Independent(${base.name})`;
    this.support = independent(base.support, reinterpretedBatchNdims);
    this.hasRsample = base.hasRsample;
    if (parameterShapeError(base)) {
      // parameters that do not broadcast: keep the placeholder, so the site still names itself
      this.batchShape = base.batchShape;
      this.eventShape = base.eventShape;
      return;
    }
    const n = reinterpretedBatchNdims;
    const b = base.batchShape;
    if (!(Number.isInteger(n) && n >= 0 && n <= b.length)) {
      throw new RangeError(`Independent: reinterpretedBatchNdims must be an integer in [0, ${b.length}] for ${base.name} with batch shape [${b.join(', ')}], got ${n}`);
    }
    this.batchShape = b.slice(0, b.length - n);
    this.eventShape = [...b.slice(b.length - n), ...base.eventShape];
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    if (sampleShape.length === 0 && this.base.batchShape.length === 0) return this.base.sample(rng, sampleShape);
    return tf.tidy(() => this.base.sample(rng, sampleShape));
  }

  logProb(valueLike: ValueLike): Value {
    const value = valueArg(this, 'logProb', valueLike);
    if (typeof value === 'number') return sumLast(this.base.logProb(value), this.reinterpretedBatchNdims);
    return tf.tidy(() => sumLast(this.base.logProb(value), this.reinterpretedBatchNdims));
  }

  override get mean(): Value {
    return this.base.mean;
  }
  override get variance(): Value {
    return this.base.variance;
  }
  override enumerateSupport(): Value[] | undefined {
    return this.reinterpretedBatchNdims === 0 ? this.base.enumerateSupport() : undefined;
  }
}

/** Independent(base, reinterpretedBatchNdims): treat the last batch dimensions of `base` as event dimensions. */
export function Independent<D extends Distribution>(base: D, reinterpretedBatchNdims: number): IndependentDistribution & Typed<ValueOf<D>> {
  return new IndependentDistribution(base, reinterpretedBatchNdims);
}
