/**
 * The shared base of the normalizing-flow bijectors: maps of vectors
 * `[..., D] -> [..., D]` built from parameter tensors, with tensor-only
 * forward, inverse and log|det J| (summed over the vector axis, so the
 * log-Jacobian has the input's shape less its last axis).
 *
 * Flow bijectors do not own their parameters: a {@link FlowLayer} declares
 * the parameters' shapes and initial values and builds the bijector from their
 * current values, so an optimiser (the ParamStore of variational inference or
 * {@link fitFlow}) can learn them.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import type { Value } from '../core/value.js';
import { realVector } from '../distributions/constraints.js';
import { Bijector, eventTensor } from '../transforms/bijector.js';

/** A bijector on real vectors of a fixed length. */
export abstract class FlowBijector extends Bijector {
  readonly domain = realVector;
  readonly codomain = realVector;

  /** @param dim - the vector length D */
  constructor(readonly dim: number) {
    super();
  }

  /** The input as a tensor `[..., D]`, or an error naming the flow. */
  protected vec(x: Value): tf.Tensor {
    const t = eventTensor(this.name, x, 1);
    if (t.shape[t.rank - 1] !== this.dim) throw new Error(`${this.name}: expected vectors of length ${this.dim}, got shape [${t.shape.join(', ')}]`);
    return t;
  }
}

/** Parameters of a flow layer, by name. */
export type FlowParams = Readonly<Record<string, tf.Tensor>>;

/** A flow layer: its parameters' initial values and the bijector built from their current values. */
export interface FlowLayer {
  /** Name for parameter addresses and messages. */
  readonly name: string;
  /** Initial (unconstrained, real) values of the layer's parameters for vectors of length `dim`. */
  init(dim: number, rng: Rng): Record<string, tf.Tensor>;
  /** The bijector for the given parameter values. */
  build(dim: number, params: FlowParams): FlowBijector;
}

/** A parameter by name, or an error naming the layer. */
export function need(layer: string, params: FlowParams, name: string): tf.Tensor {
  const p = params[name];
  if (!p) throw new Error(`${layer}: missing parameter "${name}"`);
  return p;
}

/** Small normal initial values `[...shape]` with standard deviation `sd`. */
export function smallNormal(rng: Rng, shape: number[], sd: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from(rng.normals(n), (x) => sd * x), shape);
}

/** `x @ w + b` over the last axis of x `[..., I]` with w `[I, O]` and b `[O]`. */
export function dense(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const lead = x.shape.slice(0, -1);
  const flat = tf.reshape(x, [-1, x.shape[x.rank - 1]!]);
  const y = tf.add(tf.matMul(flat, w), b);
  return tf.reshape(y, [...lead, w.shape[1]!]);
}
