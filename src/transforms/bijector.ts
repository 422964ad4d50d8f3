/**
 * The bijector interface (TFP style).
 *
 * A bijector is an invertible, differentiable map `y = forward(x)` from its
 * {@link Bijector.domain} onto its {@link Bijector.codomain}, together with
 * `log|det dy/dx|`. Inference engines use bijectors to move between a
 * constrained space (a distribution's support) and unconstrained real space
 * (see `bijectTo`), and {@link TransformedDistribution} uses them to build new
 * distributions.
 *
 * Shapes: a bijector acts on the last `eventDimIn` axes of its input and
 * produces values whose last `eventDimOut` axes are one event; any leading
 * axes are batch axes and are carried through unchanged. Elementwise
 * bijectors have `eventDimIn = eventDimOut = 0` and work on plain numbers
 * (float64, no tensor dispatch) as well as tensors; vector and matrix
 * bijectors work on tensors only. Every tensor path is built from
 * differentiable tfjs ops.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type Value, describe, neg, shapeOf } from '../core/value.js';
import type { Constraint } from '../distributions/constraints.js';

/** An invertible, differentiable map between two constrained spaces. */
export abstract class Bijector {
  /** Name used in messages, e.g. `Exp` or `StickBreaking`. */
  abstract readonly name: string;
  /** The set of valid inputs; its `eventDim` is {@link Bijector.eventDimIn}. */
  abstract readonly domain: Constraint;
  /** The set of outputs; its `eventDim` is {@link Bijector.eventDimOut}. */
  abstract readonly codomain: Constraint;

  /** Number of trailing input axes that form one event. */
  get eventDimIn(): number {
    return this.domain.eventDim;
  }
  /** Number of trailing output axes that form one event. */
  get eventDimOut(): number {
    return this.codomain.eventDim;
  }

  /** `y = f(x)`. */
  abstract forward(x: Value): Value;
  /** `x = f^{-1}(y)`; values outside the codomain give NaN or infinities. */
  abstract inverse(y: Value): Value;
  /**
   * `log|det J|` with `J = dy/dx` taken over the free coordinates of one
   * event, summed over the bijector's event axes: the result has the
   * input's shape less its last {@link Bijector.eventDimIn} axes. For
   * shape-changing bijectors (e.g. R^(K-1) to the K-simplex) the Jacobian is
   * that of the free output coordinates, as in Stan. `y` may be passed when
   * already known, to save recomputing it.
   */
  abstract logDetJacobian(x: Value, y?: Value): Value;

  /** `log|det dx/dy|` at `y`, i.e. minus the forward log-Jacobian at `inverse(y)`. */
  inverseLogDetJacobian(y: Value): Value {
    const x = this.inverse(y);
    return neg(this.logDetJacobian(x, y));
  }

  /** The output shape for an input of shape `shape` (identity unless the event shape changes). */
  forwardShape(shape: readonly number[]): number[] {
    return [...shape];
  }
  /** The input shape for an output of shape `shape`. */
  inverseShape(shape: readonly number[]): number[] {
    return [...shape];
  }

  /** `Name(domain -> codomain)`, for messages. */
  toString(): string {
    return `${this.name}(${this.domain.name} -> ${this.codomain.name})`;
  }
}

/**
 * The value as a tensor with at least `minRank` axes, or an error naming the
 * bijector (vector and matrix bijectors have no number path).
 */
export function eventTensor(who: string, x: Value, minRank: number, what = 'vector'): tf.Tensor {
  if (typeof x === 'number' || x.rank < minRank) {
    throw new Error(`${who}: expected a ${what} (a tensor with at least ${minRank} ${minRank === 1 ? 'axis' : 'axes'}), got ${typeof x === 'number' ? `the number ${x}` : describe(x)}`);
  }
  return x;
}

/** Throw unless `x` has at least `n` axes (the bijector's event axes). */
export function checkEventRank(who: string, x: Value, n: number): void {
  const r = shapeOf(x).length;
  if (r < n) throw new Error(`${who}: expected a value with at least ${n} event ${n === 1 ? 'axis' : 'axes'}, got ${describe(x)}`);
}
