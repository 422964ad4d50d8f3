/**
 * Masked autoregressive flows: MAF (Papamakarios et al. 2017) and IAF
 * (Kingma et al. 2016), both built on a MADE network (Germain et al. 2015)
 * whose masks make output i depend only on inputs before i.
 *
 * The same affine autoregressive map is used in two directions:
 *
 * - **IAF**: `y_i = x_i exp(s_i(x_<i)) + m_i(x_<i)`: forward (sampling) is one
 *   network pass, inverse (density of outside points) is D passes. Suited to
 *   variational guides, which only score their own draws.
 * - **MAF**: `y_i = x_i exp(s_i(y_<i)) + m_i(y_<i)`: inverse (density) is one
 *   pass, forward (sampling) D passes. Suited to density estimation.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import type { Value } from '../core/value.js';
import { FlowBijector, type FlowLayer, type FlowParams, dense, need, smallNormal } from './flow-bijector.js';

/** MADE masks for D inputs and H hidden units: `[D, H]` and `[H, D]`, as 0/1 arrays. */
export function madeMasks(dim: number, hidden: number): { m1: Float32Array; m2: Float32Array } {
  // input i has degree i+1; hidden unit k has degree in 1..D-1; output j has degree j+1
  const hd = Array.from({ length: hidden }, (_, k) => (dim > 1 ? (k % (dim - 1)) + 1 : 0));
  const m1 = new Float32Array(dim * hidden);
  const m2 = new Float32Array(hidden * dim);
  for (let i = 0; i < dim; i++) for (let k = 0; k < hidden; k++) m1[i * hidden + k] = hd[k]! >= i + 1 && dim > 1 ? 1 : 0;
  for (let k = 0; k < hidden; k++) for (let j = 0; j < dim; j++) m2[k * dim + j] = dim > 1 && hd[k]! < j + 1 ? 1 : 0;
  return { m1, m2 };
}

/**
 * Solve an autoregressive system by fixed-point passes: starting from zeros
 * like `shape`, `z = step(z)` D times. After pass i the first i coordinates
 * are exact (output i depends only on conditioning values before i).
 */
export function autoregressiveSolve(dim: number, shape: tf.Tensor, step: (z: tf.Tensor) => tf.Tensor): tf.Tensor {
  let z = tf.zerosLike(shape);
  for (let i = 0; i < dim; i++) z = step(z);
  return z;
}

/** Which way the autoregressive map conditions (see the module documentation). */
export type AutoregressiveDirection = 'iaf' | 'maf';

/** A masked affine autoregressive bijector. */
export class MaskedAutoregressiveBijector extends FlowBijector {
  readonly name: string;
  private readonly w1: tf.Tensor;
  private readonly w2: tf.Tensor;

  /**
   * @param dim - vector length D
   * @param params - `w1 [D, H]`, `b1 [H]`, `w2 [H, 2D]`, `b2 [2D]` (masked here)
   * @param direction - `'iaf'` or `'maf'`
   */
  constructor(dim: number, private readonly params: FlowParams, readonly direction: AutoregressiveDirection) {
    super(dim);
    this.name = direction === 'iaf' ? 'IAF' : 'MAF';
    const w1 = need(this.name, params, 'w1');
    const hidden = w1.shape[1]!;
    const { m1, m2 } = madeMasks(dim, hidden);
    this.w1 = tf.mul(w1, tf.tensor2d(m1, [dim, hidden]));
    const m2Both = tf.concat([tf.tensor2d(m2, [hidden, dim]), tf.tensor2d(m2, [hidden, dim])], 1);
    this.w2 = tf.mul(need(this.name, params, 'w2'), m2Both);
  }

  /** Shift m and log-scale s at conditioning values c (each output depends on c_<i only). */
  private net(c: tf.Tensor): { m: tf.Tensor; s: tf.Tensor } {
    const h = tf.tanh(dense(c, this.w1, need(this.name, this.params, 'b1')));
    const [m, s] = tf.split(dense(h, this.w2, need(this.name, this.params, 'b2')), 2, -1) as [tf.Tensor, tf.Tensor];
    return { m, s };
  }

  /** `y = x exp(s(c)) + m(c)` with c = x: one pass. */
  private parallelForward(x: tf.Tensor): tf.Tensor {
    const { m, s } = this.net(x);
    return tf.add(tf.mul(x, tf.exp(s)), m);
  }

  /** `x = (y - m(x)) exp(-s(x))` solved coordinate by coordinate: D passes. */
  private sequentialInverse(y: tf.Tensor): tf.Tensor {
    return autoregressiveSolve(this.dim, y, (x) => {
      const { m, s } = this.net(x);
      return tf.mul(tf.sub(y, m), tf.exp(tf.neg(s)));
    });
  }

  /** `u = (y - m(y)) exp(-s(y))`: one pass. */
  private parallelInverse(y: tf.Tensor): tf.Tensor {
    const { m, s } = this.net(y);
    return tf.mul(tf.sub(y, m), tf.exp(tf.neg(s)));
  }

  /** `y_i = u_i exp(s_i(y_<i)) + m_i(y_<i)`: D passes. */
  private sequentialForward(u: tf.Tensor): tf.Tensor {
    return autoregressiveSolve(this.dim, u, (y) => {
      const { m, s } = this.net(y);
      return tf.add(tf.mul(u, tf.exp(s)), m);
    });
  }

  forward(x: Value): Value {
    const v = this.vec(x);
    return this.direction === 'iaf' ? this.parallelForward(v) : this.sequentialForward(v);
  }

  inverse(y: Value): Value {
    const v = this.vec(y);
    return this.direction === 'iaf' ? this.sequentialInverse(v) : this.parallelInverse(v);
  }

  logDetJacobian(x: Value, y?: Value): Value {
    const v = this.vec(x);
    // the log-scale is a function of the conditioning values: x for IAF, y for MAF
    const c = this.direction === 'iaf' ? v : y === undefined ? (this.forward(v) as tf.Tensor) : this.vec(y);
    return tf.sum(this.net(c).s, -1);
  }
}

/** Options of {@link iaf} and {@link maf}. */
export interface AutoregressiveOptions {
  /** Hidden units of the MADE network (default 2D + 8). */
  readonly hidden?: number;
}

function autoregressive(direction: AutoregressiveDirection, options: AutoregressiveOptions): FlowLayer {
  return {
    name: direction,
    init: (dim: number, rng: Rng) => {
      const hidden = options.hidden ?? 2 * dim + 8;
      return { w1: smallNormal(rng, [dim, hidden], 1 / Math.sqrt(dim)), b1: tf.zeros([hidden]), w2: tf.zeros([hidden, 2 * dim]), b2: tf.zeros([2 * dim]) };
    },
    build: (dim: number, p: FlowParams) => new MaskedAutoregressiveBijector(dim, p, direction),
  };
}

/** An inverse autoregressive flow layer (fast sampling: for guides). */
export function iaf(options: AutoregressiveOptions = {}): FlowLayer {
  return autoregressive('iaf', options);
}

/** A masked autoregressive flow layer (fast density: for density estimation). */
export function maf(options: AutoregressiveOptions = {}): FlowLayer {
  return autoregressive('maf', options);
}
