/**
 * The Cauchy and half-Cauchy distributions.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, add, atan, div, log, log1p, maximum, mul, neg, square, sub } from '../core/value.js';
import type { DrawType, Typed } from './distribution.js';
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

  logProb(x: Value): Value {
    return logDensity(this.support, x, 0, (v) => neg(add(log1p(square(div(sub(v, this.loc), this.scale))), add(log(this.scale), LOG_PI))));
  }

  override get mean(): Value {
    throw undefinedMoment(this.name, 'mean');
  }
  override get variance(): Value {
    throw undefinedMoment(this.name, 'variance');
  }

  /** 1/2 + atan((x - loc) / scale) / pi. */
  override cdf(x: Value): Value {
    return add(0.5, div(atan(div(sub(x, this.loc), this.scale)), Math.PI));
  }
  /** loc + scale tan(pi (u - 1/2)). */
  override icdf(u: Value): Value {
    return add(this.loc, mul(this.scale, tan(mul(Math.PI, sub(u, 0.5)))));
  }
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
  override cdf(x: Value): Value {
    return mul(2 / Math.PI, atan(div(maximum(x, 0), this.scale)));
  }
  /** scale tan(pi u / 2). */
  override icdf(u: Value): Value {
    return mul(this.scale, tan(mul(Math.PI / 2, u)));
  }
}

/** HalfCauchy(scale = 1). The scale may be a number, array or tensor. */
export function HalfCauchy<S extends ValueLike = number>(scale: S = 1 as S): HalfCauchyDistribution & Typed<DrawType<[S]>> {
  return new HalfCauchyDistribution(scale);
}
