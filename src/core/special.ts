/**
 * Special functions on numbers or tensors (`Value`s); the number and tensor
 * kernels live on the ground floor in `math/special` and are re-exported here.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
export * from '../math/special.js';
import { SADDLE_NUMBER_MIN, SADDLE_TENSOR_MIN, gammaDevianceNumber, gammaDevianceTensor, logSaddleNormNumber, logSaddleNormTensor, betaDensityNumber, betaincNumber, studentTCdfNumber, digammaNumber, digammaTensor, erfNumber, gammaincDerivShape, gammaincDerivShapeRatio, gammaincNumber, gammainccNumber, lgammaDiffNumber, lgammaDiffTensor, lgammaNumber, lgammaTensor, logGammaincNumber, logGammainccNumber, normalCdfNumber, normalCdfTensor, normalIcdfNumber, normalIcdfTensor } from '../math/special.js';
import { halfStudentTLogCdfNumber, logBetaDensityNumber, logBetaincNumber, logBetaincUpperNumber, logGammaDensityNumber, studentTLogCdfNumber, studentTLogDensityNumber } from '../math/log-cdf.js';
import { type Value, add, allTrueIfCheap, and, broadcastShapes, eq, log, log1p, mul, neg, sub, where } from './value.js';
import { elementwiseCustomOp } from '../backend/jit/custom-kernels.js';
import { customOp } from '../backend/jit/trace.js';

/** log Gamma(x), for numbers or tensors. */
export function lgamma(x: Value): Value {
  return typeof x === 'number' ? lgammaNumber(x) : lgammaTensor(x);
}

/**
 * log Gamma(x + a) - log Gamma(x) (x > 0; a >= 0 for the accurate form), for
 * numbers or tensors, accurate where both log-gammas are huge (see
 * `lgammaDiffNumber`, `lgammaDiffTensor`).
 */
export function lgammaDiff(x: Value, a: Value): Value {
  if (typeof x === 'number' && typeof a === 'number') return lgammaDiffNumber(x, a);
  return tf.tidy(() => lgammaDiffTensor(typeof x === 'number' ? tf.scalar(x) : x, typeof a === 'number' ? tf.scalar(a) : a));
}

/**
 * log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b), formed as
 * lgamma(min) - lgammaDiff(max, min) so that a large argument does not cancel
 * (see `lgammaDiffNumber`; numbers below its threshold keep the direct sum).
 */
export function logBeta(a: Value, b: Value): Value {
  if (typeof a === 'number' && typeof b === 'number') {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    return hi >= SADDLE_NUMBER_MIN && lo >= 0 ? lgammaNumber(lo) - lgammaDiffNumber(hi, lo) : lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b);
  }
  return tf.tidy(() => {
    const ta = typeof a === 'number' ? tf.scalar(a) : a;
    const tb = typeof b === 'number' ? tf.scalar(b) : b;
    return tf.sub(lgammaTensor(tf.minimum(ta, tb)), lgammaDiffTensor(tf.maximum(ta, tb), tf.minimum(ta, tb)));
  });
}

function asTensor(v: Value): tf.Tensor {
  return typeof v === 'number' ? tf.scalar(v) : v;
}

/** Broadcasts tensors to their common shape. */
function broadcastAll(ts: tf.Tensor[]): tf.Tensor[] {
  const shape = ts.reduce<number[]>((s, t) => tf.backend_util.assertAndGetBroadcastShape(s, t.shape), []);
  return ts.map((t) => tf.broadcastTo(t, shape));
}

/**
 * The direct Gamma(a, b) log density a log b - lgamma(a) + (a - 1) log x - b x
 * ((a - 1) log x is 0 at a = 1, also at x = 0: left out for a number a = 1, xlogy for a tensor).
 */
function directGammaPdf(a: Value, b: Value, x: Value): Value {
  const power = typeof a === 'number' ? (a === 1 ? 0 : mul(a - 1, log(x))) : xlogy(sub(a, 1), x);
  return sub(sub(mul(a, log(b)), lgamma(a)), sub(mul(b, x), power));
}

/** The direct Beta(a, b) log density (a - 1) log x + (b - 1) log(1 - x) - log B(a, b). */
function directBetaPdf(a: Value, b: Value, x: Value): Value {
  return sub(add(xlogy(sub(a, 1), x), xlog1py(sub(b, 1), neg(x))), logBeta(a, b));
}

/**
 * log of the Gamma(a, b) density at x (shape a, rate b; x >= 0, 0 allowed as
 * its limit), for numbers or tensors (broadcast; differentiable). For large a
 * the direct form a log b - lgamma(a) + (a - 1) log x - b x adds terms near
 * a log a that cancel to a few units (in float32 at a = 1e4, hundredths of a
 * nat); there (a >= `SADDLE_TENSOR_MIN` for tensors, `SADDLE_NUMBER_MIN` for
 * numbers) it is the saddle-point form (Loader 2000)
 * [a log a - a - lgamma(a)] - a (t - 1 - log t) - log x with t = b x / a,
 * whose terms are the size of the result. The direct form elsewhere (and at
 * x = 0, and where t over- or underflows).
 */
export function logGammaPdf(a: Value, b: Value, x: Value): Value {
  if (typeof a === 'number' && typeof b === 'number' && typeof x === 'number') {
    const t = (b * x) / a;
    if (a >= SADDLE_NUMBER_MIN && t > 0 && t < Infinity) return logSaddleNormNumber(a) - a * gammaDevianceNumber(t) - Math.log(x);
    return directGammaPdf(a, b, x);
  }
  // number parameters with a small shape keep their float64 normaliser
  if (typeof a === 'number' && typeof b === 'number' && a < SADDLE_TENSOR_MIN) return directGammaPdf(a, b, x);
  return tf.tidy(() => {
    const [ta, tb, tx] = broadcastAll([asTensor(a), asTensor(b), asTensor(x)]);
    const t0 = tf.div(tf.mul(tb, tx), ta);
    const use = tf.logicalAnd(tf.greaterEqual(ta, SADDLE_TENSOR_MIN), tf.logicalAnd(tf.greater(t0, 0), tf.less(t0, Infinity)));
    return eitherForm(use, [ta, tb, tx], [SADDLE_TENSOR_MIN, SADDLE_TENSOR_MIN, 1], [1, 1, 1], saddleGammaPdf, (a, b, x) => directGammaPdf(a, b, x) as tf.Tensor);
  });
}

/** The saddle-point Gamma(a, b) log density at x (tensors, a >= 10, 0 < b x / a < Infinity). */
function saddleGammaPdf(a: tf.Tensor, b: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.sub(tf.sub(logSaddleNormTensor(a), tf.mul(a, gammaDevianceTensor(tf.div(tf.mul(b, x), a)))), tf.log(x));
}

/**
 * `saddle` where `use` holds and `direct` elsewhere, elementwise (inputs
 * broadcast to one shape). Each form gets safe arguments (`safeSaddle`,
 * `safeDirect`) where the other is used, so neither sends NaN into the
 * gradient; where every element takes one form (found out only where a read
 * is cheap, see `allTrueIfCheap`) only that form is computed.
 */
function eitherForm(use: tf.Tensor, inputs: tf.Tensor[], safeSaddle: number[], safeDirect: number[], saddle: (...t: tf.Tensor[]) => tf.Tensor, direct: (...t: tf.Tensor[]) => tf.Tensor): tf.Tensor {
  if (allTrueIfCheap(use)) return saddle(...inputs);
  if (allTrueIfCheap(tf.logicalNot(use))) return direct(...inputs);
  const s = saddle(...inputs.map((t, i) => tf.where(use, t, safeSaddle[i])));
  const d = direct(...inputs.map((t, i) => tf.where(use, safeDirect[i], t)));
  return tf.where(use, s, d);
}

/**
 * log of the Beta(a, b) density at x in [0, 1] (x^(a-1) (1-x)^(b-1) / B(a, b)),
 * for numbers or tensors (broadcast; differentiable). With both a and b large
 * (>= `SADDLE_TENSOR_MIN` for tensors, `SADDLE_NUMBER_MIN` for numbers) the
 * saddle-point form (Loader 2000, R's dbeta through dbinom_raw)
 * S(a) + S(b) - S(n) - a (t1 - 1 - log t1) - b (t2 - 1 - log t2) - log x - log(1 - x),
 * n = a + b, t1 = n x / a, t2 = n (1 - x) / b, S(z) = z log z - z - lgamma(z);
 * the direct form (with {@link logBeta}) elsewhere and at x = 0 or 1.
 */
export function logBetaPdf(a: Value, b: Value, x: Value): Value {
  if (typeof a === 'number' && typeof b === 'number' && typeof x === 'number') {
    if (a >= SADDLE_NUMBER_MIN && b >= SADDLE_NUMBER_MIN && x > 0 && x < 1) {
      const n = a + b;
      return (
        logSaddleNormNumber(a) + logSaddleNormNumber(b) - logSaddleNormNumber(n) -
        a * gammaDevianceNumber((n * x) / a) - b * gammaDevianceNumber((n * (1 - x)) / b) - Math.log(x) - Math.log1p(-x)
      );
    }
    return directBetaPdf(a, b, x);
  }
  if (typeof a === 'number' && typeof b === 'number' && Math.min(a, b) < SADDLE_TENSOR_MIN) return directBetaPdf(a, b, x);
  return tf.tidy(() => {
    const [ta, tb, tx] = broadcastAll([asTensor(a), asTensor(b), asTensor(x)]);
    const use = tf.logicalAnd(
      tf.logicalAnd(tf.greaterEqual(ta, SADDLE_TENSOR_MIN), tf.greaterEqual(tb, SADDLE_TENSOR_MIN)),
      tf.logicalAnd(tf.greater(tx, 0), tf.less(tx, 1)),
    );
    return eitherForm(use, [ta, tb, tx], [SADDLE_TENSOR_MIN, SADDLE_TENSOR_MIN, 0.5], [1, 1, 0.5], saddleBetaPdf, (a, b, x) => directBetaPdf(a, b, x) as tf.Tensor);
  });
}

/** The saddle-point Beta(a, b) log density at x (tensors, a, b >= 10, 0 < x < 1). */
function saddleBetaPdf(a: tf.Tensor, b: tf.Tensor, x: tf.Tensor): tf.Tensor {
  const n = tf.add(a, b);
  const norm = tf.sub(tf.add(logSaddleNormTensor(a), logSaddleNormTensor(b)), logSaddleNormTensor(n));
  const dev = tf.add(tf.mul(a, gammaDevianceTensor(tf.div(tf.mul(n, x), a))), tf.mul(b, gammaDevianceTensor(tf.div(tf.mul(n, tf.sub(1, x)), b))));
  return tf.sub(tf.sub(norm, dev), tf.add(tf.log(x), tf.log1p(tf.neg(x))));
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
 * the given partial derivatives (also float64 functions, each called with the
 * arguments and then f's value there, as `ScalarFunction64`'s). It is a
 * custom op (`backend/jit/custom-kernels.ts`): a compiled (JIT) replay
 * records it as one node and runs the same float64 functions, so models
 * using it compile. Number arguments are held in the functions (exact in
 * float64, and no derivative is computed for them); only tensors are inputs.
 */
function elementwise64(name: string, args: readonly Value[], f: (...x: number[]) => number, partials: readonly ((...x: number[]) => number)[]): tf.Tensor {
  const live = args.flatMap((a, i) => (typeof a === 'number' ? [] : [i]));
  if (live.length === args.length) return tf.tidy(() => customOp(elementwiseCustomOp(name, { f, partials }), args.map(toFloatTensor)));
  const held = args.map((a) => (typeof a === 'number' ? a : NaN));
  const expand = (xs: readonly number[]): number[] => {
    const v = held.slice();
    for (let j = 0; j < live.length; j++) v[live[j]!] = xs[j]!;
    return v;
  };
  const g = (...xs: number[]): number => f(...expand(xs));
  const ps = live.map((k) => (...xs: number[]): number => partials[k]!(...expand(xs), xs[live.length]!));
  return tf.tidy(() => customOp(elementwiseCustomOp(name, { f: g, partials: ps }), live.map((k) => toFloatTensor(args[k]!))));
}

/**
 * Central difference of f in its argument k, in float64 (for shape-parameter derivatives); 0 where f does not
 * change (also between equal infinities). `arity` is f's number of arguments: a partial is also handed f's value
 * after them, which is not an argument of f.
 */
function centralDiff(f: (...x: number[]) => number, k: number, arity: number): (...x: number[]) => number {
  return (...xa) => {
    const x = xa.slice(0, arity);
    const h = 1e-6 * Math.max(1, Math.abs(x[k]!));
    const up = x.slice();
    const down = x.slice();
    up[k] = x[k]! + h;
    down[k] = Math.max(x[k]! - h, x[k]! / 2);
    const fu = f(...up);
    const fd = f(...down);
    // equal values (an infinite log at the edge of the support, -Infinity - -Infinity) have derivative 0, not NaN
    return fu === fd ? 0 : (fu - fd) / (up[k]! - down[k]!);
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
  return elementwise64('betainc', [a, b, x], betaincNumber, [centralDiff(betaincNumber, 0, 3), centralDiff(betaincNumber, 1, 3), betaDensityNumber]);
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
  return elementwise64('studentTCdf', [df, t], studentTCdfNumber, [centralDiff(studentTCdfNumber, 0, 2), studentTDensityNumber]);
}

// ---------------------------------------------------------------------------
// Log-space tail functions for tensors: computed in float64 and returned as
// float32 logs, so they stay finite where the function itself underflows
// float32 (below about 1e-38), with gradients formed in log space too
// (d log F / dx = exp(log f - log F), never f / F of two underflowed numbers).
// ---------------------------------------------------------------------------

/** exp(logNum - logDen) with sign `sign`, 0 where the numerator is -Infinity (a zero density outside the support). */
function logRatio(sign: number, logNum: number, logDen: number): number {
  return logNum === -Infinity ? 0 : sign * Math.exp(logNum - logDen);
}

/**
 * log P(a, x) (`upper` false) or log Q(a, x) (true) for tensors, in float64:
 * d/dx = ±exp(log f(x; a) - log P) and d/da = ±r exp(log(x f(x; a)) - log P)
 * with r = {@link gammaincDerivShapeRatio}, both in log space.
 */
function logGammaincTensor(a: Value, x: Value, upper: boolean): tf.Tensor {
  const sign = upper ? -1 : 1;
  const f = upper ? logGammainccNumber : logGammaincNumber;
  const da = (ai: number, xi: number, value: number): number => {
    if (!(xi > 0 && xi < Infinity)) return 0;
    const lx = Math.log(xi);
    return sign * gammaincDerivShapeRatio(ai, lx) * Math.exp(lx + logGammaDensityNumber(ai, xi) - value);
  };
  const dx = (ai: number, xi: number, value: number): number => logRatio(sign, logGammaDensityNumber(ai, xi), value);
  return elementwise64(upper ? 'logGammaincc' : 'logGammainc', [a, x], f, [da, dx]);
}

/**
 * log P(a, x), the log of the regularised lower incomplete gamma (Stan's
 * `gamma_lcdf` at rate 1): float64 for numbers ({@link logGammaincNumber});
 * for tensors computed in float64 in log space and returned as float32, so it
 * is finite where P underflows float32 (log P(200, 5) = -589.8...),
 * differentiable in both arguments. A custom op: models using it compile.
 */
export function logGammainc(a: Value, x: Value): Value {
  return typeof a === 'number' && typeof x === 'number' ? logGammaincNumber(a, x) : logGammaincTensor(a, x, false);
}

/** log Q(a, x) = log(1 - P(a, x)), as {@link logGammainc} (finite far in the upper tail: log Q(2, 200) = -194.7...). */
export function logGammaincc(a: Value, x: Value): Value {
  return typeof a === 'number' && typeof x === 'number' ? logGammainccNumber(a, x) : logGammaincTensor(a, x, true);
}

/**
 * log I_x(a, b), the log of the regularised incomplete beta (Stan's
 * `beta_lcdf`): float64 for numbers ({@link logBetaincNumber}); for tensors
 * computed in float64 in log space and returned as float32 (finite where I
 * underflows float32), differentiable in x exactly (in log space) and in a, b
 * by float64 central differences of the log.
 */
export function logBetainc(a: Value, b: Value, x: Value): Value {
  if (typeof a === 'number' && typeof b === 'number' && typeof x === 'number') return logBetaincNumber(a, b, x);
  const dx = (ai: number, bi: number, xi: number, value: number): number => logRatio(1, logBetaDensityNumber(ai, bi, xi), value);
  return elementwise64('logBetainc', [a, b, x], logBetaincNumber, [centralDiff(logBetaincNumber, 0, 3), centralDiff(logBetaincNumber, 1, 3), dx]);
}

/**
 * log(1 - I_x(a, b)) = log I_{1-x}(b, a) from x (Stan's `beta_lccdf`), as
 * {@link logBetainc}: float64 ({@link logBetaincUpperNumber}) for numbers,
 * log space for tensors, without forming 1 - x in float32.
 */
export function logBetaincc(a: Value, b: Value, x: Value): Value {
  if (typeof a === 'number' && typeof b === 'number' && typeof x === 'number') return logBetaincUpperNumber(a, b, x);
  const dx = (ai: number, bi: number, xi: number, value: number): number => logRatio(-1, logBetaDensityNumber(ai, bi, xi), value);
  return elementwise64('logBetaincc', [a, b, x], logBetaincUpperNumber, [centralDiff(logBetaincUpperNumber, 0, 3), centralDiff(logBetaincUpperNumber, 1, 3), dx]);
}

/**
 * log F(t), the standard Student-t log-cdf with `df` degrees of freedom
 * (Stan's `student_t_lcdf` at location 0, scale 1): float64 for numbers
 * ({@link studentTLogCdfNumber}); for tensors computed in float64 in log
 * space and returned as float32 (finite in both tails), differentiable in t
 * exactly and in df by float64 central differences.
 */
export function studentTLogCdf(df: Value, t: Value): Value {
  if (typeof df === 'number' && typeof t === 'number') return studentTLogCdfNumber(df, t);
  const dt = (d: number, ti: number, value: number): number => (Number.isFinite(ti) ? logRatio(1, studentTLogDensityNumber(d, ti), value) : 0);
  return elementwise64('studentTLogCdf', [df, t], studentTLogCdfNumber, [centralDiff(studentTLogCdfNumber, 0, 2), dt]);
}

/**
 * log P(|T| <= z) (`upper` false) or log P(|T| > z) (true), T standard
 * Student-t with `df` degrees of freedom, z >= 0 (the half-t's log-cdf and
 * log-survival): float64 for numbers ({@link halfStudentTLogCdfNumber}); for
 * tensors in float64 in log space, returned as float32, differentiable in z
 * exactly (d/dz = ±2 t(z) / exp(log F)) and in df by central differences, so
 * it stays finite and accurate at both ends (z = 1e-20 and z = 1e15).
 */
export function halfStudentTLogCdf(df: Value, z: Value, upper: boolean): Value {
  const f = (d: number, zi: number): number => halfStudentTLogCdfNumber(d, zi, upper);
  if (typeof df === 'number' && typeof z === 'number') return f(df, z);
  const dz = (d: number, zi: number, value: number): number => (zi > 0 && zi < Infinity ? logRatio(upper ? -1 : 1, Math.LN2 + studentTLogDensityNumber(d, zi), value) : 0);
  return elementwise64(upper ? 'halfStudentTLogSurvival' : 'halfStudentTLogCdf', [df, z], f, [centralDiff(f, 0, 2), dz]);
}
