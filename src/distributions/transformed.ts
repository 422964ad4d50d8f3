/**
 * Distributions of `y = f(x)` for a bijector `f` and a base distribution of `x`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, describe, sub, sumLast, type ValueLike } from '../core/value.js';
import { Bijector } from '../transforms/bijector.js';
import { Compose } from '../transforms/compose.js';
import { tidyValue } from '../transforms/math.js';
import { type Constraint, greaterThan, independent, interval, lessThan, nonnegative, positive, positiveFinite } from './constraints.js';
import { Distribution, maskSupport, valueArg } from './distribution.js';

/**
 * The distribution of `y = bijector.forward(x)` with `x ~ base`; a list of
 * bijectors is applied in order (`bijectors[0]` first).
 *
 * Density by change of variables:
 * `log p(y) = log p_base(x) - log|det dy/dx|` at `x = inverse(y)`. Event
 * dimensions: the base's event axes and the bijector's input event axes are
 * both treated as one event (base batch axes are reinterpreted as event axes
 * when the bijector acts on vectors or matrices), so `logProb` sums over all
 * of them and returns the batch shape. Draws are reparameterised whenever
 * the base's are. The support is the image of the base's support where the
 * bijector acts elementwise and the base's bounds are numbers
 * (`Transformed(Beta(2, 2), Affine(-1, 2))` lives on (-1, 1), so NUTS and VI
 * unconstrain onto it), else the last bijector's codomain. Values outside it
 * have log density `-Infinity`, as do points on its boundary where the
 * change of variables is undefined. A discrete base is refused: a change of
 * variables with a Jacobian is for densities.
 */
export class TransformedDistribution extends Distribution {
  readonly name: string;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  readonly support: Constraint;
  override readonly hasRsample: boolean;
  /** The base distribution (expanded to the parameters' batch shape where an elementwise bijector's parameters broadcast it). */
  readonly base: Distribution;
  /** The (composed) bijector. */
  readonly bijector: Bijector;
  /** Event axes in base space (those of the base, or more if the bijector needs them). */
  private readonly baseEventDims: number;

  constructor(base: Distribution, bijectors: Bijector | readonly Bijector[]) {
    super();
    if (!(base instanceof Distribution)) throw new TypeError(`TransformedDistribution: base must be a Distribution, got ${describe(base)}`);
    const list = bijectors instanceof Bijector ? [bijectors] : [...bijectors];
    if (list.length === 0) throw new Error('TransformedDistribution: give at least one bijector');
    const bij = list.length === 1 ? list[0] : Compose(list);
    if (!(bij instanceof Bijector)) throw new TypeError(`TransformedDistribution: expected bijectors, got ${describe(bij)}`);
    if (base.isDiscrete) {
      throw new TypeError(
        `TransformedDistribution: the base ${base.name} is discrete; a change of variables (with its Jacobian) is for densities. Transform the value instead: e.g. observe('y', ${base.name}(...), ops.sub(y, 1)) for counts shifted by 1`,
      );
    }
    this.bijector = bij;
    this.name = `${bij.name}(${base.name})`;
    let baseShape = [...base.batchShape, ...base.eventShape];
    if (bij.eventDimIn === 0 && bij.eventDimOut === 0) {
      // parameters with more elements than the base (a scalar base under `Affine(tensor, tensor)`): one independent base draw per element
      const out = bij.forwardShape(baseShape);
      if (out.length !== baseShape.length || out.some((d, i) => d !== baseShape[i])) {
        base = base.expand(out.slice(0, out.length - base.eventShape.length));
        baseShape = [...base.batchShape, ...base.eventShape];
      }
    }
    this.base = base;
    if (baseShape.length < bij.eventDimIn) {
      throw new Error(
        `TransformedDistribution: ${bij.name} acts on ${bij.eventDimIn}-dimensional events, but the base ${base.name} has shape [${baseShape.join(', ')}]; give the base a batch or event shape of rank ${bij.eventDimIn} or more`,
      );
    }
    this.baseEventDims = Math.max(base.eventShape.length, bij.eventDimIn);
    const eventDims = this.baseEventDims + bij.eventDimOut - bij.eventDimIn;
    const shape = bij.forwardShape(baseShape);
    this.batchShape = shape.slice(0, shape.length - eventDims);
    this.eventShape = shape.slice(shape.length - eventDims);
    this.support = independent(imageSupport(base, bij) ?? bij.codomain, eventDims - bij.eventDimOut);
    this.hasRsample = base.hasRsample;
  }

  /** `forward` of a base draw (differentiable when the base draw is). */
  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return this.bijector.forward(this.base.sample(rng, sampleShape));
  }

  logProb(yLike: ValueLike): Value {
    const y = valueArg(this, 'logProb', yLike);
    return tidyValue(y, () => {
      const x = this.bijector.inverse(y);
      const lpBase = sumLast(this.base.logProb(x), this.baseEventDims - this.base.eventShape.length);
      const ld = sumLast(this.bijector.logDetJacobian(x, y), this.baseEventDims - this.bijector.eventDimIn);
      return nanToNegInf(maskSupport(this.support, y, sub(lpBase, ld)));
    });
  }
}

/**
 * The image of a scalar base's support under an elementwise bijector
 * (monotone, as every continuous bijection of an interval is): the base's
 * bounds (numbers or tensors; a missing one is infinite) mapped by `forward`
 * and put in order elementwise. With number or tensor parameters alike,
 * `Transformed(Beta(2, 2), Affine(loc, scale))` lives on
 * `interval(min(loc, loc + scale), max(loc, loc + scale))`. Where the
 * elements' images are half-lines that open on different sides (a one-sided
 * base under scales of both signs), the support is the image constraint
 * itself: a value is in it when its inverse is in the base's support, and
 * `bijectTo` reaches it through the base's own bijector then this one.
 * `undefined` (the bijector's codomain) where the base has no bound, the
 * bijector is not elementwise, or an image is empty or undefined.
 */
function imageSupport(base: Distribution, bij: Bijector): Constraint | undefined {
  if (bij.eventDimIn !== 0 || bij.eventDimOut !== 0 || base.eventShape.length !== 0) return undefined;
  const s = base.support;
  const named = s === positive || s === nonnegative || s === positiveFinite ? { lower: 0 } : (s as Partial<{ lower: Value; upper: Value }>);
  const bound = (v: Value | undefined, none: number): Value => (v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? none : v);
  const low = bound(named.lower, -Infinity);
  const high = bound(named.upper, Infinity);
  if (low === -Infinity && high === Infinity) return undefined;
  const a = bij.forward(low);
  const b = bij.forward(high);
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b) || a === b) return undefined;
    const [lo, hi] = a < b ? [a, b] : [b, a];
    if (Number.isFinite(lo) && Number.isFinite(hi)) return interval(lo, hi);
    if (Number.isFinite(lo)) return lo === 0 && hi === Infinity ? positive : greaterThan(lo);
    return Number.isFinite(hi) ? lessThan(hi) : undefined;
  }
  // tensor bounds or parameters: the same rule elementwise, one read of the bounds at construction
  const [lo, hi] = tf.tidy(() => {
    const ta = tf.cast(a, 'float32');
    const tb = tf.cast(b, 'float32');
    return [tf.keep(tf.minimum(ta, tb)), tf.keep(tf.maximum(ta, tb))];
  });
  const l = lo.dataSync();
  const h = hi.dataSync();
  const every = (xs: ArrayLike<number>, f: (x: number, i: number) => boolean): boolean => Array.prototype.every.call(xs, (x: number, i: number) => f(x, i));
  const ok = every(l, (x) => !Number.isNaN(x)) && every(h, (x) => !Number.isNaN(x)) && every(l, (x, i) => x !== h[i]);
  const loFinite = every(l, Number.isFinite);
  const hiFinite = every(h, Number.isFinite);
  let out: Constraint | undefined;
  if (!ok) out = undefined;
  else if (loFinite && hiFinite) out = interval(lo, hi);
  else if (loFinite && every(h, (x) => x === Infinity)) out = greaterThan(lo);
  else if (hiFinite && every(l, (x) => x === -Infinity)) out = lessThan(hi);
  else if (every(l, (x) => x === -Infinity) && every(h, (x) => x === Infinity)) out = undefined;
  else out = imageOf(s, bij);
  if (out === undefined || !('lower' in out)) lo.dispose();
  if (out === undefined || !('upper' in out)) hi.dispose();
  return out;
}

/**
 * The image of `preimage` under the elementwise bijector `through`: a value
 * is in it when its inverse is in `preimage`. `bijectTo` maps real space onto
 * it by `bijectTo(preimage)` then `through`.
 */
function imageOf(preimage: Constraint, through: Bijector): Constraint {
  return {
    name: `image(${preimage.name}, ${through.name})`,
    isDiscrete: false,
    eventDim: 0,
    check: (x: Value): boolean | tf.Tensor => {
      let answer: boolean | undefined;
      const t = tf.tidy(() => {
        const c = preimage.check(through.inverse(x));
        if (typeof c === 'boolean') answer = c;
        else return c;
      });
      return t ?? answer ?? false;
    },
    preimage,
    through,
  } as Constraint;
}

/** NaN (an undefined change of variables on the support's boundary) as `-Infinity`. */
function nanToNegInf(lp: Value): Value {
  if (typeof lp === 'number') return Number.isNaN(lp) ? -Infinity : lp;
  return tf.where(tf.isNaN(lp), tf.fill(lp.shape, -Infinity), lp);
}

/** The distribution of `y = f(x)`, `x ~ base`, for a bijector or a list applied in order. */
export function Transformed(base: Distribution, bijectors: Bijector | readonly Bijector[]): TransformedDistribution {
  return new TransformedDistribution(base, bijectors);
}
