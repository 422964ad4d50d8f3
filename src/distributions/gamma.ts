/**
 * The gamma distribution, and reparameterised gamma draws shared by the
 * families built from gammas (Beta, StudentT, InverseGamma, Dirichlet).
 *
 * Draws use Marsaglia and Tsang's method (2000), with the boost
 * Gamma(a) = Gamma(a + 1) * U^(1/a) for a < 1, computed on the log scale so
 * that tiny shapes do not underflow. With tensor shape parameters the draws
 * are differentiable by implicit reparameterisation (Figurnov, Mohamed and
 * Mnih, 2018): for z = F^-1(u; a) with F the Gamma(a, 1) cdf,
 * dz/da = -(dF(z; a)/da) / f(z; a), computed in float64 by
 * {@link gammaincDerivShapeRatio}.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { gammainc, gammaincDerivShapeRatio, logGammaPdf, logGammainc, logGammaincc } from '../core/special.js';
import { type Value, type ValueLike, asFloat, broadcastShapes, div, maximum, mul, shapeOf, sizeOf, square } from '../core/value.js';
import { nonnegative, positive } from './constraints.js';
import { Distribution, type DrawType, type Typed, batchShapeOf, checkParam, param, sameShape, valueArg } from './distribution.js';
import { logDensity } from './draws.js';

/** Smallest positive normal float32; float32 gamma draws are clamped up to it. */
export const FLOAT32_TINY = 1.1754943508222875e-38;

/**
 * log z for one draw z ~ Gamma(a, 1), a > 0, in float64 (Marsaglia–Tsang).
 * On the log scale so that shapes far below 1 (whose draws underflow even
 * float64) still give exact results. A shape that is not positive gives NaN.
 */
export function logStandardGamma(rng: Rng, a: number): number {
  if (!(a > 0)) return NaN; // invalid shapes (possible only with validation off) must not loop
  if (a < 1) return logStandardGamma(rng, a + 1) + Math.log(rng.uniform()) / a;
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = rng.uniform();
    const x2 = x * x;
    // cheap squeeze first, then the exact acceptance test
    if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return Math.log(d * v);
  }
}

/**
 * d log z / d a for a draw z ~ Gamma(a, 1) held at its quantile (implicit
 * reparameterisation), given log z. Multiply by z for dz/da.
 */
export function standardGammaLogGrad(a: number, logz: number): number {
  return -gammaincDerivShapeRatio(a, logz);
}

/**
 * Flat float64 values of a parameter broadcast to `shape`, checking that it
 * broadcasts there (and no further). Used by samplers that draw element by
 * element.
 */
export function broadcastValues(what: string, x: Value, shape: readonly number[]): Float64Array {
  const s = shapeOf(x);
  if (!sameShape(broadcastShapes(s, shape, what), shape)) {
    throw new Error(`${what}: a parameter of shape [${s.join(', ')}] does not broadcast to the draw shape [${shape.join(', ')}]`);
  }
  if (typeof x === 'number') return new Float64Array(sizeOf(shape)).fill(x);
  // read outside tf.tidy: a typed array returned from tidy is walked element by element
  const t = tf.broadcastTo(x, shape as number[]);
  const out = Float64Array.from(t.dataSync());
  if (t !== x) t.dispose();
  return out;
}

/** log of Gamma(a_i, 1) draws for each shape a_i, in float64. */
export function logStandardGammas(rng: Rng, alpha: ArrayLike<number>): Float64Array {
  const out = new Float64Array(alpha.length);
  for (let i = 0; i < out.length; i++) out[i] = logStandardGamma(rng, alpha[i]);
  return out;
}

/**
 * A tensor draw from float64 values with a custom gradient: `values` are
 * computed from the parameters `inputs` (all already broadcast to `shape`),
 * and `grads(i)` gives the elementwise derivative of the draw with respect to
 * input `i` (float64, computed only when a gradient is asked for).
 */
export function drawWithGradient(inputs: tf.Tensor[], values: Float32Array, grads: (i: number) => Float64Array): tf.Tensor {
  const shape = inputs[0].shape;
  // the draw is already computed: the forward function only wraps it
  const op = tf.customGrad(() => ({
    value: tf.tensor(values, shape),
    gradFunc: (dy: tf.Tensor) => inputs.map((_, i) => tf.mul(dy, tf.tensor(Float32Array.from(grads(i)), shape))),
  }));
  return op(...inputs);
}

/**
 * Draws z ~ Gamma(alpha, 1) of shape `shape` (alpha must broadcast to it).
 *
 * - `alpha` a number and `shape` `[]`: a float64 number (clamped up to the
 *   smallest positive double, so it is never 0).
 * - otherwise: a float32 tensor of `shape`, clamped up to
 *   {@link FLOAT32_TINY}. When `alpha` is a tensor the draw is
 *   reparameterised: gradients flow to `alpha` by implicit differentiation
 *   of the cdf, dz/dalpha = -(dF(z; alpha)/dalpha) / f(z; alpha).
 *
 * Scale by a rate afterwards (`z / rate`) for Gamma(alpha, rate). Dirichlet
 * draws are `z / sum(z)` over the last axis; for tiny concentrations prefer
 * the log-scale {@link logStandardGammas} and {@link standardGammaLogGrad}.
 * The values of `alpha` are not validated here: they must be positive
 * (the distributions check that when they are built).
 */
export function sampleGamma(rng: Rng, alpha: Value, shape: readonly number[]): Value {
  if (typeof alpha === 'number' && shape.length === 0) return Math.max(Math.exp(logStandardGamma(rng, alpha)), Number.MIN_VALUE);
  const a = broadcastValues('sampleGamma: alpha', alpha, shape);
  const logz = logStandardGammas(rng, a);
  const z = new Float32Array(logz.length);
  for (let i = 0; i < z.length; i++) z[i] = Math.max(Math.exp(logz[i]), FLOAT32_TINY);
  if (typeof alpha === 'number') return tf.tensor(z, shape as number[]);
  const input = tf.broadcastTo(asFloat(alpha) as tf.Tensor, shape as number[]);
  return drawWithGradient([input], z, () => {
    const g = new Float64Array(logz.length);
    for (let i = 0; i < g.length; i++) g[i] = Math.exp(logz[i]) * standardGammaLogGrad(a[i], logz[i]);
    return g;
  });
}

/**
 * Gamma(concentration, rate): density rate^a x^(a-1) e^(-rate x) / Gamma(a)
 * on x >= 0, mean a / rate. Reparameterised in both parameters. At x = 0 the
 * density is its limit, as in Stan, SciPy and PyTorch: +Infinity for a < 1,
 * `rate` for a = 1 (so `Gamma(1, rate)` scores as `Exponential(rate)`, whose
 * support is closed too), 0 for a > 1.
 */
export class GammaDistribution extends Distribution {
  readonly name = 'Gamma';
  readonly support = nonnegative;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** The shape parameter a > 0. */
  readonly concentration: Value;
  /** The inverse scale > 0. */
  readonly rate: Value;

  constructor(concentration: ValueLike, rate: ValueLike = 1) {
    super();
    this.concentration = param('Gamma', 'concentration', concentration);
    this.rate = param('Gamma', 'rate', rate);
    checkParam('Gamma', 'concentration', this.concentration, positive);
    checkParam('Gamma', 'rate', this.rate, positive);
    this.batchShape = batchShapeOf('Gamma', { concentration: this.concentration, rate: this.rate });
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return div(sampleGamma(rng, this.concentration, this.shape(sampleShape)), this.rate);
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    // the saddle-point form for large shapes (see logGammaPdf)
    return logDensity(this.support, x, 1, (v) => logGammaPdf(this.concentration, this.rate, v));
  }

  override get mean(): Value {
    return div(this.concentration, this.rate);
  }
  override get variance(): Value {
    return div(this.concentration, square(this.rate));
  }

  /** P(a, rate x) for x >= 0 (0 below), differentiable in all arguments for tensors; no `icdf`. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    return gammainc(this.concentration, mul(this.rate, maximum(x, 0)));
  }
  /** log P(a, rate x) (Stan's `gamma_lcdf`), in float64 in log space for numbers and tensors alike (finite where P underflows; tensors differentiable, as `logGammainc`). */
  override logCdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'logCdf', xLike);
    // a number concentration stays a number: the op holds it and computes no derivative in it
    return logGammainc(this.concentration, mul(this.rate, maximum(x, 0)));
  }
  /** log Q(a, rate x) (Stan's `gamma_lccdf`), as {@link logCdf} for the upper tail. */
  override logSurvival(xLike: ValueLike): Value {
    const x = valueArg(this, 'logSurvival', xLike);
    return logGammaincc(this.concentration, mul(this.rate, maximum(x, 0)));
  }
}

/** Gamma(concentration, rate = 1). Parameters may be numbers, arrays or tensors. */
export function Gamma<C extends ValueLike, R extends ValueLike = number>(concentration: C, rate: R = 1 as R): GammaDistribution & Typed<DrawType<[C, R]>> {
  return new GammaDistribution(concentration, rate);
}
