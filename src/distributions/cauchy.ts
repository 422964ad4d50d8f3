/**
 * The Cauchy and half-Cauchy distributions.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, add, atan, div, exp, expm1, log, log1p, gt, lt, maximum, minimum, mul, neg, square, sub, where } from '../core/value.js';
import { LN2 } from './tails.js';
import { type DrawType, type Typed, valueArg } from './distribution.js';
import { logDensity, standardCauchy, standardDraws } from './draws.js';
import { HalfDistribution } from './half.js';
import { LocationScaleDistribution } from './location-scale.js';

const LOG_PI = Math.log(Math.PI);

/** tan for numbers or tensors. */
function tan(x: Value): Value {
  return typeof x === 'number' ? Math.tan(x) : tf.tan(x);
}

/** Infinity with a batch shape (a number for `[]`). */
function infinite(batchShape: readonly number[]): Value {
  return batchShape.length === 0 ? Infinity : tf.fill(batchShape as number[], Infinity);
}

function undefinedMoment(name: string, moment: string): Error {
  return new Error(`${name}: the ${moment} is undefined (the tails are too heavy for it to exist)`);
}

/**
 * Cauchy(loc, scale): density 1 / (pi scale (1 + ((x - loc) / scale)^2)).
 * Reparameterised. It has no mean or variance: reading them throws.
 */
export class CauchyDistribution extends LocationScaleDistribution {
  readonly name = 'Cauchy';

  constructor(loc: ValueLike = 0, scale: ValueLike = 1) {
    super('Cauchy', loc, scale);
  }

  protected standardSample(rng: Rng, shape: readonly number[]): Value {
    return standardDraws(rng, shape, standardCauchy);
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    return logDensity(this.support, x, 0, (v) => neg(add(log1p(square(div(sub(v, this.loc), this.scale))), add(log(this.scale), LOG_PI))));
  }

  override get mean(): Value {
    throw undefinedMoment(this.name, 'mean');
  }
  override get variance(): Value {
    throw undefinedMoment(this.name, 'variance');
  }

  /** 1/2 + atan((x - loc) / scale) / pi. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return add(0.5, div(atan(div(sub(x, this.loc), this.scale)), Math.PI));
  }
  /** loc + scale tan(pi (u - 1/2)). */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    return add(this.loc, mul(this.scale, tan(mul(Math.PI, sub(u, 0.5)))));
  }
  /** log(atan(-1/z) / pi) below the location, log(1 - atan(1/z) / pi) above, z = (x - loc) / scale (no cancellation in either tail). */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return cauchyLogCdf(div(sub(x, this.loc), this.scale));
  }
  /** The log-cdf at the reflected point. */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return cauchyLogCdf(div(sub(this.loc, x), this.scale));
  }
  /** loc - scale / tan(pi p) in the lower half (p = exp(logP)). */
  override icdfLog(logP: Value): Value {
    return add(this.loc, mul(this.scale, cauchyQuantileLog(logP)));
  }
  /** loc + scale / tan(pi q) in the upper tail (q = exp(logQ)). */
  override isfLog(logQ: Value): Value {
    return sub(this.loc, mul(this.scale, cauchyQuantileLog(logQ)));
  }
}

/**
 * log F(z) of the standard Cauchy: log(atan(-1/z) / pi) below -1, log(1/2 + atan(z) / pi) on [-1, 1],
 * log1p(-atan(1/z) / pi) above 1 (no cancellation in either tail). Each branch sees an argument clamped to its own
 * range, so the branches not taken have finite values and gradients (no 1/z at z near 0, whose gradient is NaN
 * through `where`). Gradients in the lower tail read 0 beyond |z| of about 1e19, where z^2 overflows float32.
 */
function cauchyLogCdf(z: Value): Value {
  const lower = sub(log(atan(div(-1, minimum(z, -1)))), LOG_PI);
  const middle = log(add(0.5, div(atan(minimum(maximum(z, -1), 1)), Math.PI)));
  const upper = log1p(div(neg(atan(div(1, maximum(z, 1)))), Math.PI));
  return where(lt(z, -1), lower, where(gt(z, 1), upper, middle));
}

/** The standard Cauchy quantile at a log-probability: -1 / tan(pi p) in the lower half, 1 / tan(pi (1 - p)) above. */
function cauchyQuantileLog(lp: Value): Value {
  const lower = div(-1, tan(mul(Math.PI, exp(minimum(lp, -LN2)))));
  const upper = div(1, tan(mul(-Math.PI, expm1(maximum(lp, -LN2)))));
  return where(lt(lp, -LN2), lower, upper);
}

/** Cauchy(loc = 0, scale = 1). Parameters may be numbers, arrays or tensors. */
export function Cauchy<L extends ValueLike = number, S extends ValueLike = number>(loc: L = 0 as L, scale: S = 1 as S): CauchyDistribution & Typed<DrawType<[L, S]>> {
  return new CauchyDistribution(loc, scale);
}

/**
 * HalfCauchy(scale): |X| for X ~ Cauchy(0, scale), density
 * 2 / (pi scale (1 + (x / scale)^2)) on x >= 0. Reparameterised. Its mean and
 * variance are infinite (returned as `Infinity`).
 */
export class HalfCauchyDistribution extends HalfDistribution<CauchyDistribution> {
  readonly name = 'HalfCauchy';

  constructor(scale: ValueLike = 1) {
    super('HalfCauchy', scale, (s) => new CauchyDistribution(0, s));
  }

  override get mean(): Value {
    return infinite(this.batchShape);
  }
  override get variance(): Value {
    return infinite(this.batchShape);
  }

  /** 2 atan(x / scale) / pi for x >= 0, else 0. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return mul(2 / Math.PI, atan(div(maximum(x, 0), this.scale)));
  }
  /** scale tan(pi u / 2). */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    return mul(this.scale, tan(mul(Math.PI / 2, u)));
  }
  /** log(2 atan(z) / pi) below z = x / scale = 1, log(1 - 2 atan(1/z) / pi) above. */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    const z = div(maximum(x, 0), this.scale);
    return where(lt(z, 1), log(mul(2 / Math.PI, atan(minimum(z, 1)))), log1p(mul(-2 / Math.PI, atan(div(1, maximum(z, 1))))));
  }
  /** log(1 - 2 atan(z) / pi) below z = 1, log(2 atan(1/z) / pi) above (no cancellation far in the tail). */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    const z = div(maximum(x, 0), this.scale);
    return where(lt(z, 1), log1p(mul(-2 / Math.PI, atan(minimum(z, 1)))), log(mul(2 / Math.PI, atan(div(1, maximum(z, 1))))));
  }
  /** scale / tan(pi q / 2), q = exp(logQ). */
  override isfLog(logQ: Value): Value {
    return div(this.scale, tan(mul(Math.PI / 2, exp(logQ))));
  }
}

/** HalfCauchy(scale = 1). The scale may be a number, array or tensor. */
export function HalfCauchy<S extends ValueLike = number>(scale: S = 1 as S): HalfCauchyDistribution & Typed<DrawType<[S]>> {
  return new HalfCauchyDistribution(scale);
}
