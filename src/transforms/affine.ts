/**
 * Elementwise bijectors with parameters: Affine, Interval, LowerBound,
 * UpperBound.
 *
 * Parameters may be numbers, arrays or tensors and broadcast against the
 * input. With number parameters and a number input everything stays a plain
 * number (float64).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type Value, type ValueLike, abs, add, all, broadcastShapes, describe, exp, gt, log, lt, mul, shapeOf, sigmoid, sub, div } from '../core/value.js';
import {
  type Constraint,
  type GreaterThanConstraint,
  type IntervalConstraint,
  type LessThanConstraint,
  greaterThan,
  interval,
  lessThan,
  real,
} from '../distributions/constraints.js';
import { param } from '../distributions/distribution.js';
import { Bijector } from './bijector.js';
import { logSigmoidJacobian } from './elementwise.js';
import { broadcastLike, logit, tidyValue } from './math.js';

function requireAll(ok: boolean | tf.Tensor, message: () => string): void {
  if (!all(ok)) throw new RangeError(message());
}

/**
 * An elementwise bijector with parameters: its output has the input's shape
 * broadcast against the parameters' (`Affine(tensor([1, 2]), 1)` maps a
 * number to a vector of 2), and so does its input for an output.
 */
abstract class ParamElementwise extends Bijector {
  /** The parameters whose shapes broadcast against the value's. */
  protected abstract params(): readonly Value[];
  override forwardShape(shape: readonly number[]): number[] {
    return this.params().reduce<number[]>((s, p) => broadcastShapes(s, shapeOf(p), `${this.name}: the value's shape against its parameters`), [...shape]);
  }
  override inverseShape(shape: readonly number[]): number[] {
    return this.forwardShape(shape);
  }
}

/** `y = loc + scale * x` elementwise; `log|dy/dx| = log|scale|` (scale must be nonzero). */
export class AffineBijector extends ParamElementwise {
  readonly name = 'Affine';
  readonly domain: Constraint = real;
  readonly codomain: Constraint = real;
  readonly loc: Value;
  readonly scale: Value;

  constructor(loc: ValueLike, scale: ValueLike) {
    super();
    this.loc = param('Affine', 'loc', loc);
    this.scale = param('Affine', 'scale', scale);
    requireAll(gt(abs(this.scale), 0), () => `Affine: parameter scale must be nonzero, got ${describe(this.scale)}`);
  }
  protected params(): readonly Value[] {
    return [this.loc, this.scale];
  }
  forward(x: Value): Value {
    return tidyValue(x, () => add(this.loc, mul(this.scale, x)));
  }
  inverse(y: Value): Value {
    return tidyValue(y, () => div(sub(y, this.loc), this.scale));
  }
  logDetJacobian(x: Value): Value {
    return tidyValue(x, () => broadcastLike(log(abs(this.scale)), x, this.loc));
  }
}

/**
 * `y = lower + (upper - lower) * sigmoid(x)`: real onto the interval
 * (lower, upper); `log|dy/dx| = log(upper - lower) + log sigmoid(x) + log sigmoid(-x)`.
 */
export class IntervalBijector extends ParamElementwise {
  readonly name = 'Interval';
  readonly domain: Constraint = real;
  readonly codomain: IntervalConstraint;
  readonly lower: Value;
  readonly upper: Value;
  private readonly width: Value;

  constructor(lower: ValueLike, upper: ValueLike) {
    super();
    this.lower = param('Interval', 'lower', lower);
    this.upper = param('Interval', 'upper', upper);
    requireAll(lt(this.lower, this.upper), () => `Interval: lower must be below upper, got lower ${describe(this.lower)} and upper ${describe(this.upper)}`);
    this.width = sub(this.upper, this.lower);
    this.codomain = interval(this.lower, this.upper);
  }
  protected params(): readonly Value[] {
    return [this.lower, this.upper];
  }
  forward(x: Value): Value {
    return tidyValue(x, () => add(this.lower, mul(this.width, sigmoid(x))));
  }
  inverse(y: Value): Value {
    return tidyValue(y, () => logit(div(sub(y, this.lower), this.width)));
  }
  logDetJacobian(x: Value): Value {
    return tidyValue(x, () => broadcastLike(add(log(this.width), logSigmoidJacobian(x)), this.lower));
  }
}

/** `y = lower + exp(x)`: real onto (lower, inf); `log|dy/dx| = x`. */
export class LowerBoundBijector extends ParamElementwise {
  readonly name = 'LowerBound';
  readonly domain: Constraint = real;
  readonly codomain: GreaterThanConstraint;
  readonly lower: Value;

  constructor(lower: ValueLike) {
    super();
    this.lower = param('LowerBound', 'lower', lower);
    this.codomain = greaterThan(this.lower);
  }
  protected params(): readonly Value[] {
    return [this.lower];
  }
  forward(x: Value): Value {
    return tidyValue(x, () => add(this.lower, exp(x)));
  }
  inverse(y: Value): Value {
    return tidyValue(y, () => log(sub(y, this.lower)));
  }
  logDetJacobian(x: Value): Value {
    return broadcastLike(x, this.lower);
  }
}

/** `y = upper - exp(x)`: real onto (-inf, upper); `log|dy/dx| = x`. */
export class UpperBoundBijector extends ParamElementwise {
  readonly name = 'UpperBound';
  readonly domain: Constraint = real;
  readonly codomain: LessThanConstraint;
  readonly upper: Value;

  constructor(upper: ValueLike) {
    super();
    this.upper = param('UpperBound', 'upper', upper);
    this.codomain = lessThan(this.upper);
  }
  protected params(): readonly Value[] {
    return [this.upper];
  }
  forward(x: Value): Value {
    return tidyValue(x, () => sub(this.upper, exp(x)));
  }
  inverse(y: Value): Value {
    return tidyValue(y, () => log(sub(this.upper, y)));
  }
  logDetJacobian(x: Value): Value {
    return broadcastLike(x, this.upper);
  }
}

/** `y = loc + scale * x` (scale nonzero). */
export function Affine(loc: ValueLike, scale: ValueLike): AffineBijector {
  return new AffineBijector(loc, scale);
}
/** Sigmoid then affine: real onto the interval (lower, upper). */
export function Interval(lower: ValueLike, upper: ValueLike): IntervalBijector {
  return new IntervalBijector(lower, upper);
}
/** `y = lower + exp(x)`: real onto (lower, inf). */
export function LowerBound(lower: ValueLike): LowerBoundBijector {
  return new LowerBoundBijector(lower);
}
/** `y = upper - exp(x)`: real onto (-inf, upper). */
export function UpperBound(upper: ValueLike): UpperBoundBijector {
  return new UpperBoundBijector(upper);
}
