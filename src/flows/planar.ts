/**
 * Planar and radial flows (Rezende & Mohamed 2015).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import type { Value } from '../core/value.js';
import { FlowBijector, type FlowLayer, type FlowParams, need, smallNormal } from './flow-bijector.js';

/** Bisection iterations of the planar and radial inverses (float32 precision is reached well before). */
const BISECTIONS = 60;

/**
 * Planar flow `y = x + u' tanh(w.x + b)`, with `u'` the projection of `u`
 * that keeps the map invertible (`w.u' >= -1`):
 * `u' = u + (softplus(w.u) - 1 - w.u) w / |w|^2`.
 * `log|det J| = log|1 + (1 - tanh^2(w.x + b)) w.u'|`. The inverse solves the
 * monotone scalar equation `a + (w.u') tanh(a + b) = w.y` for `a = w.x` by
 * bisection (no closed form).
 */
export class PlanarBijector extends FlowBijector {
  readonly name = 'Planar';
  private readonly u: tf.Tensor;

  /**
   * @param u - `[D]`
   * @param w - `[D]`
   * @param b - `[]`
   */
  constructor(u: tf.Tensor, readonly w: tf.Tensor, readonly b: tf.Tensor) {
    super(w.shape[0]!);
    const wu = tf.sum(tf.mul(w, u));
    const m = tf.sub(tf.softplus(wu), 1);
    this.u = tf.add(u, tf.mul(tf.div(tf.sub(m, wu), tf.add(tf.sum(tf.square(w)), 1e-8)), w));
  }

  private pre(x: tf.Tensor): tf.Tensor {
    return tf.add(tf.sum(tf.mul(x, this.w), -1), this.b);
  }

  forward(x: Value): Value {
    const t = this.vec(x);
    return tf.add(t, tf.mul(tf.expandDims(tf.tanh(this.pre(t)), -1), this.u));
  }

  inverse(y: Value): Value {
    const t = this.vec(y);
    return tf.tidy(() => {
      const wu = tf.sum(tf.mul(this.w, this.u));
      const target = tf.sum(tf.mul(t, this.w), -1);
      // a + wu tanh(a + b) = target has its root within |wu| of target
      const span = tf.add(tf.abs(wu), 1e-6);
      let lo = tf.sub(target, span);
      let hi = tf.add(target, span);
      for (let i = 0; i < BISECTIONS; i++) {
        const mid = tf.div(tf.add(lo, hi), 2);
        const f = tf.sub(tf.add(mid, tf.mul(wu, tf.tanh(tf.add(mid, this.b)))), target);
        const above = tf.greater(f, 0);
        lo = tf.where(above, lo, mid);
        hi = tf.where(above, mid, hi);
      }
      const a = tf.div(tf.add(lo, hi), 2);
      return tf.sub(t, tf.mul(tf.expandDims(tf.tanh(tf.add(a, this.b)), -1), this.u));
    });
  }

  logDetJacobian(x: Value): Value {
    const t = this.vec(x);
    const th = tf.tanh(this.pre(t));
    const wu = tf.sum(tf.mul(this.w, this.u));
    return tf.log(tf.abs(tf.add(1, tf.mul(tf.sub(1, tf.square(th)), wu))));
  }
}

/** The planar flow layer: parameters `u`, `w` `[D]` and `b`. */
export function planar(): FlowLayer {
  return {
    name: 'planar',
    init: (dim: number, rng: Rng) => ({ u: smallNormal(rng, [dim], 0.01), w: smallNormal(rng, [dim], 0.1), b: tf.scalar(0) }),
    build: (_dim: number, p: FlowParams) => new PlanarBijector(need('planar', p, 'u'), need('planar', p, 'w'), need('planar', p, 'b')),
  };
}

/**
 * Radial flow `y = x + beta h(r) (x - z0)`, `r = |x - z0|`,
 * `h = 1 / (alpha + r)`, with `alpha = softplus(alphaRaw) > 0` and
 * `beta = softplus(betaRaw) - alpha >= -alpha` (invertible).
 * `log|det J| = (D - 1) log(1 + beta h) + log(1 + beta h - beta r h^2)`.
 * The inverse solves a quadratic for r.
 */
export class RadialBijector extends FlowBijector {
  readonly name = 'Radial';
  private readonly alpha: tf.Tensor;
  private readonly beta: tf.Tensor;

  /**
   * @param z0 - centre `[D]`
   * @param alphaRaw - `[]`
   * @param betaRaw - `[]`
   */
  constructor(readonly z0: tf.Tensor, alphaRaw: tf.Tensor, betaRaw: tf.Tensor) {
    super(z0.shape[0]!);
    this.alpha = tf.softplus(alphaRaw);
    this.beta = tf.sub(tf.softplus(betaRaw), this.alpha);
  }

  private parts(t: tf.Tensor): { d: tf.Tensor; r: tf.Tensor; h: tf.Tensor } {
    const d = tf.sub(t, this.z0);
    const r = tf.sqrt(tf.add(tf.sum(tf.square(d), -1), 1e-12));
    return { d, r, h: tf.div(1, tf.add(this.alpha, r)) };
  }

  forward(x: Value): Value {
    const t = this.vec(x);
    const { d, h } = this.parts(t);
    return tf.add(t, tf.mul(tf.expandDims(tf.mul(this.beta, h), -1), d));
  }

  inverse(y: Value): Value {
    const t = this.vec(y);
    return tf.tidy(() => {
      const { d: dy, r: ry } = this.parts(t);
      // ry = r (1 + beta / (alpha + r))  =>  r^2 + (alpha + beta - ry) r - alpha ry = 0
      const c = tf.sub(tf.add(this.alpha, this.beta), ry);
      const r = tf.div(tf.add(tf.neg(c), tf.sqrt(tf.add(tf.square(c), tf.mul(4, tf.mul(this.alpha, ry))))), 2);
      const scale = tf.add(1, tf.div(this.beta, tf.add(this.alpha, r)));
      return tf.add(this.z0, tf.div(dy, tf.expandDims(scale, -1)));
    });
  }

  logDetJacobian(x: Value): Value {
    const t = this.vec(x);
    const { r, h } = this.parts(t);
    const bh = tf.mul(this.beta, h);
    const last = tf.sub(tf.add(1, bh), tf.mul(tf.mul(this.beta, r), tf.square(h)));
    return tf.add(tf.mul(this.dim - 1, tf.log1p(bh)), tf.log(last));
  }
}

/** The radial flow layer: parameters `z0` `[D]`, `alphaRaw`, `betaRaw`. */
export function radial(): FlowLayer {
  return {
    name: 'radial',
    init: (dim: number, rng: Rng) => ({ z0: smallNormal(rng, [dim], 0.1), alphaRaw: tf.scalar(0), betaRaw: tf.scalar(Math.log(Math.expm1(Math.log(2)))) }),
    build: (_dim: number, p: FlowParams) => new RadialBijector(need('radial', p, 'z0'), need('radial', p, 'alphaRaw'), need('radial', p, 'betaRaw')),
  };
}
