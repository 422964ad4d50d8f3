/**
 * The log-normal distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, add, exp, expm1, gt, log, mul, square, sub, where } from '../core/value.js';
import { positive } from './constraints.js';
import { Distribution, type DrawType, type Typed, checkParam, param, valueArg } from './distribution.js';
import { logDensity } from './draws.js';
import { NormalDistribution } from './normal.js';

/**
 * LogNormal(loc, scale): exp(X) for X ~ Normal(loc, scale); density
 * Normal(log x; loc, scale) / x on x > 0. Reparameterised.
 */
export class LogNormalDistribution extends Distribution {
  readonly name = 'LogNormal';
  readonly support = positive;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** Mean of log x. */
  readonly loc: Value;
  /** Standard deviation of log x, > 0. */
  readonly scale: Value;
  private readonly base: NormalDistribution;

  constructor(loc: ValueLike = 0, scale: ValueLike = 1) {
    super();
    this.loc = param('LogNormal', 'loc', loc);
    this.scale = param('LogNormal', 'scale', scale);
    checkParam('LogNormal', 'scale', this.scale, positive);
    this.base = new NormalDistribution(this.loc, this.scale);
    this.batchShape = this.base.batchShape;
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return exp(this.base.sample(rng, sampleShape));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    return logDensity(this.support, x, 1, (v) => {
      const lx = log(v);
      return sub(this.base.logProb(lx), lx);
    });
  }

  override get mean(): Value {
    return exp(add(this.loc, mul(0.5, square(this.scale))));
  }
  override get variance(): Value {
    const s2 = square(this.scale);
    return mul(expm1(s2), exp(add(mul(2, this.loc), s2)));
  }

  /** Phi((log x - loc) / scale) for x > 0, else 0. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    const positive = gt(x, 0);
    return where(positive, this.base.cdf(log(where(positive, x, 1))), 0);
  }
  /** exp(loc + scale Phi^-1(u)). */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    return exp(this.base.icdf(u));
  }
  /** log Phi((log x - loc) / scale) for x > 0, else -Infinity (tail-accurate, as Normal's). */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    const positive = gt(x, 0);
    return where(positive, this.base.logCdf(log(where(positive, x, 1))), -Infinity);
  }
  /** log Phi((loc - log x) / scale) for x > 0, else 0. */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    const positive = gt(x, 0);
    return where(positive, this.base.logSurvival(log(where(positive, x, 1))), 0);
  }
  override icdfLog(logP: Value): Value {
    return exp(this.base.icdfLog(logP));
  }
  override isfLog(logQ: Value): Value {
    return exp(this.base.isfLog(logQ));
  }
}

/** LogNormal(loc = 0, scale = 1). Parameters may be numbers, arrays or tensors. */
export function LogNormal<L extends ValueLike = number, S extends ValueLike = number>(loc: L = 0 as L, scale: S = 1 as S): LogNormalDistribution & Typed<DrawType<[L, S]>> {
  return new LogNormalDistribution(loc, scale);
}
