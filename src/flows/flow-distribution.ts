/**
 * Flows as distributions: a standard normal vector pushed through a stack of
 * flow bijectors, usable at `sample` and `observe` sites like any family.
 *
 * It is the flow-specialised form of `Transformed(base, bijectors)` with a
 * standard normal base of event shape `[D]` (the same density), going
 * through {@link pushForward} and {@link flowLogProb} so a MAF's one-pass
 * inverse and an IAF's one-pass forward are used as such.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, describe } from '../core/value.js';
import { type Constraint, realVector } from '../distributions/constraints.js';
import { Distribution, type Typed, valueArg } from '../distributions/distribution.js';
import type { FlowBijector } from './flow-bijector.js';
import { flowLogProb, pushForward } from './flow-density.js';

/** The bijectors of a flow, base side first, or a function building them (called inside each `sample` / `logProb`). */
export type FlowSource = readonly FlowBijector[] | (() => readonly FlowBijector[]);

/**
 * The distribution of `y = f_L(... f_1(u))`, `u ~ N(0, I_D)`: event shape
 * `[D]`, no batch axes. Draws are reparameterised (differentiable in the
 * flow's parameters). With a builder function, the bijectors are rebuilt
 * inside a `tf.tidy` on each call, so the tensors they make are freed and
 * parameters read at call time (e.g. from a ParamStore) are current.
 */
export class FlowDistribution extends Distribution {
  readonly name = 'Flow';
  readonly batchShape: readonly number[] = [];
  override readonly eventShape: readonly number[];
  readonly support: Constraint = realVector;
  override readonly hasRsample = true;
  private readonly build: () => readonly FlowBijector[];

  /**
   * @param dim - the vector length D
   * @param flow - the bijectors (base side first) or a function building them
   */
  constructor(readonly dim: number, flow: FlowSource) {
    super();
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`FlowDistribution: dim must be a positive integer, got ${dim}`);
    if (typeof flow !== 'function') {
      const bad = flow.find((b) => b.dim !== dim);
      if (bad) throw new Error(`FlowDistribution: the ${bad.name} bijector acts on vectors of length ${bad.dim}, not dim = ${dim}`);
    }
    this.eventShape = [dim];
    this.build = typeof flow === 'function' ? flow : () => flow;
  }

  /** Draws of shape `[...sampleShape, D]`. */
  sample(rng: Rng, sampleShape: readonly number[] = []): Value {
    const n = sampleShape.reduce((a, b) => a * b, 1);
    return tf.tidy(() => {
      const u = tf.tensor(Float32Array.from(rng.normals(n * this.dim)), [...sampleShape, this.dim]);
      return pushForward(this.build(), u).y;
    });
  }

  /** log density of vectors `[..., D]`, shape `[...]`. */
  logProb(valueLike: ValueLike): Value {
    const value = valueArg(this, 'logProb', valueLike);
    if (typeof value === 'number' || value.rank < 1 || value.shape[value.rank - 1] !== this.dim) {
      throw new Error(`FlowDistribution.logProb: expected vectors of length ${this.dim} (shape [..., ${this.dim}]), got ${describe(value)}`);
    }
    return tf.tidy(() => flowLogProb(this.build(), tf.cast(value, 'float32')));
  }
}

/** A flow distribution over vectors of length `dim` (see {@link FlowDistribution}). */
export function Flow(dim: number, flow: FlowSource): FlowDistribution & Typed<tf.Tensor> {
  return new FlowDistribution(dim, flow);
}
