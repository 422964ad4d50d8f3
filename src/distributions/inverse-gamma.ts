/**
 * The inverse-gamma distribution.
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { SADDLE_NUMBER_MIN, SADDLE_TENSOR_MIN, gammaincc, lgamma, logGammaPdf, logGammainc, logGammaincNumber, logGammaincc, logGammainccNumber } from '../core/special.js';
import { valueOp } from './tails.js';
import { type Value, type ValueLike, add, div, gt, log, mul, square, sub, where } from '../core/value.js';
import { positive } from './constraints.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, param, valueArg } from './distribution.js';
import { logDensity } from './draws.js';
import { sampleGamma } from './gamma.js';

/**
 * InverseGamma(concentration, rate): 1 / X for X ~ Gamma(concentration, rate);
 * density rate^a x^(-a-1) e^(-rate / x) / Gamma(a) on x > 0. Reparameterised
 * in both parameters (through {@link sampleGamma}). The mean is
 * rate / (a - 1), infinite for a <= 1; the variance
 * rate^2 / ((a-1)^2 (a-2)), infinite for a <= 2.
 */
export class InverseGammaDistribution extends Distribution {
  readonly name = 'InverseGamma';
  readonly support = positive;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** The shape parameter a > 0. */
  readonly concentration: Value;
  /** The rate of the underlying gamma (the scale of this one), > 0. */
  readonly rate: Value;

  constructor(concentration: ValueLike, rate: ValueLike = 1) {
    super();
    this.concentration = param('InverseGamma', 'concentration', concentration);
    this.rate = param('InverseGamma', 'rate', rate);
    checkParam('InverseGamma', 'concentration', this.concentration, positive);
    checkParam('InverseGamma', 'rate', this.rate, positive);
    this.batchShape = batchShapeOf('InverseGamma', { concentration: this.concentration, rate: this.rate });
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return div(this.rate, sampleGamma(rng, this.concentration, this.shape(sampleShape)));
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const a = this.concentration;
    const b = this.rate;
    // large shapes: the gamma density's saddle-point form at 1 / x, times the Jacobian 1 / x^2 (see logGammaPdf)
    const small = typeof a === 'number' && (a < SADDLE_TENSOR_MIN || (typeof b === 'number' && typeof x === 'number' && a < SADDLE_NUMBER_MIN));
    if (!small) return logDensity(this.support, x, 1, (v) => sub(logGammaPdf(a, b, div(1, v)), mul(2, log(v))));
    const norm = sub(mul(a, log(b)), lgamma(a));
    return logDensity(this.support, x, 1, (v) => sub(norm, add(mul(add(a, 1), log(v)), div(b, v))));
  }

  override get mean(): Value {
    const a = this.concentration;
    return where(gt(a, 1), div(this.rate, sub(a, 1)), Infinity);
  }
  override get variance(): Value {
    const a = this.concentration;
    const am1 = sub(a, 1);
    return where(gt(a, 2), div(square(this.rate), mul(square(am1), sub(a, 2))), Infinity);
  }

  /** Q(a, rate / x) for x > 0 (0 below), differentiable in all arguments for tensors; no `icdf`. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    const positive = gt(x, 0);
    return where(positive, gammaincc(this.concentration, div(this.rate, where(positive, x, 1))), 0);
  }
  /** log Q(a, rate / x) for x > 0 (float64 in log space for numbers), else -Infinity. */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    return valueOp(
      [this.concentration, this.rate, x],
      (a, b, v) => (v > 0 ? logGammainccNumber(a, b / v) : -Infinity),
      (a, b, v) => {
        const positive = gt(v, 0);
        return where(positive, logGammaincc(a, div(b, where(positive, v, 1))), -Infinity);
      },
    );
  }
  /** log P(a, rate / x) for x > 0, else 0. */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return valueOp(
      [this.concentration, this.rate, x],
      (a, b, v) => (v > 0 ? logGammaincNumber(a, b / v) : 0),
      (a, b, v) => {
        const positive = gt(v, 0);
        return where(positive, logGammainc(a, div(b, where(positive, v, 1))), 0);
      },
    );
  }
}

/** InverseGamma(concentration, rate = 1). Parameters may be numbers, arrays or tensors. */
export function InverseGamma<C extends ValueLike, R extends ValueLike = number>(concentration: C, rate: R = 1 as R): InverseGammaDistribution & Typed<DrawType<[C, R]>> {
  return new InverseGammaDistribution(concentration, rate);
}
