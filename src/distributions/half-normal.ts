/**
 * The half-normal distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { erf, normalIcdf } from '../core/special.js';
import { type Value, type ValueLike, abs, add, div, maximum, mul, square } from '../core/value.js';
import { nonnegative, positive } from './constraints.js';
import { Distribution, type DrawType, type Typed, checkParam, param } from './distribution.js';
import { logDensity } from './draws.js';
import { NormalDistribution } from './normal.js';

const LOG2 = Math.log(2);

/**
 * HalfNormal(scale): |X| for X ~ Normal(0, scale), density
 * 2 exp(-x^2 / (2 scale^2)) / (scale sqrt(2 pi)) on x >= 0. Reparameterised.
 */
export class HalfNormalDistribution extends Distribution {
  readonly name = 'HalfNormal';
  readonly support = nonnegative;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** Scale > 0 (the standard deviation of the underlying normal). */
  readonly scale: Value;
  private readonly base: NormalDistribution;

  constructor(scale: ValueLike = 1) {
    super();
    this.scale = param('HalfNormal', 'scale', scale);
    checkParam('HalfNormal', 'scale', this.scale, positive);
    this.base = new NormalDistribution(0, this.scale);
    this.batchShape = this.base.batchShape;
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return abs(this.base.sample(rng, sampleShape));
  }

  logProb(x: Value): Value {
    return logDensity(this.support, x, 0, (v) => add(this.base.logProb(v), LOG2));
  }

  override get mean(): Value {
    return mul(Math.sqrt(2 / Math.PI), this.scale);
  }
  override get variance(): Value {
    return mul(1 - 2 / Math.PI, square(this.scale));
  }

  /** erf(x / (scale sqrt 2)) for x >= 0, else 0. */
  override cdf(x: Value): Value {
    return erf(div(maximum(x, 0), mul(Math.SQRT2, this.scale)));
  }
  /** scale Phi^-1((1 + u) / 2). */
  override icdf(u: Value): Value {
    return mul(this.scale, normalIcdf(mul(0.5, add(1, u))));
  }
}

/** HalfNormal(scale = 1). The scale may be a number, array or tensor. */
export function HalfNormal<S extends ValueLike = number>(scale: S = 1 as S): HalfNormalDistribution & Typed<DrawType<[S]>> {
  return new HalfNormalDistribution(scale);
}
