/**
 * Location–scale families: X = loc + scale * Z for a standard draw Z
 * (Normal, Cauchy, Laplace).
 *
 * @module
 */
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, add, mul } from '../core/value.js';
import { finite, positiveFinite, real } from './constraints.js';
import { Distribution, batchShapeOf, checkParam, param } from './distribution.js';

/**
 * A real-valued family with a location and a positive scale, sampled (and
 * reparameterised) as `loc + scale * z` with `z` a standard draw.
 * Subclasses give the standard draw and the density.
 */
export abstract class LocationScaleDistribution extends Distribution {
  readonly support = real;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  /** Location. */
  readonly loc: Value;
  /** Scale > 0. */
  readonly scale: Value;

  /**
   * @param name - the family name, for messages
   * @param loc - the location
   * @param scale - the scale, > 0
   */
  constructor(name: string, loc: ValueLike, scale: ValueLike) {
    super();
    this.loc = param(name, 'loc', loc);
    this.scale = param(name, 'scale', scale);
    checkParam(name, 'loc', this.loc, finite);
    checkParam(name, 'scale', this.scale, positiveFinite);
    this.batchShape = typeof this.loc === 'number' && typeof this.scale === 'number' ? [] : batchShapeOf(name, { loc: this.loc, scale: this.scale });
  }

  /** Standard draws (loc 0, scale 1) of the given shape: a number for `[]`, else a tensor. */
  protected abstract standardSample(rng: Rng, shape: readonly number[]): Value;

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return add(this.loc, mul(this.scale, this.standardSample(rng, this.shape(sampleShape))));
  }
}
