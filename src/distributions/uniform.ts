/**
 * The continuous uniform distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, add, div, log, maximum, minimum, mul, neg, square, sub } from '../core/value.js';
import { type IntervalConstraint, greaterThan, interval } from './constraints.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, param, parameterShapeError, standardUniform, valueArg } from './distribution.js';
import { logDensity } from './draws.js';

/** Uniform(low, high): density 1 / (high - low) on [low, high]. Reparameterised. */
export class UniformDistribution extends Distribution {
  readonly name = 'Uniform';
  readonly support: IntervalConstraint;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** Lower bound. */
  readonly low: Value;
  /** Upper bound, greater than `low`. */
  readonly high: Value;

  constructor(low: ValueLike = 0, high: ValueLike = 1) {
    super();
    this.low = param('Uniform', 'low', low);
    this.high = param('Uniform', 'high', high);
    this.batchShape = batchShapeOf('Uniform', { low: this.low, high: this.high });
    // (bounds that do not broadcast cannot be compared: their site reports the shapes)
    if (parameterShapeError(this) === undefined) checkParam('Uniform', 'high', this.high, greaterThan(this.low));
    this.support = interval(this.low, this.high);
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const u = standardUniform(rng, this.shape(sampleShape));
    return add(this.low, mul(sub(this.high, this.low), u));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    return logDensity(this.support, x, this.low, () => neg(log(sub(this.high, this.low))));
  }

  override get mean(): Value {
    return mul(0.5, add(this.low, this.high));
  }
  override get variance(): Value {
    return div(square(sub(this.high, this.low)), 12);
  }

  /** (x - low) / (high - low), clamped to [0, 1]. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return minimum(1, maximum(0, div(sub(x, this.low), sub(this.high, this.low))));
  }
  /** low + u (high - low). */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    return add(this.low, mul(sub(this.high, this.low), u));
  }
}

/** Uniform(low = 0, high = 1). Bounds may be numbers, arrays or tensors. */
export function Uniform<L extends ValueLike = number, H extends ValueLike = number>(low: L = 0 as L, high: H = 1 as H): UniformDistribution & Typed<DrawType<[L, H]>> {
  return new UniformDistribution(low, high);
}
