/**
 * The Delta (point mass) distribution.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../core/rng.js';
import { type Value, type ValueLike, add, broadcastShapes, shapeOf, sumLast, toNumber, toTensor } from '../core/value.js';
import { type Constraint, independent, real } from './constraints.js';
import { Distribution, type DrawType, type Typed, param, sameShape, valueArg } from './distribution.js';

/** Options of {@link Delta}. */
export interface DeltaOptions {
  /**
   * Log-density reported at the point (default 0), as in NumPyro: lets a
   * deterministic transform carry its log-Jacobian. Broadcasts with the batch.
   */
  readonly logDensity?: ValueLike;
  /** How many trailing axes of `v` form one event (default 0). */
  readonly eventDim?: number;
}

/**
 * Delta(v): all mass at the point `v`. `logProb(x)` is `logDensity` (0 by
 * default) where `x` equals `v` exactly over the event, and `-Infinity`
 * elsewhere. Draws return `v` (broadcast to the sample shape), so gradients
 * flow through `v` when it is a tensor.
 */
export class DeltaDistribution extends Distribution {
  readonly name = 'Delta';
  readonly support: Constraint;
  override readonly hasRsample = true;
  readonly batchShape: readonly number[];
  override readonly eventShape: readonly number[];
  /** The point. */
  readonly v: Value;
  /** The log-density reported at the point. */
  readonly logDensity: Value;
  /** Number of trailing axes of `v` that form one event. */
  readonly eventDim: number;
  private pointCache: Value[] | undefined;

  /**
   * @param v - the point
   * @param options - `logDensity` at the point and `eventDim`
   */
  constructor(v: ValueLike, options: DeltaOptions = {}) {
    super();
    this.v = param('Delta', 'v', v);
    this.logDensity = param('Delta', 'logDensity', options.logDensity ?? 0);
    const shape = shapeOf(this.v);
    const eventDim = options.eventDim ?? 0;
    if (!Number.isInteger(eventDim) || eventDim < 0 || eventDim > shape.length) {
      throw new RangeError(`Delta: eventDim must be an integer in 0..${shape.length} (the rank of v), got ${eventDim}`);
    }
    this.eventDim = eventDim;
    this.eventShape = shape.slice(shape.length - eventDim);
    this.batchShape = broadcastShapes(shape.slice(0, shape.length - eventDim), shapeOf(this.logDensity), 'Delta: v and logDensity');
    this.support = independent(real, eventDim);
  }

  sample(_rng: Rng, sampleShape: readonly number[] = []): Value {
    const shape = this.shape(sampleShape);
    if (typeof this.v === 'number' && shape.length === 0) return this.v;
    // a fresh tensor (clone is an identity for gradients), so disposing a draw never disposes v
    if (sameShape(shapeOf(this.v), shape)) return tf.clone(this.v);
    return tf.broadcastTo(toTensor(this.v), shape);
  }

  logProb(xLike: ValueLike): Value {
    const x = valueArg(this, 'logProb', xLike);
    const v = this.v;
    const ld = this.logDensity;
    if (typeof x === 'number' && typeof v === 'number' && typeof ld === 'number') return x === v ? ld : -Infinity;
    return tf.tidy(() => {
      const hit = tf.equal(toTensor(x), toTensor(v));
      const lp = sumLast(tf.where(hit, tf.zeros(hit.shape), tf.fill(hit.shape, -Infinity)), this.eventDim);
      return add(lp, ld) as tf.Tensor;
    });
  }

  override get mean(): Value {
    return this.v;
  }
  override get variance(): Value {
    return typeof this.v === 'number' ? 0 : tf.zerosLike(this.v);
  }

  /** `[v]` when the batch shape is `[]` (a number when `v` holds one element and eventDim is 0), else `undefined`. */
  override enumerateSupport(): Value[] | undefined {
    if (this.batchShape.length !== 0) return undefined;
    if (this.pointCache === undefined) this.pointCache = Object.freeze([this.eventDim === 0 ? toNumber(this.v) : this.v]) as Value[];
    return this.pointCache;
  }
}

/** The draw type of `Delta(v, options)`: `number` when `v` (and any `logDensity`) are numbers. */
export type DeltaDraw<V, O> = O extends { readonly logDensity: infer L } ? (L extends undefined ? DrawType<[V]> : DrawType<[V, L]>) : DrawType<[V]>;

/** Delta(v, { logDensity, eventDim }): a point mass at `v`. */
export function Delta<V extends ValueLike, O extends DeltaOptions = DeltaOptions>(v: V, options?: O): DeltaDistribution & Typed<DeltaDraw<V, O>> {
  return new DeltaDistribution(v, options);
}
