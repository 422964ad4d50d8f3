/**
 * The half-normal distribution.
 *
 * @module
 */
import { erf, normalIcdf } from '../core/special.js';
import { type Value, type ValueLike, add, div, maximum, mul, neg, square, sub } from '../core/value.js';
import { LN2, log1mexp, logErfc, normalIcdfLog } from './tails.js';
import { type DrawType, type Typed, valueArg } from './distribution.js';
import { HalfDistribution } from './half.js';
import { NormalDistribution } from './normal.js';

/**
 * HalfNormal(scale): |X| for X ~ Normal(0, scale), density
 * 2 exp(-x^2 / (2 scale^2)) / (scale sqrt(2 pi)) on x >= 0. Reparameterised.
 */
export class HalfNormalDistribution extends HalfDistribution<NormalDistribution> {
  readonly name = 'HalfNormal';

  constructor(scale: ValueLike = 1) {
    super('HalfNormal', scale, (s) => new NormalDistribution(0, s));
  }

  override get mean(): Value {
    return mul(Math.sqrt(2 / Math.PI), this.scale);
  }
  override get variance(): Value {
    return mul(1 - 2 / Math.PI, square(this.scale));
  }

  /** erf(x / (scale sqrt 2)) for x >= 0, else 0. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return erf(div(maximum(x, 0), mul(Math.SQRT2, this.scale)));
  }
  /** scale Phi^-1((1 + u) / 2). */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    return mul(this.scale, normalIcdf(mul(0.5, add(1, u))));
  }
  /** log(1 - erfc(y)), y = x / (scale sqrt 2), from log erfc (accurate near 0 and far out, for numbers and tensors). */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return log1mexp(logErfc(div(maximum(x, 0), mul(Math.SQRT2, this.scale))));
  }
  /** log erfc(x / (scale sqrt 2)), finite far in the tail (Stan's `normal_lccdf` doubled). */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return logErfc(div(maximum(x, 0), mul(Math.SQRT2, this.scale)));
  }
  /** -scale Phi^-1(q / 2), q = exp(logQ), finite far in the tail. */
  override isfLog(logQ: Value): Value {
    return neg(mul(this.scale, normalIcdfLog(sub(logQ, LN2))));
  }
}

/** HalfNormal(scale = 1). The scale may be a number, array or tensor. */
export function HalfNormal<S extends ValueLike = number>(scale: S = 1 as S): HalfNormalDistribution & Typed<DrawType<[S]>> {
  return new HalfNormalDistribution(scale);
}
