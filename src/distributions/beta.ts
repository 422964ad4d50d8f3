/**
 * The beta distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { betainc, logBetaPdf, logBetainc, logBetaincc } from '../core/special.js';
import { type Value, type ValueLike, add, asFloat, div, maximum, minimum, mul, square } from '../core/value.js';
import { positive, unitInterval } from './constraints.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, param, valueArg } from './distribution.js';
import { logDensity } from './draws.js';
import { FLOAT32_TINY, broadcastValues, drawWithGradient, logStandardGamma, logStandardGammas, standardGammaLogGrad } from './gamma.js';

/** Largest float32 below 1; float32 beta draws are clamped into [FLOAT32_TINY, this]. */
const FLOAT32_BELOW_ONE = 1 - 2 ** -24;

/** sigmoid(d) for a float64 log-odds, stable for large |d|. */
function logistic(d: number): number {
  return d >= 0 ? 1 / (1 + Math.exp(-d)) : Math.exp(d) / (1 + Math.exp(d));
}

/**
 * Beta(concentration1, concentration0): density
 * x^(a-1) (1-x)^(b-1) / B(a, b) on [0, 1], with a = concentration1 and
 * b = concentration0.
 *
 * Draws are G1 / (G1 + G2) with G1 ~ Gamma(a), G2 ~ Gamma(b), formed on the
 * log scale (x = sigmoid(log G1 - log G2)) so that small concentrations do
 * not underflow. With tensor parameters the draw is reparameterised: its
 * gradient is the chain rule through G1 / (G1 + G2) of the gammas' implicit
 * gradients, dx/da = x (1 - x) dlog G1/da and dx/db = -x (1 - x) dlog G2/db.
 */
export class BetaDistribution extends Distribution {
  readonly name = 'Beta';
  readonly support = unitInterval;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** a > 0, the exponent of x. */
  readonly concentration1: Value;
  /** b > 0, the exponent of 1 - x. */
  readonly concentration0: Value;

  constructor(concentration1: ValueLike, concentration0: ValueLike) {
    super();
    this.concentration1 = param('Beta', 'concentration1', concentration1);
    this.concentration0 = param('Beta', 'concentration0', concentration0);
    checkParam('Beta', 'concentration1', this.concentration1, positive);
    checkParam('Beta', 'concentration0', this.concentration0, positive);
    this.batchShape = batchShapeOf('Beta', { concentration1: this.concentration1, concentration0: this.concentration0 });
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const a = this.concentration1;
    const b = this.concentration0;
    const shape = this.shape(sampleShape);
    if (typeof a === 'number' && typeof b === 'number' && shape.length === 0) {
      const x = logistic(logStandardGamma(rng, a) - logStandardGamma(rng, b));
      return Math.min(Math.max(x, Number.MIN_VALUE), 1 - Number.EPSILON / 2);
    }
    const av = broadcastValues('Beta: concentration1', a, shape);
    const bv = broadcastValues('Beta: concentration0', b, shape);
    const l1 = logStandardGammas(rng, av);
    const l2 = logStandardGammas(rng, bv);
    const x = new Float64Array(l1.length);
    const x32 = new Float32Array(l1.length);
    for (let i = 0; i < x.length; i++) {
      x[i] = logistic(l1[i] - l2[i]);
      x32[i] = Math.min(Math.max(x[i], FLOAT32_TINY), FLOAT32_BELOW_ONE);
    }
    if (typeof a === 'number' && typeof b === 'number') return tf.tensor(x32, shape);
    const inputs = [a, b].map((p) => tf.broadcastTo(typeof p === 'number' ? tf.scalar(p) : (asFloat(p) as tf.Tensor), shape));
    return drawWithGradient(inputs, x32, (which) => {
      const g = new Float64Array(x.length);
      for (let i = 0; i < g.length; i++) {
        const w = x[i] * (1 - x[i]);
        g[i] = which === 0 ? w * standardGammaLogGrad(av[i], l1[i]) : -w * standardGammaLogGrad(bv[i], l2[i]);
      }
      return g;
    });
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    // the saddle-point form where both concentrations are large (see logBetaPdf)
    return logDensity(this.support, x, 0.5, (v) => logBetaPdf(this.concentration1, this.concentration0, v));
  }

  override get mean(): Value {
    return div(this.concentration1, add(this.concentration1, this.concentration0));
  }
  override get variance(): Value {
    const a = this.concentration1;
    const b = this.concentration0;
    const s = add(a, b);
    return div(mul(a, b), mul(square(s), add(s, 1)));
  }

  /**
   * I_x(a, b), the regularised incomplete beta (0 below 0, 1 above 1);
   * float64, for tensors differentiable in x exactly and in the
   * concentrations by central differences. No `icdf`: `Truncated` draws by rejection.
   */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return betainc(this.concentration1, this.concentration0, minimum(1, maximum(0, x)));
  }
  /** log I_x(a, b) (Stan's `beta_lcdf`), float64 in log space for numbers and tensors: finite where I underflows. */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    // number concentrations stay numbers: the op holds them and computes no derivative in them
    return logBetainc(this.concentration1, this.concentration0, minimum(1, maximum(0, x)));
  }
  /** log I_{1-x}(b, a) (Stan's `beta_lccdf`), as {@link logCdf} for the upper tail (1 - x is never formed in float32). */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return logBetaincc(this.concentration1, this.concentration0, minimum(1, maximum(0, x)));
  }
}

/** Beta(concentration1, concentration0). Parameters may be numbers, arrays or tensors. */
export function Beta<A extends ValueLike, B extends ValueLike>(concentration1: A, concentration0: B): BetaDistribution & Typed<DrawType<[A, B]>> {
  return new BetaDistribution(concentration1, concentration0);
}
