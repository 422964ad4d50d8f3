/**
 * The normal (Gaussian) distribution.
 *
 * @module
 */
import { fastConstructor } from '../core/fast-class.js';
import type { Rng } from '../core/rng.js';
import { normalCdf, normalIcdf } from '../core/special.js';
import { type Value, type ValueLike, add, log, mul, square, sub, div } from '../core/value.js';
import { type DrawType, type Typed, standardNormal, valueArg } from './distribution.js';
import { logNormalCdf, normalIcdfLog } from './tails.js';
import { LocationScaleDistribution } from './location-scale.js';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Normal(loc, scale): density exp(-(x-loc)^2 / (2 scale^2)) / (scale sqrt(2 pi)). */
export class NormalDistribution extends LocationScaleDistribution {
  // on the prototype, not a field (see LocationScaleDistribution)
  static {
    Object.defineProperty(this.prototype, 'name', { value: 'Normal', writable: true, configurable: true });
  }
  declare readonly name: 'Normal';

  constructor(loc: ValueLike, scale: ValueLike) {
    super('Normal', loc, scale);
  }

  protected standardSample(rng: Rng, shape: readonly number[]): Value {
    return standardNormal(rng, shape);
  }

  logProb(xLike: ValueLike): Value {
    const { loc, scale } = this;
    if (typeof xLike === 'number' && typeof loc === 'number' && typeof scale === 'number') {
      // (all numbers: the arithmetic below without the number-or-tensor ops, bit for bit; an observation of a
      // per-particle model is scored here)
      const c = loc === 0 ? xLike : xLike - loc;
      const zn = scale === 1 ? c : c / scale;
      return -0.5 * (zn * zn) - (Math.log(scale) + HALF_LOG_2PI);
    }
    const x = valueArg(this, 'logProb', xLike);
    // (standard normal parameters skip their no-op tensor ops)
    const centered = this.loc === 0 ? x : sub(x, this.loc);
    const z = this.scale === 1 ? centered : div(centered, this.scale);
    return sub(mul(-0.5, square(z)), add(log(this.scale), HALF_LOG_2PI));
  }

  override get mean(): Value {
    return this.loc;
  }
  override get variance(): Value {
    return square(this.scale);
  }

  /** Phi((x - loc) / scale), accurate in relative terms in both tails. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return normalCdf(div(sub(x, this.loc), this.scale));
  }
  /** loc + scale * Phi^-1(u). */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    return add(this.loc, mul(this.scale, normalIcdf(u)));
  }
  /** log Phi((x - loc) / scale) (Stan's `normal_lcdf`), finite far in the lower tail: logCdf(-40) of Normal(0, 1) is -804.608... */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return logNormalCdf(div(sub(x, this.loc), this.scale));
  }
  /** log Phi((loc - x) / scale) (Stan's `normal_lccdf`), finite far in the upper tail. */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return logNormalCdf(div(sub(this.loc, x), this.scale));
  }
  /** loc + scale Phi^-1(exp(logP)), finite where exp(logP) underflows. */
  override icdfLog(logP: Value): Value {
    return add(this.loc, mul(this.scale, normalIcdfLog(logP)));
  }
  /** loc - scale Phi^-1(exp(logQ)), the inverse survival function, finite far in the upper tail. */
  override isfLog(logQ: Value): Value {
    return sub(this.loc, mul(this.scale, normalIcdfLog(logQ)));
  }
}

// (models build one at every site they visit: its constructor must stay optimisable under tsx, `core/fast-class.ts`)
fastConstructor(NormalDistribution);

/** Normal(loc, scale). Parameters may be numbers, arrays or tensors. */
export function Normal<L extends ValueLike, S extends ValueLike>(loc: L, scale: S): NormalDistribution & Typed<DrawType<[L, S]>> {
  return new NormalDistribution(loc, scale);
}
