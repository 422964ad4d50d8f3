/**
 * The logistic distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, add, div, log, mul, neg, sigmoid, softplus, square, sub } from '../core/value.js';
import { type DrawType, type Typed, valueArg } from './distribution.js';
import { toBatchShape, standardDraws } from './draws.js';
import { LocationScaleDistribution } from './location-scale.js';
import { log1mexp } from './tails.js';

/** A standard logistic draw, logit(u) for uniform u. */
function standardLogistic(rng: Rng): number {
  const u = rng.uniform();
  return Math.log(u) - Math.log1p(-u);
}

/**
 * Logistic(loc, scale): density e^-z / (scale (1 + e^-z)^2), z = (x - loc) / scale
 * (Stan's `logistic`); cdf sigmoid(z). Reparameterised. Its log-cdf and
 * log-survival are -softplus(-z) and -softplus(z), exact in both tails.
 */
export class LogisticDistribution extends LocationScaleDistribution {
  readonly name = 'Logistic';

  constructor(loc: ValueLike = 0, scale: ValueLike = 1) {
    super('Logistic', loc, scale);
  }

  protected standardSample(rng: Rng, shape: readonly number[]): Value {
    return standardDraws(rng, shape, standardLogistic);
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const z = div(sub(x, this.loc), this.scale);
    return neg(add(add(z, mul(2, softplus(neg(z)))), log(this.scale)));
  }

  override get mean(): Value {
    return toBatchShape(this.loc, this.batchShape);
  }
  override get variance(): Value {
    return mul(Math.PI ** 2 / 3, square(this.scale));
  }

  /** sigmoid((x - loc) / scale). */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return sigmoid(div(sub(x, this.loc), this.scale));
  }
  /** loc + scale logit(u). */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    return add(this.loc, mul(this.scale, sub(log(u), log(sub(1, u)))));
  }
  /** -softplus(-z) (Stan's `logistic_lcdf`). */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return neg(softplus(neg(div(sub(x, this.loc), this.scale))));
  }
  /** -softplus(z) (Stan's `logistic_lccdf`). */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return neg(softplus(div(sub(x, this.loc), this.scale)));
  }
  /** loc + scale (logP - log(1 - exp(logP))), finite in any tail. */
  override icdfLog(logP: Value): Value {
    return add(this.loc, mul(this.scale, sub(logP, log1mexp(logP))));
  }
  /** loc - scale (logQ - log(1 - exp(logQ))). */
  override isfLog(logQ: Value): Value {
    return sub(this.loc, mul(this.scale, sub(logQ, log1mexp(logQ))));
  }
}

/** Logistic(loc = 0, scale = 1). Parameters may be numbers, arrays or tensors. */
export function Logistic<L extends ValueLike = number, S extends ValueLike = number>(loc: L = 0 as L, scale: S = 1 as S): LogisticDistribution & Typed<DrawType<[L, S]>> {
  return new LogisticDistribution(loc, scale);
}
