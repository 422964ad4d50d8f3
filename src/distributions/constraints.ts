/**
 * Constraints: the support of a distribution or the domain of a parameter.
 *
 * A constraint can test a value ({@link Constraint.check}) and says whether it
 * is discrete and how many trailing dimensions form one event. Engines that
 * work in unconstrained space map a constraint to a bijector with
 * `bijectTo(constraint)` (see `src/transforms`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Value, and, ge, gt, isInteger, le, lt } from '../core/value.js';
import { cholesky, diagPart } from './linalg.js';

/** The support of a distribution or the valid range of a parameter. */
export interface Constraint {
  /** A short name used in messages, e.g. `positive` or `interval(0, 1)`. */
  readonly name: string;
  /** True for integer-valued supports. */
  readonly isDiscrete: boolean;
  /** Number of trailing dimensions that form one event (0 for scalars). */
  readonly eventDim: number;
  /** Elementwise (per event) membership test. */
  check(x: Value): boolean | tf.Tensor;
}

function make(name: string, check: (x: Value) => boolean | tf.Tensor, isDiscrete = false, eventDim = 0, extra: object = {}): Constraint {
  return Object.assign({ name, isDiscrete, eventDim, check }, extra);
}

const notNaN = (x: Value): boolean | tf.Tensor => (typeof x === 'number' ? !Number.isNaN(x) : tf.logicalNot(tf.isNaN(x)));

/** All real numbers. */
export const real: Constraint = make('real', notNaN);
/** x > 0. */
export const positive: Constraint = make('positive', (x) => gt(x, 0));
/** Finite real numbers (not NaN, not ±Infinity): Stan's rule for location parameters. */
export const finite: Constraint = make('finite', (x) => and(gt(x, -Infinity), lt(x, Infinity)));
/** 0 < x < Infinity: Stan's rule for scale parameters. */
export const positiveFinite: Constraint = make('positive and finite', (x) => and(gt(x, 0), lt(x, Infinity)));
/** x >= 0. */
export const nonnegative: Constraint = make('nonnegative', (x) => ge(x, 0));
/** 0 <= x <= 1. */
export const unitInterval: Constraint = make('unitInterval', (x) => and(ge(x, 0), le(x, 1)), false, 0, { lower: 0, upper: 1 });
/** x in {0, 1}. */
export const boolean: Constraint = make('boolean', (x) => and(isInteger(x), and(ge(x, 0), le(x, 1))), true, 0, { lower: 0, upper: 1 });
/** Integers >= 0. */
export const nonnegativeInteger: Constraint = make('nonnegativeInteger', (x) => and(isInteger(x), ge(x, 0)), true, 0, { lower: 0 });
/** Integers >= 1. */
export const positiveInteger: Constraint = make('positiveInteger', (x) => and(isInteger(x), ge(x, 1)), true, 0, { lower: 1 });

/** An interval constraint with known bounds (numbers or tensors). */
export interface IntervalConstraint extends Constraint {
  readonly lower: Value;
  readonly upper: Value;
}
/** A one-sided constraint x > lower. */
export interface GreaterThanConstraint extends Constraint {
  readonly lower: Value;
}
/** A one-sided constraint x < upper. */
export interface LessThanConstraint extends Constraint {
  readonly upper: Value;
}

/** lower <= x <= upper. */
export function interval(lower: Value, upper: Value): IntervalConstraint {
  return make(`interval(${fmt(lower)}, ${fmt(upper)})`, (x) => and(ge(x, lower), le(x, upper)), false, 0, { lower, upper }) as IntervalConstraint;
}
/** x > lower. */
export function greaterThan(lower: Value): GreaterThanConstraint {
  return make(`greaterThan(${fmt(lower)})`, (x) => gt(x, lower), false, 0, { lower }) as GreaterThanConstraint;
}
/** x < upper. */
export function lessThan(upper: Value): LessThanConstraint {
  return make(`lessThan(${fmt(upper)})`, (x) => lt(x, upper), false, 0, { upper }) as LessThanConstraint;
}
/** Integers lower..upper inclusive. */
export function integerInterval(lower: Value, upper: Value): IntervalConstraint {
  return make(`integerInterval(${fmt(lower)}, ${fmt(upper)})`, (x) => and(isInteger(x), and(ge(x, lower), le(x, upper))), true, 0, {
    lower,
    upper,
  }) as IntervalConstraint;
}

function fmt(v: Value): string {
  return typeof v === 'number' ? String(v) : `tensor[${v.shape.join(',')}]`;
}

const TOL = 1e-5;
function vectorCheck(x: Value, name: string): tf.Tensor {
  if (typeof x === 'number') throw new Error(`${name}: expected a vector, got the number ${x}`);
  return x;
}

/** Vectors of nonnegative entries summing to 1 (last axis). */
export const simplex: Constraint = make(
  'simplex',
  (x) => {
    const t = vectorCheck(x, 'simplex');
    return tf.tidy(() => tf.logicalAnd(tf.all(tf.greaterEqual(t, 0), -1), tf.less(tf.abs(tf.sub(tf.sum(t, -1), 1)), TOL)));
  },
  false,
  1,
);

/** Real vectors (event of one dimension). */
export const realVector: Constraint = make('realVector', (x) => tf.tidy(() => tf.all(tf.logicalNot(tf.isNaN(vectorCheck(x, 'realVector'))), -1)), false, 1);

/** Strictly increasing vectors. */
export const ordered: Constraint = make(
  'ordered',
  (x) => {
    const t = vectorCheck(x, 'ordered');
    const n = t.shape[t.rank - 1];
    if (n <= 1) return tf.cast(tf.onesLike(tf.sum(t, -1)), 'bool');
    return tf.tidy(() => tf.all(tf.greater(tf.slice(t, Array(t.rank).fill(0).map((_, i) => (i === t.rank - 1 ? 1 : 0))), tf.slice(t, Array(t.rank).fill(0), t.shape.map((d, i) => (i === t.rank - 1 ? n - 1 : d)))), -1));
  },
  false,
  1,
);

function matrixCheck(x: Value, name: string): tf.Tensor {
  if (typeof x === 'number' || x.rank < 2) throw new Error(`${name}: expected a matrix, got ${typeof x === 'number' ? 'a number' : `shape [${x.shape.join(', ')}]`}`);
  return x;
}

/** Lower-triangular matrices with positive diagonal. */
export const lowerCholesky: Constraint = make(
  'lowerCholesky',
  (x) =>
    tf.tidy(() => {
      const t = matrixCheck(x, 'lowerCholesky');
      const n = t.shape[t.rank - 1];
      const upper = tf.sub(tf.ones([n, n]), tf.linalg.bandPart(tf.ones([n, n]), -1, 0));
      const offOk = tf.all(tf.equal(tf.mul(t, upper), 0), [-2, -1]);
      const diag = tf.sum(tf.mul(t, tf.eye(n)), -1);
      return tf.logicalAnd(offOk, tf.all(tf.greater(diag, 0), -1));
    }),
  false,
  2,
);

/** Cholesky factors of correlation matrices: lower triangular, positive diagonal, unit-norm rows. */
export const corrCholesky: Constraint = make(
  'corrCholesky',
  (x) =>
    tf.tidy(() => {
      const t = matrixCheck(x, 'corrCholesky');
      const rowsOk = tf.all(tf.less(tf.abs(tf.sub(tf.sum(tf.square(t), -1), 1)), TOL), -1);
      return tf.logicalAnd(lowerCholesky.check(t) as tf.Tensor, rowsOk);
    }),
  false,
  2,
);

/** Symmetric positive-definite matrices. */
export const positiveDefinite: Constraint = make(
  'positiveDefinite',
  (x) =>
    tf.tidy(() => {
      const t = matrixCheck(x, 'positiveDefinite');
      const sym = tf.all(tf.less(tf.abs(tf.sub(t, transposeLast2(t))), TOL), [-2, -1]);
      // eigen-free test: the Cholesky factor of a PD matrix has a finite, positive diagonal (NaN where it is not).
      // Tensor ops only, no read of the matrix: a traced model records the check as a guard (backend/jit)
      return tf.logicalAnd(sym, tf.all(tf.greater(diagPart(cholesky(t)), 0), -1));
    }),
  false,
  2,
);

/** Swap the last two axes (tfjs einsum has no `...` notation). */
function transposeLast2(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return tf.transpose(t, perm);
}

/** Events that are independent copies along the last `n` axes of a base constraint. */
export function independent(base: Constraint, n: number): Constraint {
  if (n === 0) return base;
  return make(
    `independent(${base.name}, ${n})`,
    (x) => {
      const c = base.check(x);
      if (typeof c === 'boolean') return c;
      const axes = Array.from({ length: n }, (_, i) => c.rank - n + i);
      return tf.all(c, axes);
    },
    base.isDiscrete,
    base.eventDim + n,
    { base, reinterpreted: n },
  );
}
