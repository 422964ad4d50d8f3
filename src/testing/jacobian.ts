/**
 * Checks of a bijector's log-Jacobian against finite differences.
 *
 * A wrong `logDetJacobian` biases every engine that works in unconstrained
 * space (HMC, NUTS, VI, SVGD, NeuTra) without any error: the density is
 * just wrong. {@link checkLogDetJacobian} compares it with log|det J| of a
 * central-difference Jacobian at one input, and
 * {@link logDetJacobianProperty} is a fast-check property over random
 * inputs of several bijectors, so a failure shrinks to a small
 * counterexample (the shortest vector, the input nearest 0).
 *
 * Elementwise bijectors are checked on their number path (float64, tight
 * tolerance); vector bijectors on float32 tensors, so their tolerance is
 * loose (about 1e-2), which is still far below a log-determinant that is
 * halved, negated or missing a term. For a bijector that changes the event
 * size (R^(K-1) to the K-simplex) the Jacobian is that of the first K-1
 * (free) output coordinates, the convention of `Bijector.logDetJacobian`.
 *
 * @module
 */
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { type Value, toTensor } from '../core/value.js';
import type { Bijector } from '../transforms/bijector.js';

/** Options of {@link checkLogDetJacobian}. */
export interface LogDetCheckOptions {
  /** Central-difference step, relative to max(1, |x_j|) (default 1e-5 on the number path, 1e-2 on tensors). */
  readonly step?: number;
  /** Absolute tolerance (default 1e-6 on the number path, 2e-2 on tensors). */
  readonly absTol?: number;
  /** Relative tolerance, times |numeric log det| (default 1e-6 on the number path, 1e-2 on tensors). */
  readonly relTol?: number;
}

/** The result of {@link checkLogDetJacobian}. */
export interface LogDetCheck {
  /** The bijector's `logDetJacobian(x)`. */
  readonly analytic: number;
  /** log|det J| of the finite-difference Jacobian. */
  readonly numeric: number;
  /** |analytic - numeric|. */
  readonly error: number;
  /** absTol + relTol |numeric|. */
  readonly tolerance: number;
  /** error <= tolerance, both finite. */
  readonly pass: boolean;
}

const isScalarBijector = (b: Bijector) => b.eventDimIn === 0;

function readScalar(v: Value, who: string): number {
  if (typeof v === 'number') return v;
  if (v.size !== 1) throw new Error(`${who}: expected a single log-determinant, got shape [${v.shape.join(', ')}]`);
  return v.dataSync()[0];
}

/** y = forward(x) as numbers: the number path for elementwise bijectors, a float32 tensor otherwise. */
function forwardValues(b: Bijector, x: readonly number[]): number[] {
  if (isScalarBijector(b)) return x.map((xi) => readScalar(b.forward(xi), `${b.name}.forward`));
  // the tensor leaves tf.tidy and is read outside it: an array returned from tidy is walked element by element
  const y = tf.tidy(() => toTensor(b.forward(tf.tensor1d(x as number[]))));
  const out = Array.from(y.dataSync());
  y.dispose();
  return out;
}

/** log|det A| of a square matrix by Gaussian elimination with partial pivoting (float64). */
function logAbsDet(a: number[][]): number {
  const n = a.length;
  const m = a.map((row) => row.slice());
  let logDet = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i][k]) > Math.abs(m[p][k])) p = i;
    if (m[p][k] === 0) return -Infinity;
    [m[k], m[p]] = [m[p], m[k]];
    logDet += Math.log(Math.abs(m[k][k]));
    for (let i = k + 1; i < n; i++) {
      const f = m[i][k] / m[k][k];
      for (let j = k; j < n; j++) m[i][j] -= f * m[k][j];
    }
  }
  return logDet;
}

function asVector(b: Bijector, x: number | readonly number[]): number[] {
  if (typeof x === 'number') {
    if (!isScalarBijector(b)) throw new Error(`${b.name}: a vector bijector needs an array input, got the number ${x}`);
    return [x];
  }
  if (x.length === 0) throw new Error(`${b.name}: the finite-difference check needs a non-empty input`);
  return Array.from(x);
}

/**
 * log|det J| at `x` from a central-difference Jacobian of
 * `bijector.forward` (for vector bijectors, of its first `x.length` output
 * coordinates). An elementwise bijector takes a number (or an array, whose
 * entries are independent).
 */
export function finiteDifferenceLogDet(bijector: Bijector, x: number | readonly number[], step?: number): number {
  const v = asVector(bijector, x);
  const h0 = step ?? (isScalarBijector(bijector) ? 1e-5 : 1e-2);
  const n = v.length;
  const jac: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    const h = h0 * Math.max(1, Math.abs(v[j]));
    const plus = v.slice();
    const minus = v.slice();
    plus[j] += h;
    minus[j] -= h;
    const yp = forwardValues(bijector, plus);
    const ym = forwardValues(bijector, minus);
    for (let i = 0; i < n; i++) jac[i][j] = (yp[i] - ym[i]) / (2 * h);
  }
  return logAbsDet(jac);
}

/** The bijector's own log|det J| at `x`, summed over the entries of an elementwise bijector's array input. */
function analyticLogDet(b: Bijector, x: number | readonly number[]): number {
  if (typeof x === 'number') return readScalar(b.logDetJacobian(x), `${b.name}.logDetJacobian`);
  if (isScalarBijector(b)) return x.reduce((s, xi) => s + readScalar(b.logDetJacobian(xi), `${b.name}.logDetJacobian`), 0);
  return tf.tidy(() => readScalar(b.logDetJacobian(tf.tensor1d(x as number[])), `${b.name}.logDetJacobian`));
}

/**
 * Compare `bijector.logDetJacobian(x)` with the finite-difference value
 * ({@link finiteDifferenceLogDet}).
 */
export function checkLogDetJacobian(bijector: Bijector, x: number | readonly number[], options: LogDetCheckOptions = {}): LogDetCheck {
  const scalar = isScalarBijector(bijector);
  const absTol = options.absTol ?? (scalar ? 1e-6 : 2e-2);
  const relTol = options.relTol ?? (scalar ? 1e-6 : 1e-2);
  const analytic = analyticLogDet(bijector, x);
  const numeric = finiteDifferenceLogDet(bijector, x, options.step);
  const error = Math.abs(analytic - numeric);
  const tolerance = absTol + relTol * Math.abs(numeric);
  return { analytic, numeric, error, tolerance, pass: Number.isFinite(analytic) && Number.isFinite(numeric) && error <= tolerance };
}

/** A bijector and an input, as {@link logDetJacobianProperty} generates them (prints as `Name([x])`). */
export interface BijectorCase {
  readonly bijector: Bijector;
  readonly x: number | number[];
}

/**
 * Inputs for a bijector: a number for an elementwise bijector, else a
 * vector of 1..`maxLength` entries, each in [`min`, `max`] (defaults -4, 4
 * and 4). fast-check shrinks them towards short vectors of zeros.
 */
export function arbBijectorInput(bijector: Bijector, options: { min?: number; max?: number; maxLength?: number } = {}): fc.Arbitrary<number | number[]> {
  const entry = fc.double({ min: options.min ?? -4, max: options.max ?? 4, noNaN: true, noDefaultInfinity: true });
  if (isScalarBijector(bijector)) return entry;
  return fc.array(entry, { minLength: 1, maxLength: options.maxLength ?? 4 });
}

/**
 * A fast-check property: for a random bijector from `bijectors` and a
 * random input, `logDetJacobian` matches the finite-difference value. Run it
 * with `fc.assert(logDetJacobianProperty([...]), { seed })`; a failure
 * reports the shrunk case with both values.
 */
export function logDetJacobianProperty(bijectors: readonly Bijector[], options: LogDetCheckOptions & { min?: number; max?: number; maxLength?: number } = {}): fc.IPropertyWithHooks<[BijectorCase]> {
  if (bijectors.length === 0) throw new Error('logDetJacobianProperty: no bijectors given');
  const cases = bijectors.map((b) =>
    arbBijectorInput(b, options).map((x): BijectorCase => {
      const show = () => `${b.name}(${JSON.stringify(x)})`;
      return { bijector: b, x, toString: show, [fc.toStringMethod]: show } as BijectorCase;
    }),
  );
  return fc.property(fc.oneof(...cases), (c) => {
    const r = checkLogDetJacobian(c.bijector, c.x, options);
    if (!r.pass) throw new Error(`${c.bijector.name} at ${JSON.stringify(c.x)}: logDetJacobian ${r.analytic} but finite differences give ${r.numeric} (|error| ${r.error.toExponential(2)} > ${r.tolerance.toExponential(2)})`);
  });
}
