/**
 * Affine coupling (RealNVP, Dinh et al. 2017) and the reversal permutation.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import type { Value } from '../core/value.js';
import { FlowBijector, type FlowLayer, type FlowParams, dense, need, smallNormal } from './flow-bijector.js';

/**
 * Affine coupling: with a binary mask m, the masked coordinates pass through
 * and condition an affine map of the others,
 * `y = m x + (1 - m) (x exp(s(m x)) + t(m x))`, where `(s, t)` come from a
 * one-hidden-layer tanh network. `log|det J| = sum (1 - m) s`; the inverse is
 * closed form. The output layer starts at zero, so a new layer is the identity.
 */
export class AffineCouplingBijector extends FlowBijector {
  readonly name = 'AffineCoupling';

  /**
   * @param mask - `[D]` of 0/1: 1 for the conditioning coordinates
   * @param params - `w1 [D, H]`, `b1 [H]`, `w2 [H, 2D]`, `b2 [2D]`
   */
  constructor(readonly mask: tf.Tensor, private readonly params: FlowParams) {
    super(mask.shape[0]!);
  }

  /** (s, t) at the conditioning coordinates, zero where the mask is 1. */
  private scaleShift(xm: tf.Tensor): { s: tf.Tensor; t: tf.Tensor } {
    const p = this.params;
    const h = tf.tanh(dense(xm, need(this.name, p, 'w1'), need(this.name, p, 'b1')));
    const out = dense(h, need(this.name, p, 'w2'), need(this.name, p, 'b2'));
    const free = tf.sub(1, this.mask);
    const [s, t] = tf.split(out, 2, -1) as [tf.Tensor, tf.Tensor];
    return { s: tf.mul(s, free), t: tf.mul(t, free) };
  }

  forward(x: Value): Value {
    const v = this.vec(x);
    const { s, t } = this.scaleShift(tf.mul(v, this.mask));
    return tf.add(tf.mul(v, tf.exp(s)), t);
  }

  inverse(y: Value): Value {
    const v = this.vec(y);
    const { s, t } = this.scaleShift(tf.mul(v, this.mask));
    return tf.mul(tf.sub(v, t), tf.exp(tf.neg(s)));
  }

  logDetJacobian(x: Value): Value {
    const v = this.vec(x);
    return tf.sum(this.scaleShift(tf.mul(v, this.mask)).s, -1);
  }
}

/** Options of {@link affineCoupling}. */
export interface CouplingOptions {
  /** Hidden units (default 16). */
  readonly hidden?: number;
  /** Condition on the second half instead of the first (alternate layers). */
  readonly flip?: boolean;
}

/** The coupling mask `[D]`: 1 on the first half (the second half when `flip`), the conditioning coordinates. */
export function couplingMask(dim: number, flip: boolean): tf.Tensor {
  return tf.tensor1d(Array.from({ length: dim }, (_, i) => ((i < Math.floor(dim / 2)) !== flip ? 1 : 0)));
}

/** The affine coupling layer (conditioning half chosen by `flip`). */
export function affineCoupling(options: CouplingOptions = {}): FlowLayer {
  const hidden = options.hidden ?? 16;
  const maskFor = (dim: number) => couplingMask(dim, options.flip ?? false);
  return {
    name: 'affineCoupling',
    init: (dim: number, rng: Rng) => ({
      w1: smallNormal(rng, [dim, hidden], 1 / Math.sqrt(dim)),
      b1: tf.zeros([hidden]),
      w2: tf.zeros([hidden, 2 * dim]),
      b2: tf.zeros([2 * dim]),
    }),
    build: (dim: number, p: FlowParams) => new AffineCouplingBijector(maskFor(dim), p),
  };
}

/** Reverse the order of the coordinates (volume preserving); alternate it with autoregressive layers. */
export class ReverseBijector extends FlowBijector {
  readonly name = 'Reverse';

  forward(x: Value): Value {
    const v = this.vec(x);
    return tf.reverse(v, [v.rank - 1]);
  }

  inverse(y: Value): Value {
    return this.forward(y);
  }

  logDetJacobian(x: Value): Value {
    const v = this.vec(x);
    return tf.zeros(v.shape.slice(0, -1));
  }
}

/** The reversal layer (no parameters). */
export function reverse(): FlowLayer {
  return { name: 'reverse', init: () => ({}), build: (dim: number) => new ReverseBijector(dim) };
}
