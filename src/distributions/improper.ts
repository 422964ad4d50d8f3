/**
 * Improper priors: what a Stan parameter declared without a prior statement
 * means. `real x;` is a flat density on the reals; `real<lower=0> sigma;` a
 * flat density on (0, inf); `vector[K] beta;` a flat density on R^K.
 *
 * ```ts
 * const beta = await sample('beta', Flat({ shape: [2] }));     // vector[2] beta;
 * const sigma = await sample('sigma', Flat({ low: 0 }));       // real<lower=0> sigma;
 * ```
 *
 * The log density is 0 on the support (and -Infinity outside it), so
 * gradient-based engines (NUTS, HMC, VI) use them as Stan does: the posterior
 * must be proper through the likelihood. They cannot be sampled: engines that
 * draw from the prior (importance, SMC, prior predictive) stop with
 * "improper prior at site X cannot be sampled". Only the layout probe of the
 * gradient-based engines draws from them (a uniform draw in [-2, 2] on the
 * unconstrained scale, Stan's default initialisation), see `withImproperDraws`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidParameterError } from '../core/errors.js';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, sizeOf } from '../core/value.js';
import { improperDrawsAllowed } from '../core/improper.js';
import { bijectTo } from '../transforms/biject-to.js';
import { type Constraint, greaterThan, independent, interval, lessThan, real } from './constraints.js';
import { Distribution, checkParam, maskSupport, param, valueArg } from './distribution.js';

/** Options of {@link Flat}. */
export interface FlatOptions {
  /** Shape of the value, one event (default `[]`, a scalar): `[K]` for Stan's `vector[K]`, `[R, C]` for `matrix[R, C]`. */
  readonly shape?: readonly number[];
  /** Lower bound (Stan's `<lower=...>`); none by default. */
  readonly low?: ValueLike;
  /** Upper bound (Stan's `<upper=...>`); none by default. */
  readonly high?: ValueLike;
}

/**
 * A flat, unnormalised density on the reals or on an interval (bounded on
 * one or both sides): log density 0 on the support. Improper when a side is
 * unbounded; `improper` is true either way, since the density is not
 * normalised and there is no prior to draw from.
 */
export class FlatDistribution extends Distribution {
  readonly name: string;
  readonly batchShape: readonly number[] = [];
  override readonly eventShape: readonly number[];
  readonly support: Constraint;
  /** Marks a density that is not a normalised distribution: engines refuse to draw from it. */
  readonly improper = true;

  /** @param options - see {@link FlatOptions} */
  constructor(options: FlatOptions = {}) {
    super();
    const shape = options.shape ?? [];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new TypeError(`Flat: option shape must be an array of positive integers, got ${JSON.stringify(shape)}`);
    }
    const low = options.low === undefined ? undefined : param('Flat', 'low', options.low);
    const high = options.high === undefined ? undefined : param('Flat', 'high', options.high);
    for (const [name, v] of [
      ['low', low],
      ['high', high],
    ] as const) {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new RangeError(`Flat: ${name} must be finite (leave it out for no bound), got ${v}`);
    }
    if (typeof low === 'number' && typeof high === 'number') {
      if (!(low < high)) throw new InvalidParameterError('Flat', 'high', `Flat: low must be below high, got low = ${low} and high = ${high}`);
    } else if (low !== undefined && high !== undefined) {
      // a bound that depends on other values (Stan's `upper = 1 - alpha1`) can meet the other one at a point (float32
      // rounds alpha1 to 1): a distribution parameter error, so samplers reject the point, as Stan rejects it
      checkParam('Flat', 'high', high, greaterThan(low));
    }
    const base = low !== undefined && high !== undefined ? interval(low, high) : low !== undefined ? greaterThan(low) : high !== undefined ? lessThan(high) : real;
    this.support = independent(base, shape.length);
    this.name = low === undefined && high === undefined ? 'Flat' : `Flat(${low === undefined ? '' : `low=${describeBound(low)}`}${low !== undefined && high !== undefined ? ', ' : ''}${high === undefined ? '' : `high=${describeBound(high)}`})`;
    this.eventShape = [...shape];
  }

  /**
   * Only for the layout probe of gradient-based engines (inside
   * `withImproperDraws`): a uniform draw in [-2, 2] on the unconstrained
   * scale, mapped onto the support. Anywhere else it throws.
   */
  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    if (!improperDrawsAllowed()) throw new Error(`improper prior ${this.name} cannot be sampled (it has no normalised density)`);
    const shape = this.shape(sampleShape);
    const u = Float32Array.from(rng.uniforms(sizeOf(shape)), (v) => 4 * v - 2);
    return tf.tidy(() => bijectTo(this.support).forward(tf.tensor(u, shape)) as tf.Tensor);
  }

  /** 0 on the support, -Infinity outside (one entry per event: shape of `value` less the event shape). */
  logProb(valueLike: ValueLike): Value {
    const value = valueArg(this, 'logProb', valueLike);
    const n = this.eventShape.length;
    if (typeof value === 'number') {
      if (n > 0) throw new TypeError(`${this.name}: expected a value of event shape [${this.eventShape.join(', ')}], got a number`);
      return maskSupport(this.support, value, 0);
    }
    const tail = value.shape.slice(value.rank - n);
    if (value.rank < n || tail.some((d, i) => d !== this.eventShape[i])) {
      throw new TypeError(`${this.name}: expected a value of event shape [${this.eventShape.join(', ')}], got shape [${value.shape.join(', ')}]`);
    }
    return tf.tidy(() => maskSupport(this.support, value, tf.zeros(value.shape.slice(0, value.rank - n))) as tf.Tensor);
  }
}

function describeBound(v: Value): string {
  return typeof v === 'number' ? String(v) : `tensor of shape [${v.shape.join(', ')}]`;
}

/**
 * A flat (improper) prior, as a Stan parameter with no prior statement:
 * `Flat()` for `real x;`, `Flat({ shape: [K] })` for `vector[K] x;`,
 * `Flat({ low: 0 })` for `real<lower=0> x;`, `Flat({ low: 0, high: 1 })`
 * for `real<lower=0, upper=1> x;`. Log density 0 on the support; usable by
 * NUTS, HMC and VI; engines that draw from the prior refuse it.
 */
export function Flat(options: FlatOptions = {}): FlatDistribution {
  return new FlatDistribution(options);
}
