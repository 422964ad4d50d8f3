/**
 * Combinators: Compose (a chain of bijectors) and Independent (treat batch
 * axes of a bijector as event axes).
 *
 * @module
 */
import { type Value, add, shapeOf, sumLast } from '../core/value.js';
import { type Constraint, independent, real } from '../distributions/constraints.js';
import { Bijector, checkEventRank } from './bijector.js';
import { tidyValue } from './math.js';

/**
 * Bijectors applied in order: `forward` applies `parts[0]` first (as
 * NumPyro's `ComposeTransform`; note TFP's `Chain` lists them the other
 * way round). The event dimensions are the smallest that cover every part:
 * an elementwise bijector followed by a vector one acts on vectors, and its
 * log-Jacobian is summed over the vector axis.
 */
export class ComposeBijector extends Bijector {
  readonly name: string;
  readonly domain: Constraint;
  readonly codomain: Constraint;
  /** The bijectors, in the order `forward` applies them. */
  readonly parts: readonly Bijector[];

  constructor(parts: readonly Bijector[]) {
    super();
    const flat: Bijector[] = [];
    for (const p of parts) {
      if (!(p instanceof Bijector)) throw new TypeError(`Compose: every part must be a Bijector, got ${typeof p}`);
      if (p instanceof ComposeBijector) flat.push(...p.parts);
      else flat.push(p);
    }
    this.parts = flat;
    this.name = flat.length === 0 ? 'Compose()' : `Compose(${flat.map((p) => p.name).join(', ')})`;
    if (flat.length === 0) {
      this.domain = real;
      this.codomain = real;
      return;
    }
    // smallest domain event dimension covering every part (walk backwards)
    let e = flat[flat.length - 1].eventDimOut;
    for (let i = flat.length - 1; i >= 0; i--) e = Math.max(e + flat[i].eventDimIn - flat[i].eventDimOut, flat[i].eventDimIn);
    this.domain = independent(flat[0].domain, e - flat[0].eventDimIn);
    // and the matching codomain event dimension (walk forwards)
    e = flat[0].eventDimIn;
    for (const p of flat) e = Math.max(e + p.eventDimOut - p.eventDimIn, p.eventDimOut);
    const last = flat[flat.length - 1];
    this.codomain = independent(last.codomain, e - last.eventDimOut);
  }

  forward(x: Value): Value {
    return tidyValue(x, () => {
      let v = x;
      for (const p of this.parts) v = p.forward(v);
      return v;
    });
  }

  inverse(y: Value): Value {
    return tidyValue(y, () => {
      let v = y;
      for (let i = this.parts.length - 1; i >= 0; i--) v = this.parts[i].inverse(v);
      return v;
    });
  }

  logDetJacobian(x: Value, y?: Value): Value {
    checkEventRank(this.name, x, this.eventDimIn);
    const batchRank = shapeOf(x).length - this.eventDimIn;
    return tidyValue(x, () => {
      let total: Value = 0;
      let v = x;
      this.parts.forEach((p, i) => {
        const next = i === this.parts.length - 1 && y !== undefined ? y : p.forward(v);
        const ld = p.logDetJacobian(v, next);
        total = add(total, sumLast(ld, shapeOf(ld).length - batchRank));
        v = next;
      });
      return total;
    });
  }

  override forwardShape(shape: readonly number[]): number[] {
    let s = [...shape];
    for (const p of this.parts) s = p.forwardShape(s);
    return s;
  }

  override inverseShape(shape: readonly number[]): number[] {
    let s = [...shape];
    for (let i = this.parts.length - 1; i >= 0; i--) s = this.parts[i].inverseShape(s);
    return s;
  }
}

/**
 * A bijector whose last `reinterpreted` batch axes are treated as event
 * axes: the same map, with the log-Jacobian summed over those axes.
 */
export class IndependentBijector extends Bijector {
  readonly name: string;
  readonly domain: Constraint;
  readonly codomain: Constraint;

  constructor(
    readonly base: Bijector,
    readonly reinterpreted: number,
  ) {
    super();
    if (!Number.isInteger(reinterpreted) || reinterpreted < 0) {
      throw new RangeError(`Independent: the number of reinterpreted axes must be a nonnegative integer, got ${reinterpreted}`);
    }
    this.name = `Independent(${base.name}, ${reinterpreted})`;
    this.domain = independent(base.domain, reinterpreted);
    this.codomain = independent(base.codomain, reinterpreted);
  }
  forward(x: Value): Value {
    return this.base.forward(x);
  }
  inverse(y: Value): Value {
    return this.base.inverse(y);
  }
  logDetJacobian(x: Value, y?: Value): Value {
    checkEventRank(this.name, x, this.eventDimIn);
    return tidyValue(x, () => sumLast(this.base.logDetJacobian(x, y), this.reinterpreted));
  }
  override forwardShape(shape: readonly number[]): number[] {
    return this.base.forwardShape(shape);
  }
  override inverseShape(shape: readonly number[]): number[] {
    return this.base.inverseShape(shape);
  }
}

/** Apply `parts` in order (`parts[0]` first). */
export function Compose(...parts: (Bijector | readonly Bijector[])[]): ComposeBijector {
  return new ComposeBijector(parts.flat() as Bijector[]);
}

/** `base` with its last `reinterpreted` batch axes treated as event axes. */
export function Independent(base: Bijector, reinterpreted: number): IndependentBijector {
  return new IndependentBijector(base, reinterpreted);
}
