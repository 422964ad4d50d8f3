/**
 * An unnormalised density on a constrained space: what a Stan parameter with
 * a declared constraint and a prior statement (or none) amounts to, e.g.
 * `ordered[2] mu; mu ~ normal(0, 2);` (normal densities restricted to
 * increasing vectors). Gradient-based samplers only need the log density up
 * to a constant and the support (which picks the bijector).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../src/core/rng.js';
import type { Value } from '../src/core/value.js';
import { type Constraint, ordered } from '../src/distributions/constraints.js';
import { Distribution, maskSupport } from '../src/distributions/distribution.js';
import { NormalDistribution } from '../src/distributions/normal.js';

/** A vector-valued site with an unnormalised log density and a support. */
export class UnnormalizedVectorDistribution extends Distribution {
  readonly batchShape: readonly number[] = [];
  override readonly eventShape: readonly number[];

  /**
   * @param name - family name for messages
   * @param support - a vector constraint (its bijector is used by HMC)
   * @param size - the vector length
   * @param logDensity - log density of values of shape `[..., size]`, summed over the last axis (shape `[...]`)
   * @param init - a point (or points, with a sample shape) of the support, for initialisation
   */
  constructor(
    readonly name: string,
    readonly support: Constraint,
    size: number,
    private readonly logDensity: (x: tf.Tensor) => tf.Tensor,
    private readonly init: (rng: Rng, shape: number[]) => tf.Tensor,
  ) {
    super();
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`${name}: size must be a positive integer, got ${size}`);
    this.eventShape = [size];
  }

  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    return this.init(rng, this.shape(sampleShape));
  }

  logProb(x: Value): Value {
    if (typeof x === 'number') throw new TypeError(`${this.name}: expected a vector of length ${this.eventShape[0]}, got a number`);
    return tf.tidy(() => maskSupport(this.support, x, this.logDensity(x)) as tf.Tensor);
  }
}

/**
 * Normal(loc, scale) densities on each coordinate restricted to increasing
 * vectors (unnormalised), like Stan's `ordered[size] mu; mu ~ normal(loc, scale);`.
 */
export function OrderedNormal(size: number, loc: number, scale: number): UnnormalizedVectorDistribution {
  const base = new NormalDistribution(loc, scale);
  return new UnnormalizedVectorDistribution(
    'OrderedNormal',
    ordered,
    size,
    (x) => tf.sum(base.logProb(x) as tf.Tensor, -1),
    (rng, shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = Float32Array.from(rng.normals(n), (z) => loc + scale * z);
      for (let i = 0; i < n; i += size) v.subarray(i, i + size).sort();
      return tf.tensor(v, shape);
    },
  );
}
