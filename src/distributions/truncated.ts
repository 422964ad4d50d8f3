/**
 * Truncation of a univariate distribution to an interval: continuous bases
 * renormalised in log space with the base's tail-accurate log-CDFs, discrete
 * bases (Stan's `T[low, high]` on a count, bounds inclusive) with exact
 * normalisers.
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
  describe,
  exp,
  isTensor,
  log,
  log1p,
  logAddExp,
  lt,
  maximum,
  minimum,
  mul,
  neg,
  shapeOf,
  sizeOf,
  sub,
  toTensor,
  where,
} from '../core/value.js';
import { type Constraint, type GreaterThanConstraint, type IntervalConstraint, type LessThanConstraint, greaterThan, integerInterval, interval, lessThan, nonnegative, positive, positiveFinite } from './constraints.js';
import { Distribution, type Typed, type ValueOf, param, sameShape, standardUniform, validationEnabled, valueArg } from './distribution.js';
import { logDensity } from './draws.js';
import { broadcastValues } from './gamma.js';
import { batchValues } from './samplers.js';
import { LN2, logDiffExp } from './tails.js';
import { discreteLogMass, sampleDiscreteByWalk } from './truncated-discrete.js';

/** Bounds of a {@link Truncated} distribution; a missing bound is unbounded. */
export interface TruncationBounds {
  /** Lower bound (default -Infinity); inclusive for a discrete base. */
  readonly low?: ValueLike;
  /** Upper bound (default Infinity); inclusive for a discrete base. */
  readonly high?: ValueLike;
}

/** Options of {@link Truncated}. */
export interface TruncatedOptions {
  /**
   * Rounds of rejection sampling (each redraws every element still outside
   * the bounds) before giving up with an error, for continuous bases without
   * `icdf` whose interval holds at least 5% of the mass (below that, draws
   * invert the cdf numerically). Default 1000.
   */
  readonly maxTries?: number;
}

const hasOwnMethod = (d: Distribution, m: 'cdf' | 'icdf'): boolean => d[m] !== Distribution.prototype[m];

/** Below this mass, continuous bases without `icdf` are drawn by numerical inversion of the log-cdf instead of rejection. */
const REJECTION_MIN_MASS = 0.05;

/**
 * Truncated(base, { low, high }): `base` (univariate) restricted to
 * [low, high] and renormalised. Inside the bounds
 * logProb = base.logProb - log P(low <= X <= high); outside it is -Infinity.
 *
 * Continuous bases: the log mass is a log-difference of the base's
 * `logCdf` (both bounds in the lower half) or `logSurvival` (low in the
 * upper half), so a truncation far in a tail keeps its precision:
 * `Truncated(Normal(0, 1), { low: 40 })` has log mass `normal_lccdf(40)` =
 * -804.608... Draws invert the cdf in log space,
 * `F^-1(F(low) + u (F(high) - F(low)))` through `icdfLog` (or through the
 * survival function and `isfLog` in the upper half), when the base has
 * `icdf` (then they are reparameterised if the base is); otherwise by
 * rejection from the base while the interval holds at least 5% of the mass,
 * and by bisection on the log-cdf below that. Bounds may be numbers or
 * tensors (broadcasting with the base batch).
 *
 * Discrete bases (`Poisson`, `Binomial`, `NegativeBinomial`, `Geometric`,
 * ...): Stan's convention, both bounds inclusive (`low = high` is a point
 * mass); bounds are integer numbers (or infinite). The normaliser is a sum of
 * the mass function over the bounds when they enclose at most 4096 values
 * (exact, and plain tensor ops for tensor parameters), else a
 * log-difference of the base's log-CDFs. Draws walk the mass function from
 * the bound in the tail (exact inverse cdf), or reject from the base when the
 * interval holds at least a quarter of the mass. A finite range enumerates
 * (exact enumeration, Gibbs over it).
 *
 * Bounds are checked when built: low must be below high (at most high for a
 * discrete base), and a bound outside the base's support that leaves no mass
 * is an error naming it.
 */
export class TruncatedDistribution extends Distribution {
  readonly name: string;
  readonly batchShape: readonly number[];
  /** [low, high]; one-sided (x > low or x < high) when a bound is missing, so gradient-based samplers map it with exp, not a sigmoid onto an infinite interval. Integers low..high for a discrete base. */
  readonly support: IntervalConstraint | GreaterThanConstraint | LessThanConstraint;
  override readonly hasRsample: boolean;
  /** Lower bound (-Infinity when not given). */
  readonly low: Value;
  /** Upper bound (Infinity when not given). */
  readonly high: Value;
  /** True when draws use the base's inverse cdf (continuous bases with `icdf`). */
  readonly usesInverseCdf: boolean;
  private readonly maxTries: number;
  private readonly hasLow: boolean;
  private readonly hasHigh: boolean;
  /** For a discrete base: the bounds clipped to the base's support (numbers). */
  private readonly range: { readonly low: number; readonly high: number; readonly supportLow: number } | undefined;
  private enumerated: Value[] | undefined;
  private massCache: number | undefined;
  private massIsNumber: boolean | undefined;
  private boundCache: { sLow: Value; fLow: Value; fHigh: Value; sHigh: Value } | undefined;
  /** [low, high] with both ends included, where the density is evaluated (a draw clamped onto a bound has its density, as in Stan). */
  private readonly closedSupport: Constraint;

  /**
   * @param base - a univariate distribution with a cdf
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
    if (base.eventShape.length !== 0) {
      throw new TypeError(`${this.name}: base must be univariate, got event shape [${base.eventShape.join(', ')}]`);
    }
    if (!hasOwnMethod(base, 'cdf')) {
      throw new TypeError(
        `${this.name}: ${base.name} has no cdf, so the truncated density cannot be normalised; truncate a family with a cdf (Normal, StudentT, Cauchy, Gamma, Beta, LogNormal, Exponential, Poisson, Binomial, NegativeBinomial, Geometric, ...)`,
      );
    }
    const b = bounds ?? {};
    this.hasLow = b.low !== undefined;
    this.hasHigh = b.high !== undefined;
    if (!this.hasLow && !this.hasHigh) throw new TypeError(`${this.name}: give at least one of low or high`);
    this.low = this.hasLow ? param(this.name, 'low', b.low as ValueLike) : -Infinity;
    this.high = this.hasHigh ? param(this.name, 'high', b.high as ValueLike) : Infinity;
    const maxTries = options.maxTries ?? 1000;
    if (!(Number.isInteger(maxTries) && maxTries >= 1)) throw new RangeError(`${this.name}: option maxTries must be a positive integer, got ${maxTries}`);
    this.maxTries = maxTries;
    this.batchShape = broadcastShapes(
      broadcastShapes(base.batchShape, shapeOf(this.low), `${this.name}: batch shapes of base and low`),
      shapeOf(this.high),
      `${this.name}: batch shapes of base and high`,
    );
    if (base.isDiscrete) {
      this.range = this.discreteRange();
      this.support = integerInterval(this.range.low, this.range.high);
      this.closedSupport = this.support;
      this.usesInverseCdf = false;
      this.hasRsample = false;
      return;
    }
    this.range = undefined;
    if (validationEnabled()) this.checkContinuousBounds();
    // the support is the bounds within the base's own support (Truncated(Gamma, { high: 1 }) lives on (0, 1), not
    // below 1): the unconstraining map of MCMC and VI then reaches only points of positive density
    const own = supportBounds(base.support);
    const low = own.lower !== undefined && typeof this.low === 'number' ? Math.max(this.low, own.lower) : this.low;
    const high = own.upper !== undefined && typeof this.high === 'number' ? Math.min(this.high, own.upper) : this.high;
    const hasLow = low !== -Infinity;
    const hasHigh = high !== Infinity;
    this.support = !hasHigh ? greaterThan(low) : !hasLow ? lessThan(high) : interval(low, high);
    this.closedSupport = hasLow && hasHigh ? this.support : interval(low, high);
    this.usesInverseCdf = hasOwnMethod(base, 'icdf');
    this.hasRsample = this.usesInverseCdf && base.hasRsample;
  }

  /** low < high, and a number bound outside the support must leave mass. */
  private checkContinuousBounds(): void {
    if (!all(lt(this.low, this.high))) {
      throw new InvalidParameterError(this.name, 'low', `${this.name}: parameter low must be below high, got low = ${fmt(this.low)} and high = ${fmt(this.high)}`);
    }
    const outside = (v: Value): boolean => typeof v === 'number' && this.base.support.check(v) === false;
    if (this.hasHigh && outside(this.high) && this.base.logCdf(this.high) === -Infinity) {
      throw new InvalidParameterError(this.name, 'high', `${this.name}: parameter high = ${fmt(this.high)} is below the support of ${this.base.name} (${this.base.support.name}): no mass is left`);
    }
    if (this.hasLow && outside(this.low) && this.base.logSurvival(this.low) === -Infinity) {
      throw new InvalidParameterError(this.name, 'low', `${this.name}: parameter low = ${fmt(this.low)} is above the support of ${this.base.name} (${this.base.support.name}): no mass is left`);
    }
    if (this.numberMass() && this.logMass() === -Infinity) {
      throw new InvalidParameterError(
        this.name,
        'low',
        `${this.name}: the bounds hold no mass under ${this.base.name} (low = ${fmt(this.low)}, high = ${fmt(this.high)}; log mass -Infinity, its log-cdf underflows there); move the bounds into the support`,
      );
    }
  }

  /** Integer number bounds, clipped to the base's support, with the errors that name them. */
  private discreteRange(): { low: number; high: number; supportLow: number } {
    const bound = (which: 'low' | 'high', v: Value): number => {
      if (typeof v !== 'number') {
        throw new InvalidParameterError(this.name, which, `${this.name}: parameter ${which} of a discrete truncation must be a number (an integer, inclusive), got ${describe(v)}`);
      }
      if (!(Number.isInteger(v) || v === (which === 'low' ? -Infinity : Infinity))) {
        throw new InvalidParameterError(this.name, which, `${this.name}: parameter ${which} must be an integer (bounds of a discrete truncation are inclusive, as Stan's T[low, high]), got ${v}`);
      }
      return v;
    };
    const low = bound('low', this.low);
    const high = bound('high', this.high);
    if (low > high) throw new InvalidParameterError(this.name, 'low', `${this.name}: parameter low must be at most high (both inclusive), got low = ${low} and high = ${high}`);
    const sup = this.base.support as Partial<IntervalConstraint>;
    const supportLow = typeof sup.lower === 'number' ? sup.lower : -Infinity;
    const supportHigh = typeof sup.upper === 'number' ? sup.upper : Infinity;
    if (high < supportLow) {
      throw new InvalidParameterError(this.name, 'high', `${this.name}: parameter high = ${high} is below the support of ${this.base.name} (${this.base.support.name}): no mass is left`);
    }
    if (low > supportHigh) {
      throw new InvalidParameterError(this.name, 'low', `${this.name}: parameter low = ${low} is above the support of ${this.base.name} (${this.base.support.name}): no mass is left`);
    }
    if (!Number.isFinite(Math.max(low, supportLow))) {
      throw new InvalidParameterError(this.name, 'low', `${this.name}: ${this.base.name} has no lowest value; give a finite low`);
    }
    return { low: Math.max(low, supportLow), high: Math.min(high, supportHigh), supportLow };
  }

  /** log P(low <= X <= high), the log-probability of the interval under the base. */
  logMass(): Value {
    if (this.massCache !== undefined) return this.massCache;
    const m = this.computeLogMass();
    // numbers are cached (a distribution is immutable); tensors are made afresh, inside the caller's tidy
    if (typeof m === 'number') this.massCache = m;
    return m;
  }

  /** True when the log mass is a number (number parameters and bounds), checked once without leaking tensors. */
  private numberMass(): boolean {
    if (this.massIsNumber === undefined) {
      let isNumber = false;
      tf.tidy(() => {
        isNumber = typeof this.logMass() === 'number';
      });
      this.massIsNumber = isNumber;
    }
    return this.massIsNumber;
  }

  private computeLogMass(): Value {
    if (this.range) return discreteLogMass(this.base, this.range.low, this.range.high, this.range.supportLow);
    const b = this.base;
    if (!this.hasHigh) return b.logSurvival(this.low);
    if (!this.hasLow) return b.logCdf(this.high);
    const sLow = b.logSurvival(this.low);
    const lower = logDiffExp(b.logCdf(this.high), b.logCdf(this.low));
    const upper = logDiffExp(sLow, b.logSurvival(this.high));
    return where(lt(sLow, -LN2), upper, lower);
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    // numbers in, numbers out on the float64 path (number parameters); tensors are tidied
    if (typeof x === 'number' && this.numberMass()) return this.logProbOf(x);
    return tf.tidy(() => toTensor(this.logProbOf(x)));
  }

  private logProbOf(x: Value): Value {
    const lo = this.low;
    const hi = this.high;
    // a point inside the bounds, to evaluate safely where x is outside
    const inside = this.range ? this.range.low : this.hasLow && this.hasHigh ? mul(0.5, add(lo, hi)) : this.hasLow ? lo : hi;
    const logMass = this.logMass();
    return logDensity(this.closedSupport, x, inside, (v) => sub(this.base.logProb(v), logMass));
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const shape = this.shape(sampleShape);
    if (this.range) {
      if (this.rejectionWillDo(0.25)) return this.rejectionSample(rng, sampleShape, shape);
      return sampleDiscreteByWalk(rng, this.base, this.range.low, this.range.high, shape, this.batchShape);
    }
    if (this.usesInverseCdf) return shape.length === 0 ? this.quantile(standardUniform(rng, shape)) : tf.tidy(() => toTensor(this.quantile(standardUniform(rng, shape))));
    if (this.rejectionWillDo(REJECTION_MIN_MASS)) return this.rejectionSample(rng, sampleShape, shape);
    return this.bisectionSample(rng, shape);
  }

  /** True when every batch member's interval holds at least `minMass` of the base's mass. */
  private rejectionWillDo(minMass: number): boolean {
    const lm = batchValues(`${this.name}: log mass`, () => this.logMass(), this.batchShape);
    return lm.every((v) => v >= Math.log(minMass));
  }

  /**
   * The truncated quantile at probabilities `u`, in log space: the base's
   * `icdfLog` at log(F(low) + u mass) when low is in the lower half, else its
   * `isfLog` at log(S(high) + (1 - u) mass), clamped into the bounds.
   */
  private quantile(u: Value): Value {
    const b = this.base;
    const logMass = this.logMass();
    const { sLow, fLow, fHigh, sHigh } = this.boundLogs();
    const lowerHalf = lt(neg(LN2), sLow);
    const viaCdf = b.icdfLog(minB(logAddExpB(fLow, add(log(u), logMass)), fHigh));
    const viaSf = b.isfLog(minB(logAddExpB(sHigh, add(log1p(neg(u)), logMass)), sLow));
    // rounding may step just outside the bounds; clamp
    return minB(maxB(where(lowerHalf, viaCdf, viaSf), this.low), this.high);
  }

  /** log F and log S at the bounds (cached for numbers: a distribution is immutable). */
  private boundLogs(): { sLow: Value; fLow: Value; fHigh: Value; sHigh: Value } {
    if (this.boundCache) return this.boundCache;
    const b = this.base;
    const out = {
      sLow: this.hasLow ? b.logSurvival(this.low) : 0,
      fLow: this.hasLow ? b.logCdf(this.low) : -Infinity,
      fHigh: this.hasHigh ? b.logCdf(this.high) : 0,
      sHigh: this.hasHigh ? b.logSurvival(this.high) : -Infinity,
    };
    if (Object.values(out).every((v) => typeof v === 'number')) this.boundCache = out;
    return out;
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
          `${this.base.name} has no icdf for inverse-cdf sampling, so widen the bounds or raise maxTries`,
      );
    }
    return scalar ? out[0] : tf.tensor(Float32Array.from(out), shape as number[]);
  }

  /**
   * Draws for a continuous base without `icdf` and a small mass: solve
   * logCdf(x) = log(F(low) + u mass) (or the survival form in the upper
   * half) by bisection in float64, every element at once, after bracketing
   * an infinite bound by doubling steps. Not reparameterised.
   */
  private bisectionSample(rng: Rng, shape: readonly number[]): Value {
    const n = sizeOf(shape);
    const u = rng.uniforms(n);
    const at = (f: () => Value): Float64Array => batchValues(this.name, f, shape);
    const logMass = at(() => this.logMass());
    const sLow = at(() => (this.hasLow ? this.base.logSurvival(this.low) : 0));
    const fLow = at(() => (this.hasLow ? this.base.logCdf(this.low) : -Infinity));
    const sHigh = at(() => (this.hasHigh ? this.base.logSurvival(this.high) : -Infinity));
    const lowerHalf = Uint8Array.from(sLow, (s) => (s > -LN2 ? 1 : 0));
    const target = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      target[i] = lowerHalf[i] ? logAddExpNumber(fLow[i], Math.log(u[i]) + logMass[i]) : logAddExpNumber(sHigh[i], Math.log1p(-u[i]) + logMass[i]);
    }
    // g(x) > 0 where x is above the solution (logCdf rises, logSurvival falls)
    const g = (xs: Float64Array): Float64Array => {
      const lc = this.evalAt((x) => this.base.logCdf(x), xs, shape);
      const ls = this.evalAt((x) => this.base.logSurvival(x), xs, shape);
      return Float64Array.from(xs, (_, i) => (lowerHalf[i] ? lc[i] - target[i] : target[i] - ls[i]));
    };
    const lo = Float64Array.from(broadcastValues(this.name, this.low, shape));
    const hi = Float64Array.from(broadcastValues(this.name, this.high, shape));
    bracket(lo, hi, g);
    for (let it = 0; it < 200; it++) {
      const mid = Float64Array.from(lo, (l, i) => 0.5 * (l + hi[i]));
      const gm = g(mid);
      let open = false;
      for (let i = 0; i < n; i++) {
        if (gm[i] > 0) hi[i] = mid[i];
        else lo[i] = mid[i];
        if (hi[i] - lo[i] > 1e-13 * Math.max(1e-300, Math.abs(mid[i]))) open = true;
      }
      if (!open) break;
    }
    const out = Float64Array.from(lo, (l, i) => 0.5 * (l + hi[i]));
    return shape.length === 0 ? out[0] : tf.tensor(Float32Array.from(out), shape as number[]);
  }

  /** A base function at points `xs` (one per element of `shape`), as float64 values. */
  private evalAt(f: (x: Value) => Value, xs: Float64Array, shape: readonly number[]): Float64Array {
    // number parameters: one float64 call per point
    if (shape.length === 0 || (this.batchShape.length === 0 && typeof f(xs[0]!) === 'number')) return Float64Array.from(xs, (x) => f(x) as number);
    return batchValues(this.name, () => f(tf.tensor(Float32Array.from(xs), shape as number[])), shape);
  }

  /** (F(x) - F(low)) / (F(high) - F(low)), clamped to [0, 1]. */
  override cdf(xLike: ValueLike): Value {
    const x = valueArg(this, 'cdf', xLike);
    const b = this.base;
    if (this.range) {
      const k = minB(maxB(x, this.range.low - 1), this.range.high);
      return exp(sub(logDiffExp(b.logCdf(k), b.logCdf(this.range.low - 1)), this.logMass()));
    }
    const xc = minB(maxB(x, this.low), this.high);
    const lower = this.hasLow ? logDiffExp(b.logCdf(xc), b.logCdf(this.low)) : b.logCdf(xc);
    return exp(sub(lower, this.logMass()));
  }

  /** The truncated quantile (continuous bases with `icdf`), computed in log space as the draws are. */
  override icdf(uLike: ValueLike): Value {
    const u = valueArg(this, 'icdf', uLike);
    if (!this.usesInverseCdf) throw new Error(`icdf is not implemented for ${this.name}: ${this.base.name} has no icdf`);
    return this.quantile(u);
  }

  /** low..high as numbers for a discrete base with a finite range (at most 100000 values) and batch shape `[]`, else `undefined`. */
  override enumerateSupport(): Value[] | undefined {
    const r = this.range;
    if (!r || this.batchShape.length !== 0 || !Number.isFinite(r.high) || r.high - r.low >= 100000) return undefined;
    this.enumerated ??= Object.freeze(Array.from({ length: r.high - r.low + 1 }, (_, i) => r.low + i)) as Value[];
    return this.enumerated;
  }
}

/**
 * An elementwise binary op with tensors broadcast to a common shape first:
 * the gradients of tfjs' Minimum and Maximum (also inside `logAddExp`) fail
 * when their inputs broadcast (e.g.
 * draws of shape [n, batch] against bounds of shape [batch]).
 */
function broadcastFirst(op: (a: Value, b: Value) => Value): (a: Value, b: Value) => Value {
  return (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return op(a, b);
    const shape = broadcastShapes(shapeOf(a), shapeOf(b), 'Truncated');
    const full = (v: Value): Value => (sameShape(shapeOf(v), shape) ? v : tf.broadcastTo(toTensor(v), shape));
    return op(full(a), full(b));
  };
}
const minB = broadcastFirst(minimum);
const maxB = broadcastFirst(maximum);
const logAddExpB = broadcastFirst(logAddExp);

function logAddExpNumber(a: number, b: number): number {
  const m = Math.max(a, b);
  return m === -Infinity ? -Infinity : m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * Replace infinite ends of [lo, hi] by finite points that bracket the root
 * of the increasing function `g`, stepping out from the finite end by
 * doubling distances.
 */
function bracket(lo: Float64Array, hi: Float64Array, g: (xs: Float64Array) => Float64Array): void {
  const n = lo.length;
  for (const side of ['low', 'high'] as const) {
    const ends = side === 'low' ? lo : hi;
    if (ends.every((v) => Number.isFinite(v))) continue;
    const other = side === 'low' ? hi : lo;
    const step = Float64Array.from(other, (v) => Math.max(1, Math.abs(Number.isFinite(v) ? v : 0)));
    const x = Float64Array.from(ends, (v, i) => (Number.isFinite(v) ? v : (Number.isFinite(other[i]) ? other[i] : 0) + (side === 'low' ? -step[i] : step[i])));
    for (let round = 0; round < 2100; round++) {
      const gx = g(x);
      let open = false;
      for (let i = 0; i < n; i++) {
        if (Number.isFinite(ends[i])) continue;
        const bracketed = side === 'low' ? gx[i] <= 0 : gx[i] > 0;
        if (bracketed) ends[i] = x[i];
        else {
          // the inner end moves to x: the root lies further out
          other[i] = x[i];
          step[i] *= 2;
          x[i] += side === 'low' ? -step[i] : step[i];
          open = true;
        }
      }
      if (!open) break;
    }
  }
}

/** The finite number bounds of a continuous support (positive and nonnegative: lower 0), where it has them. */
function supportBounds(support: Constraint): { lower?: number; upper?: number } {
  if (support === positive || support === nonnegative || support === positiveFinite) return { lower: 0 };
  const { lower, upper } = support as Partial<{ lower: Value; upper: Value }>;
  return {
    lower: typeof lower === 'number' && Number.isFinite(lower) ? lower : undefined,
    upper: typeof upper === 'number' && Number.isFinite(upper) ? upper : undefined,
  };
}

function fmt(v: Value): string {
  return typeof v === 'number' ? String(v) : describe(v);
}

/**
 * Truncated(base, { low?, high? }, options?): `base` restricted to
 * [low, high] and renormalised; continuous bases in log space (tail-accurate),
 * discrete bases with inclusive bounds as Stan's `T[low, high]`.
 */
export function Truncated<D extends Distribution>(base: D, bounds: TruncationBounds, options?: TruncatedOptions): TruncatedDistribution & Typed<ValueOf<D>> {
  return new TruncatedDistribution(base, bounds, options);
}
