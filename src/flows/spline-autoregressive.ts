/**
 * Autoregressive rational-quadratic spline flows: the splines of
 * `spline.ts` conditioned by a MADE network (the masks of
 * `autoregressive.ts`), so coordinate i's spline depends only on the
 * conditioning values before i. As for the affine MAF / IAF:
 *
 * - **IAF** (`'iaf'`): `y_i = g(x_i; x_<i)`: forward one pass, inverse D passes (guides).
 * - **MAF** (`'maf'`): `y_i = g(x_i; y_<i)`: inverse one pass, forward D passes (density estimation).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import type { Value } from '../core/value.js';
import { type AutoregressiveDirection, autoregressiveSolve, madeMasks } from './autoregressive.js';
import { FlowBijector, type FlowLayer, type FlowParams, dense, need, smallNormal } from './flow-bijector.js';
import { type SplineBins, type SplineOptions, type SplineShape, splineForward, splineHeadInit, splineHeads, splineInverse, splineLogSlopes, splineShapeOf } from './spline.js';

/** A masked autoregressive rational-quadratic spline bijector. */
export class MaskedSplineBijector extends FlowBijector {
  readonly name: string;
  private readonly w1: tf.Tensor;
  private readonly m2: Float32Array;
  private readonly hidden: number;

  /**
   * @param dim - vector length D
   * @param params - `w1 [D, H]`, `b1 [H]` and the spline heads (see {@link splineHeads}), masked here
   * @param shape - bins, bound and minimum sizes
   * @param direction - `'iaf'` or `'maf'`
   */
  constructor(dim: number, private readonly params: FlowParams, readonly shape: SplineShape, readonly direction: AutoregressiveDirection) {
    super(dim);
    this.name = direction === 'iaf' ? 'SplineIAF' : 'SplineMAF';
    const w1 = need(this.name, params, 'w1');
    this.hidden = w1.shape[1]!;
    const { m1, m2 } = madeMasks(dim, this.hidden);
    this.w1 = tf.mul(w1, tf.tensor2d(m1, [dim, this.hidden]));
    this.m2 = m2;
  }

  /** The MADE output mask `[H, D P]` for a head with P raw values per coordinate (column d P + p follows coordinate d). */
  private headMask(per: number): tf.Tensor {
    const { hidden, dim, m2 } = this;
    const m = new Float32Array(hidden * dim * per);
    for (let k = 0; k < hidden; k++) for (let d = 0; d < dim; d++) m.fill(m2[k * dim + d]!, (k * dim + d) * per, (k * dim + d + 1) * per);
    return tf.tensor2d(m, [hidden, dim * per]);
  }

  /** Each coordinate's spline from the conditioning values `c` (coordinate i's from `c_<i` only). */
  private bins(c: tf.Tensor): SplineBins {
    const h = tf.tanh(dense(c, this.w1, need(this.name, this.params, 'b1')));
    return splineHeads(this.name, h, this.params, this.dim, this.shape, (per) => this.headMask(per));
  }

  forward(x: Value): Value {
    const v = this.vec(x);
    if (this.direction === 'iaf') return splineForward(v, this.bins(v), this.shape);
    return autoregressiveSolve(this.dim, v, (y) => splineForward(v, this.bins(y), this.shape));
  }

  inverse(y: Value): Value {
    const v = this.vec(y);
    if (this.direction === 'maf') return splineInverse(v, this.bins(v), this.shape);
    return autoregressiveSolve(this.dim, v, (x) => splineInverse(v, this.bins(x), this.shape));
  }

  logDetJacobian(x: Value, y?: Value): Value {
    const v = this.vec(x);
    // the splines are functions of the conditioning values: x for IAF, y for MAF
    const c = this.direction === 'iaf' ? v : y === undefined ? (this.forward(v) as tf.Tensor) : this.vec(y);
    return tf.sum(splineLogSlopes(v, this.bins(c), this.shape), -1);
  }
}

/** Options of {@link splineMaf} and {@link splineIaf}. */
export interface SplineAutoregressiveOptions extends SplineOptions {
  /** Hidden units of the MADE network (default 2D + 8). */
  readonly hidden?: number;
}

function splineAutoregressive(direction: AutoregressiveDirection, options: SplineAutoregressiveOptions): FlowLayer {
  const who = direction === 'iaf' ? 'splineIaf' : 'splineMaf';
  const shape = splineShapeOf(who, options);
  if (options.hidden !== undefined && (!Number.isInteger(options.hidden) || options.hidden < 1)) throw new RangeError(`${who}: hidden must be a positive integer, got ${options.hidden}`);
  return {
    name: who,
    init: (dim: number, rng: Rng) => {
      const hidden = options.hidden ?? 2 * dim + 8;
      return { w1: smallNormal(rng, [dim, hidden], 1 / Math.sqrt(dim)), b1: tf.zeros([hidden]), ...splineHeadInit(hidden, dim, shape.bins) };
    },
    build: (dim: number, p: FlowParams) => new MaskedSplineBijector(dim, p, shape, direction),
  };
}

/** A masked autoregressive spline layer (one-pass density: for density estimation). */
export function splineMaf(options: SplineAutoregressiveOptions = {}): FlowLayer {
  return splineAutoregressive('maf', options);
}

/** An inverse autoregressive spline layer (one-pass sampling: for guides). */
export function splineIaf(options: SplineAutoregressiveOptions = {}): FlowLayer {
  return splineAutoregressive('iaf', options);
}
