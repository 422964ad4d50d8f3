/**
 * Distributions of `y = f(x)` for a bijector `f` and a base distribution of `x`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, describe, sub, sumLast } from '../core/value.js';
import { Bijector } from '../transforms/bijector.js';
import { Compose } from '../transforms/compose.js';
import { tidyValue } from '../transforms/math.js';
import { type Constraint, independent } from './constraints.js';
import { Distribution, maskSupport } from './distribution.js';

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
 * the base's are. Values outside the support (the last bijector's codomain)
 * have log density `-Infinity`, as do points on its boundary where the
 * change of variables is undefined.
 */
export class TransformedDistribution extends Distribution {
  readonly name: string;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  readonly support: Constraint;
  override readonly hasRsample: boolean;
  /** The base distribution. */
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
    this.base = base;
    this.bijector = bij;
    this.name = `${bij.name}(${base.name})`;
    const baseShape = [...base.batchShape, ...base.eventShape];
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
    this.support = independent(bij.codomain, eventDims - bij.eventDimOut);
    this.hasRsample = base.hasRsample;
  }

  /** `forward` of a base draw (differentiable when the base draw is). */
  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return this.bijector.forward(this.base.sample(rng, sampleShape));
  }

  logProb(y: Value): Value {
    return tidyValue(y, () => {
      const x = this.bijector.inverse(y);
      const lpBase = sumLast(this.base.logProb(x), this.baseEventDims - this.base.eventShape.length);
      const ld = sumLast(this.bijector.logDetJacobian(x, y), this.baseEventDims - this.bijector.eventDimIn);
      return nanToNegInf(maskSupport(this.support, y, sub(lpBase, ld)));
    });
  }
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
