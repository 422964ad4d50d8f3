/**
 * The Laplace (double exponential) distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, abs, add, div, exp, log, log1p, lt, maximum, minimum, mul, neg, square, sub, where } from '../core/value.js';
import { log1mexp } from './tails.js';
import { type DrawType, type Typed, valueArg } from './distribution.js';
import { LocationScaleDistribution } from './location-scale.js';
import { toBatchShape, logDensity, standardDraws, standardLaplace } from './draws.js';

const LOG2 = Math.log(2);

/** Laplace(loc, scale): density exp(-|x - loc| / scale) / (2 scale). Reparameterised. */
export class LaplaceDistribution extends LocationScaleDistribution {
  readonly name = 'Laplace';

  constructor(loc: ValueLike = 0, scale: ValueLike = 1) {
    super('Laplace', loc, scale);
  }

  protected standardSample(rng: Rng, shape: readonly number[]): Value {
    return standardDraws(rng, shape, standardLaplace);
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    return logDensity(this.support, x, 0, (v) => neg(add(div(abs(sub(v, this.loc)), this.scale), add(log(this.scale), LOG2))));
  }

  override get mean(): Value {
    return toBatchShape(this.loc, this.batchShape);
  }
  override get variance(): Value {
    return mul(2, square(this.scale));
  }

  /** exp(z) / 2 below the location, 1 - exp(-z) / 2 above it, z = (x - loc) / scale. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    const z = div(sub(x, this.loc), this.scale);
    return where(lt(z, 0), mul(0.5, exp(z)), sub(1, mul(0.5, exp(neg(z)))));
  }
  /** loc + scale log(2u) for u < 1/2, loc - scale log(2(1 - u)) above. */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    const below = lt(u, 0.5);
    const lower = add(this.loc, mul(this.scale, log(mul(2, where(below, u, 0.25)))));
    const upper = sub(this.loc, mul(this.scale, log(mul(2, sub(1, where(below, 0.75, u))))));
    return where(below, lower, upper);
  }
  /** z - log 2 below the location, log(1 - exp(-z) / 2) above (exact in the tails), z = (x - loc) / scale. */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return laplaceLogCdf(div(sub(x, this.loc), this.scale));
  }
  /** The log-cdf at the reflected point: -z - log 2 above the location. */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return laplaceLogCdf(div(sub(this.loc, x), this.scale));
  }
  /** loc + scale (logP + log 2) in the lower half, finite in any tail. */
  override icdfLog(logP: Value): Value {
    return add(this.loc, mul(this.scale, laplaceQuantileLog(logP)));
  }
  /** loc - scale (logQ + log 2) in the upper half, finite in any tail. */
  override isfLog(logQ: Value): Value {
    return sub(this.loc, mul(this.scale, laplaceQuantileLog(logQ)));
  }
}

/** log F(z) of the standard Laplace: z - log 2 for z < 0, log(1 - exp(-z) / 2) above (each branch on its own half). */
function laplaceLogCdf(z: Value): Value {
  return where(lt(z, 0), sub(minimum(z, 0), LOG2), log1p(mul(-0.5, exp(neg(maximum(z, 0))))));
}

/** The standard Laplace quantile at a log-probability: lp + log 2 in the lower half, -log(2 (1 - p)) above. */
function laplaceQuantileLog(lp: Value): Value {
  const lower = lt(lp, -LOG2);
  return where(lower, add(minimum(lp, -LOG2), LOG2), neg(add(LOG2, log1mexp(maximum(lp, -LOG2)))));
}

/** Laplace(loc = 0, scale = 1). Parameters may be numbers, arrays or tensors. */
export function Laplace<L extends ValueLike = number, S extends ValueLike = number>(loc: L = 0 as L, scale: S = 1 as S): LaplaceDistribution & Typed<DrawType<[L, S]>> {
  return new LaplaceDistribution(loc, scale);
}
