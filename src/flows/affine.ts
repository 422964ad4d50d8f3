/**
 * The elementwise affine flow layer `y = loc + exp(logScale) x`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Value } from '../core/value.js';
import { FlowBijector, type FlowLayer, type FlowParams, need } from './flow-bijector.js';

/** `y = loc + exp(logScale) x`, elementwise over a vector. */
export class ElementwiseAffineBijector extends FlowBijector {
  readonly name = 'ElementwiseAffine';

  /**
   * @param loc - `[D]`
   * @param logScale - `[D]`
   */
  constructor(readonly loc: tf.Tensor, readonly logScale: tf.Tensor) {
    super(loc.shape[0]!);
  }

  forward(x: Value): Value {
    return tf.add(this.loc, tf.mul(tf.exp(this.logScale), this.vec(x)));
  }

  inverse(y: Value): Value {
    return tf.mul(tf.sub(this.vec(y), this.loc), tf.exp(tf.neg(this.logScale)));
  }

  logDetJacobian(x: Value): Value {
    const v = this.vec(x);
    return tf.broadcastTo(tf.sum(this.logScale), v.shape.slice(0, -1));
  }
}

/** The elementwise affine layer; starts at `loc = 0` and `scale = initScale` (default 1). */
export function affine(initScale = 1): FlowLayer {
  if (!(initScale > 0)) throw new RangeError(`affine: initScale must be positive, got ${initScale}`);
  return {
    name: 'affine',
    init: (dim: number) => ({ loc: tf.zeros([dim]), logScale: tf.fill([dim], Math.log(initScale)) }),
    build: (_dim: number, p: FlowParams) => new ElementwiseAffineBijector(need('affine', p, 'loc'), need('affine', p, 'logScale')),
  };
}
