/**
 * Special functions on numbers or tensors (`Value`s); the number and tensor
 * kernels live on the ground floor in `math/special` and are re-exported here.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
export * from '../math/special.js';
import { betaDensityNumber, betaincNumber, studentTCdfNumber, digammaNumber, digammaTensor, erfNumber, gammaincDerivShape, gammaincNumber, gammainccNumber, lgammaNumber, lgammaTensor, normalCdfNumber, normalCdfTensor, normalIcdfNumber, normalIcdfTensor } from '../math/special.js';
import { type Value, and, broadcastShapes, eq, log, log1p, mul, where } from './value.js';
import { elementwiseCustomOp } from '../backend/jit/custom-kernels.js';
import { customOp } from '../backend/jit/trace.js';

/** log Gamma(x), for numbers or tensors. */
export function lgamma(x: Value): Value {
  return typeof x === 'number' ? lgammaNumber(x) : lgammaTensor(x);
}

/** log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b). */
export function logBeta(a: Value, b: Value): Value {
  if (typeof a === 'number' && typeof b === 'number') return lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b);
  return tf.tidy(() => {
    const ta = typeof a === 'number' ? tf.scalar(a) : a;
    const tb = typeof b === 'number' ? tf.scalar(b) : b;
    return tf.sub(tf.add(lgammaTensor(ta), lgammaTensor(tb)), lgammaTensor(tf.add(ta, tb)));
  });
}

/** log(n choose k), for numbers or tensors. */
export function logChoose(n: Value, k: Value): Value {
  if (typeof n === 'number' && typeof k === 'number') return lgammaNumber(n + 1) - lgammaNumber(k + 1) - lgammaNumber(n - k + 1);
  return tf.tidy(() => {
    const tn = typeof n === 'number' ? tf.scalar(n) : n;
    const tk = typeof k === 'number' ? tf.scalar(k) : k;
    return tf.sub(lgammaTensor(tf.add(tn, 1)), tf.add(lgammaTensor(tf.add(tk, 1)), lgammaTensor(tf.add(tf.sub(tn, tk), 1))));
  });
}

/** Digamma for numbers or tensors (see {@link digammaNumber}, {@link digammaTensor}). */
export function digamma(x: Value): Value {
  return typeof x === 'number' ? digammaNumber(x) : digammaTensor(x);
}

/**
 * P(a, x) or Q(a, x) for tensors (or a mix of numbers and tensors): computed
 * elementwise in float64 and returned as float32, differentiable in both
 * arguments, with dP/dx = x^(a-1) e^-x / Gamma(a) and dP/da from
 * {@link gammaincDerivShape} (Q's derivatives are their negatives). A custom
 * op like {@link betainc}: models using it compile.
 */
function gammaincTensor(a: Value, x: Value, upper: boolean): tf.Tensor {
  const sign = upper ? -1 : 1;
  const dx = (ai: number, xi: number): number => (xi > 0 && xi < Infinity ? sign * Math.exp((ai === 1 ? 0 : (ai - 1) * Math.log(xi)) - xi - lgammaNumber(ai)) : 0);
  return elementwise64(upper ? 'gammaincc' : 'gammainc', [a, x], upper ? gammainccNumber : gammaincNumber, [(ai, xi) => sign * gammaincDerivShape(ai, xi), dx]);
}

function toFloatTensor(v: Value): tf.Tensor {
  return typeof v === 'number' ? tf.scalar(v) : v.dtype === 'float32' ? v : tf.cast(v, 'float32');
}

/**
 * The regularised lower incomplete gamma P(a, x) (the Gamma(a, 1) cdf):
 * float64 for numbers ({@link gammaincNumber}); for tensors computed
 * elementwise in float64 and returned as float32, differentiable in `a` and
 * `x`.
 */
export function gammainc(a: Value, x: Value): Value {
  return typeof a === 'number' && typeof x === 'number' ? gammaincNumber(a, x) : gammaincTensor(a, x, false);
}

/** The regularised upper incomplete gamma Q(a, x) = 1 - P(a, x), as {@link gammainc}. */
export function gammaincc(a: Value, x: Value): Value {
  return typeof a === 'number' && typeof x === 'number' ? gammainccNumber(a, x) : gammaincTensor(a, x, true);
}

/** The error function for numbers (float64, {@link erfNumber}) or tensors (tfjs `erf`, float32). */
export function erf(x: Value): Value {
  return typeof x === 'number' ? erfNumber(x) : tf.erf(x);
}

/**
 * x * log(y), defined as 0 where x = 0 (also for y = 0); safe to differentiate there
 * (d/dx is log(y) at x = 0 where y > 0, and 0 where y = 0).
 */
export function xlogy(x: Value, y: Value): Value {
  if (typeof x === 'number' && typeof y === 'number') return x === 0 ? 0 : x * Math.log(y);
  return tf.tidy(() => toTensorValue(mul(x, log(where(and(eq(x, 0), eq(y, 0)), 1, y)))));
}

/** x * log1p(y), defined as 0 where x = 0 (also for y = -1); safe to differentiate there (as {@link xlogy}). */
export function xlog1py(x: Value, y: Value): Value {
  if (typeof x === 'number' && typeof y === 'number') return x === 0 ? 0 : x * Math.log1p(y);
  return tf.tidy(() => toTensorValue(mul(x, log1p(where(and(eq(x, 0), eq(y, -1)), 0, y)))));
}

function toTensorValue(v: Value): tf.Tensor {
  return typeof v === 'number' ? tf.scalar(v) : v;
}

/** Standard normal CDF Phi(z), for numbers or tensors. */
export function normalCdf(z: Value): Value {
  return typeof z === 'number' ? normalCdfNumber(z) : normalCdfTensor(z);
}

/** Standard normal quantile Phi^{-1}(p), for numbers or tensors. */
export function normalIcdf(p: Value): Value {
  return typeof p === 'number' ? normalIcdfNumber(p) : normalIcdfTensor(p);
}

/**
 * A scalar float64 function applied elementwise to broadcast tensors (or a
 * mix of numbers and tensors), returned as float32 and differentiable through
 * the given partial derivatives (also float64 functions). It is a custom op
 * (`backend/jit/custom-kernels.ts`): a compiled (JIT) replay records it as one
 * node and runs the same float64 functions, so models using it compile.
 */
function elementwise64(name: string, args: readonly Value[], f: (...x: number[]) => number, partials: readonly ((...x: number[]) => number)[]): tf.Tensor {
  return tf.tidy(() => customOp(elementwiseCustomOp(name, { f, partials }), args.map(toFloatTensor)));
}

/** Central difference of f in its argument k, in float64 (for shape-parameter derivatives). */
function centralDiff(f: (...x: number[]) => number, k: number): (...x: number[]) => number {
  return (...x) => {
    const h = 1e-6 * Math.max(1, Math.abs(x[k]!));
    const up = x.slice();
    const down = x.slice();
    up[k] = x[k]! + h;
    down[k] = Math.max(x[k]! - h, x[k]! / 2);
    return (f(...up) - f(...down)) / (up[k]! - down[k]!);
  };
}

/**
 * The regularised incomplete beta I_x(a, b) (the Beta(a, b) cdf): float64
 * for numbers ({@link betaincNumber}); for tensors computed elementwise in
 * float64 and returned as float32, differentiable in x exactly (the Beta
 * density) and in a, b by float64 central differences (relative error ~1e-6).
 */
export function betainc(a: Value, b: Value, x: Value): Value {
  if (typeof a === 'number' && typeof b === 'number' && typeof x === 'number') return betaincNumber(a, b, x);
  return elementwise64('betainc', [a, b, x], betaincNumber, [centralDiff(betaincNumber, 0), centralDiff(betaincNumber, 1), betaDensityNumber]);
}

/** The standard Student-t density with `df` degrees of freedom at t (float64). */
function studentTDensityNumber(df: number, t: number): number {
  return Math.exp(lgammaNumber((df + 1) / 2) - lgammaNumber(df / 2) - 0.5 * Math.log(df * Math.PI) - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/**
 * The standard Student-t cdf with `df` degrees of freedom at t: float64 for
 * numbers ({@link studentTCdfNumber}); for tensors elementwise in float64,
 * returned as float32, differentiable in t exactly and in df by central
 * differences.
 */
export function studentTCdf(df: Value, t: Value): Value {
  if (typeof df === 'number' && typeof t === 'number') return studentTCdfNumber(df, t);
  return elementwise64('studentTCdf', [df, t], studentTCdfNumber, [centralDiff(studentTCdfNumber, 0), studentTDensityNumber]);
}
