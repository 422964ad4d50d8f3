/**
 * The exponential distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, div, expm1, log, log1p, maximum, mul, neg, square, sub } from '../core/value.js';
import { nonnegative, positive } from './constraints.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, param, valueArg } from './distribution.js';
import { logDensity, standardDraws, standardExponential } from './draws.js';
import { log1mexp } from './tails.js';

/** Exponential(rate): density rate e^(-rate x) on x >= 0, mean 1 / rate. */
export class ExponentialDistribution extends Distribution {
  readonly name = 'Exponential';
  readonly support = nonnegative;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** The rate (inverse scale) > 0. */
  readonly rate: Value;

  constructor(rate: ValueLike = 1) {
    super();
    this.rate = param('Exponential', 'rate', rate);
    checkParam('Exponential', 'rate', this.rate, positive);
    this.batchShape = batchShapeOf('Exponential', { rate: this.rate });
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return div(standardDraws(rng, this.shape(sampleShape), standardExponential), this.rate);
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    return logDensity(this.support, x, 0, (v) => sub(log(this.rate), mul(this.rate, v)));
  }

  override get mean(): Value {
    return div(1, this.rate);
  }
  override get variance(): Value {
    return div(1, square(this.rate));
  }

  /** 1 - exp(-rate x) for x >= 0, else 0. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return maximum(0, neg(expm1(neg(mul(this.rate, x)))));
  }
  /** -log(1 - u) / rate. */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    return div(neg(log1p(neg(u))), this.rate);
  }
  /** log(1 - exp(-rate x)) for x >= 0, else -Infinity. */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return log1mexp(neg(mul(this.rate, maximum(x, 0))));
  }
  /** -rate x for x >= 0, else 0 (exact in any tail). */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return neg(mul(this.rate, maximum(x, 0)));
  }
  /** -log(1 - exp(logP)) / rate. */
  override icdfLog(logP: Value): Value {
    return div(neg(log1mexp(logP)), this.rate);
  }
  /** -logQ / rate (exact in any tail). */
  override isfLog(logQ: Value): Value {
    return div(neg(logQ), this.rate);
  }
}

/** Exponential(rate = 1). The rate may be a number, array or tensor. */
export function Exponential<R extends ValueLike = number>(rate: R = 1 as R): ExponentialDistribution & Typed<DrawType<[R]>> {
  return new ExponentialDistribution(rate);
}
