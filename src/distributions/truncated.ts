/**
 * Truncation of a univariate continuous distribution to an interval.
 *
 * @module
 */
import { InvalidParameterError } from '../core/errors.js';
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import {
  type Value,
  type ValueLike,
  add,
  all,
  broadcastShapes,
  div,
  describe,
  isTensor,
  log,
  lt,
  maximum,
  minimum,
  mul,
  shapeOf,
  sizeOf,
  sub,
  toTensor,
} from '../core/value.js';
import { type GreaterThanConstraint, type IntervalConstraint, type LessThanConstraint, greaterThan, interval, lessThan } from './constraints.js';
import { Distribution, type Typed, type ValueOf, param, sameShape, standardUniform, validationEnabled } from './distribution.js';
import { logDensity } from './draws.js';
import { FLOAT32_TINY as FLOAT32_MIN_NORMAL, broadcastValues } from './gamma.js';

/** Bounds of a {@link Truncated} distribution; a missing bound is unbounded. */
export interface TruncationBounds {
  /** Lower bound (default -Infinity). */
  readonly low?: ValueLike;
  /** Upper bound (default Infinity). */
  readonly high?: ValueLike;
}

/** Options of {@link Truncated}. */
export interface TruncatedOptions {
  /**
   * Rounds of rejection sampling (each redraws every element still outside
   * the bounds) before giving up with an error, for bases without
   * `cdf`/`icdf`. Default 1000.
   */
  readonly maxTries?: number;
}

const hasOwnMethod = (d: Distribution, m: 'cdf' | 'icdf'): boolean => d[m] !== Distribution.prototype[m];

/**
 * Truncated(base, { low, high }): `base` (univariate, continuous) restricted
 * to [low, high] and renormalised. Inside the bounds
 * logProb = base.logProb - log(F(high) - F(low)) with F the base cdf;
 * outside it is -Infinity. Bounds may be numbers or tensors (broadcasting
 * with the base batch).
 *
 * Draws are made by inverse cdf, F^-1(F(low) + u (F(high) - F(low))), when
 * the base provides `cdf` and `icdf` (then they are reparameterised if the
 * base is); otherwise by rejection from the base, at most `maxTries` rounds,
 * then an error. The base must have a `cdf` (checked when built, naming the family).
 *
 * Precision: the mass F(high) - F(low) is a difference of cdf values, so a
 * bound deep in the upper tail (F(low) near 1) loses relative precision,
 * much more so with float32 tensors than with numbers.
 */
export class TruncatedDistribution extends Distribution {
  readonly name: string;
  readonly batchShape: readonly number[];
  /** [low, high]; one-sided (x > low or x < high) when a bound is missing, so gradient-based samplers map it with exp, not a sigmoid onto an infinite interval. */
  readonly support: IntervalConstraint | GreaterThanConstraint | LessThanConstraint;
  override readonly hasRsample: boolean;
  /** Lower bound (-Infinity when not given). */
  readonly low: Value;
  /** Upper bound (Infinity when not given). */
  readonly high: Value;
  /** True when draws use the base's inverse cdf (else rejection). */
  readonly usesInverseCdf: boolean;
  private readonly maxTries: number;
  private readonly hasLow: boolean;
  private readonly hasHigh: boolean;

  /**
   * @param base - a univariate continuous distribution
   * @param bounds - `{ low?, high? }`, at least one of them
   * @param options - see {@link TruncatedOptions}
   */
  constructor(
    readonly base: Distribution,
    bounds: TruncationBounds,
    options: TruncatedOptions = {},
  ) {
    super();
    if (!(base instanceof Distribution)) throw new TypeError(`Truncated: base must be a distribution, got ${describe(base)}`);
    this.name = `Truncated(${base.name})`;
    if (base.eventShape.length !== 0 || base.isDiscrete) {
      throw new TypeError(`${this.name}: base must be univariate and continuous, got event shape [${base.eventShape.join(', ')}]${base.isDiscrete ? ' (discrete)' : ''}`);
    }
    if (!hasOwnMethod(base, 'cdf')) {
      throw new TypeError(`${this.name}: ${base.name} has no cdf, so the truncated density cannot be normalised; truncate a family with a cdf (Normal, StudentT, Cauchy, Gamma, Beta, LogNormal, Exponential, ...)`);
    }
    const b = bounds ?? {};
    this.hasLow = b.low !== undefined;
    this.hasHigh = b.high !== undefined;
    if (!this.hasLow && !this.hasHigh) throw new TypeError(`${this.name}: give at least one of low or high`);
    this.low = this.hasLow ? param(this.name, 'low', b.low as ValueLike) : -Infinity;
    this.high = this.hasHigh ? param(this.name, 'high', b.high as ValueLike) : Infinity;
    if (validationEnabled() && !all(lt(this.low, this.high))) {
      throw new InvalidParameterError(this.name, 'low', `${this.name}: parameter low must be below high, got low = ${fmt(this.low)} and high = ${fmt(this.high)}`);
    }
    const maxTries = options.maxTries ?? 1000;
    if (!(Number.isInteger(maxTries) && maxTries >= 1)) throw new RangeError(`${this.name}: option maxTries must be a positive integer, got ${maxTries}`);
    this.maxTries = maxTries;
    this.batchShape = broadcastShapes(
      broadcastShapes(base.batchShape, shapeOf(this.low), `${this.name}: batch shapes of base and low`),
      shapeOf(this.high),
      `${this.name}: batch shapes of base and high`,
    );
    this.support = !this.hasHigh ? greaterThan(this.low) : !this.hasLow ? lessThan(this.high) : interval(this.low, this.high);
    this.usesInverseCdf = hasOwnMethod(base, 'cdf') && hasOwnMethod(base, 'icdf');
    this.hasRsample = this.usesInverseCdf && base.hasRsample;
  }

  /** F(low) (0 when unbounded below). */
  private cdfLow(): Value {
    return this.hasLow ? this.base.cdf(this.low) : 0;
  }
  /** F(high) (1 when unbounded above). */
  private cdfHigh(): Value {
    return this.hasHigh ? this.base.cdf(this.high) : 1;
  }

  /** log(F(high) - F(low)), the log-probability of the interval under the base. */
  logMass(): Value {
    return log(sub(this.cdfHigh(), this.cdfLow()));
  }

  logProb(x: Value): Value {
    // numbers in, numbers out on the float64 path; tensors are tidied
    return typeof x === 'number' ? this.logProbOf(x) : tf.tidy(() => toTensor(this.logProbOf(x)));
  }

  private logProbOf(x: Value): Value {
    const lo = this.low;
    const hi = this.high;
    // a point inside the bounds, to evaluate safely where x is outside
    const inside = this.hasLow && this.hasHigh ? mul(0.5, add(lo, hi)) : this.hasLow ? lo : hi;
    const logMass = this.logMass();
    return logDensity(this.support, x, inside, (v) => sub(this.base.logProb(v), logMass));
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const shape = this.shape(sampleShape);
    if (this.usesInverseCdf) return shape.length === 0 ? this.inverseCdfSample(rng, shape) : tf.tidy(() => toTensor(this.inverseCdfSample(rng, shape)));
    return this.rejectionSample(rng, sampleShape, shape);
  }

  /** F^-1(F(low) + u (F(high) - F(low))) for uniform u. */
  private inverseCdfSample(rng: Rng, shape: readonly number[]): Value {
    const flo = this.cdfLow();
    const fhi = this.cdfHigh();
    let p = add(flo, mul(standardUniform(rng, shape), sub(fhi, flo)));
    // float32 rounding can reach F(high) = 1 (or leave [F(low), F(high)]): keep p strictly inside (0, 1)
    p = minimum(maximum(p, flo), fhi);
    if (typeof p !== 'number') p = tf.clipByValue(p, FLOAT32_MIN_NORMAL, 1 - 2 ** -24);
    // rounding may also step just outside the bounds; clamp
    return minimum(maximum(this.base.icdf(p), this.low), this.high);
  }

  private rejectionSample(rng: Rng, sampleShape: readonly number[], shape: readonly number[]): Value {
    const base = sameShape(this.base.batchShape, this.batchShape) ? this.base : this.base.expand(this.batchShape);
    const scalar = shape.length === 0 && typeof this.low === 'number' && typeof this.high === 'number';
    const lo = broadcastValues(`${this.name}: low`, this.low, shape);
    const hi = broadcastValues(`${this.name}: high`, this.high, shape);
    const out = new Float64Array(sizeOf(shape));
    const done = new Uint8Array(out.length);
    let left = out.length;
    for (let round = 0; round < this.maxTries && left > 0; round++) {
      const draw = base.sample(rng, sampleShape);
      const d = typeof draw === 'number' ? [draw] : draw.dataSync();
      if (isTensor(draw)) draw.dispose();
      for (let i = 0; i < out.length; i++) {
        if (!done[i] && d[i] >= lo[i] && d[i] <= hi[i]) {
          out[i] = d[i];
          done[i] = 1;
          left--;
        }
      }
    }
    if (left > 0) {
      throw new Error(
        `${this.name}: rejection sampling found no draw inside [low, high] after ${this.maxTries} tries for ${left} of ${out.length} elements; ` +
          `${this.base.name} has no cdf/icdf for inverse-cdf sampling, so widen the bounds or raise maxTries`,
      );
    }
    return scalar ? out[0] : tf.tensor(Float32Array.from(out), shape as number[]);
  }

  /** (F(x) - F(low)) / (F(high) - F(low)), clamped to [0, 1]; needs the base cdf. */
  override cdf(x: Value): Value {
    const flo = this.cdfLow();
    const fx = this.base.cdf(minimum(maximum(x, this.low), this.high));
    return div(sub(fx, flo), sub(this.cdfHigh(), flo));
  }

  /** F^-1(F(low) + u (F(high) - F(low))); needs the base cdf and icdf. */
  override icdf(u: Value): Value {
    const flo = this.cdfLow();
    return this.base.icdf(add(flo, mul(u, sub(this.cdfHigh(), flo))));
  }
}

function fmt(v: Value): string {
  return typeof v === 'number' ? String(v) : describe(v);
}

/**
 * Truncated(base, { low?, high? }, options?): `base` (univariate, continuous)
 * restricted to [low, high] and renormalised.
 */
export function Truncated<D extends Distribution>(base: D, bounds: TruncationBounds, options?: TruncatedOptions): TruncatedDistribution & Typed<ValueOf<D>> {
  return new TruncatedDistribution(base, bounds, options);
}
