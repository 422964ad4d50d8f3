/**
 * Tail-accurate log-CDFs on the ground floor: log(1 - e^a), log(e^a - e^b),
 * the log of the standard normal cdf and its inverse from a log-probability,
 * the log of the regularised incomplete beta where it underflows, and the
 * Student-t log-cdf, for numbers (float64) and, where noted, tensors (float32
 * formulations that stay finite far in the tails). Stan's `normal_lcdf`,
 * `student_t_lcdf` and friends are built from these (see the distributions'
 * `logCdf` and `logSurvival`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { betaincNumber, erfcNumber, lgammaDiffNumber, lgammaNumber, logErfcNumber, logErfcPositiveTensor, normalIcdfNumber, normalIcdfTensor } from './special.js';

const LN2 = Math.LN2;
const SQRT1_2 = Math.SQRT1_2;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * log(1 - e^a) for a <= 0 (float64), accurate both near a = 0 and for very
 * negative a (Mächler's split at -log 2). NaN for a > 0; -Infinity at 0.
 */
export function log1mexpNumber(a: number): number {
  if (!(a <= 0)) return NaN;
  return a > -LN2 ? Math.log(-Math.expm1(a)) : Math.log1p(-Math.exp(a));
}

/** log(e^a - e^b) for a >= b (float64): -Infinity when a = b, NaN when a < b. */
export function logDiffExpNumber(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (Number.isNaN(a) || Number.isNaN(b) || a < b) return NaN;
  return a === b ? -Infinity : a + log1mexpNumber(b - a);
}

/**
 * log(1 - e^a) for a tensor with a <= 0, differentiable: each branch of the
 * -log 2 split sees a clamped argument, so the branch not taken has a finite
 * gradient (no NaN through `where`); -Infinity where a >= 0.
 */
export function log1mexpTensor(a: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const near = tf.greater(a, -LN2);
    const aNear = tf.minimum(a, -1e-30);
    const aFar = tf.minimum(a, -LN2);
    const v = tf.where(near, tf.log(tf.neg(tf.expm1(aNear))), tf.log1p(tf.neg(tf.exp(aFar))));
    return tf.where(tf.greaterEqual(a, 0), tf.fill(a.shape, -Infinity), v);
  });
}

/**
 * log Phi(z), the log standard normal cdf (float64; Stan's `std_normal_lcdf`),
 * accurate in relative terms in both tails: through log erfc below 0 (finite
 * down to z = -1e150 and beyond: log Phi(-40) = -804.608...), through
 * log1p(-Phi(-z)) above.
 */
export function logNormalCdfNumber(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z === -Infinity) return -Infinity;
  if (z < 0) return -LN2 + logErfcNumber(-z * SQRT1_2);
  return Math.log1p(-0.5 * erfcNumber(z * SQRT1_2));
}

/**
 * log Phi(z) for a tensor (float32, differentiable): log erfc in log form
 * below 0, so it stays finite where Phi underflows (log Phi(-40) = -804.6 to
 * float32 precision), log1p(-Phi(-z)) above.
 */
export function logNormalCdfTensor(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const neg = tf.less(z, 0);
    // each branch gets an argument in its own half, so the branch not taken stays finite; `where`, not abs, so
    // that at z = 0 the gradient is the upper branch's (tfjs's abs has slope -1 at 0, which flipped its sign)
    const a = tf.mul(tf.where(neg, tf.neg(z), z), SQRT1_2);
    const lower = tf.sub(logErfcPositiveTensor(a), LN2);
    const upper = tf.log1p(tf.neg(tf.exp(lower)));
    return tf.where(neg, lower, upper);
  });
}

/** The log standard normal density at z. */
function logNormalPdf(z: number): number {
  return -0.5 * z * z - HALF_LOG_2PI;
}

/**
 * Phi^-1(e^lp), the standard normal quantile of a log-probability lp <= 0
 * (float64). Where e^lp is a normal double it is {@link normalIcdfNumber};
 * deeper (lp below -700, e.g. the quantile at log p = -804.6 is -40) it
 * starts from the tail asymptote and takes Newton steps on log Phi.
 */
export function normalIcdfLogNumber(lp: number): number {
  if (Number.isNaN(lp) || lp > 0) return NaN;
  if (lp === -Infinity) return -Infinity;
  if (lp > -700) return lp > -LN2 ? -normalIcdfNumber(-Math.expm1(lp)) : normalIcdfNumber(Math.exp(lp));
  // log Phi(x) ~ -x^2/2 - log(-x) - log(2 pi)/2: iterate x^2 = -2 lp - 2 log(-x) - log(2 pi)
  let x = -Math.sqrt(-2 * lp);
  for (let i = 0; i < 3; i++) x = -Math.sqrt(-2 * lp - 2 * Math.log(-x) - 2 * HALF_LOG_2PI);
  for (let i = 0; i < 4; i++) {
    const f = logNormalCdfNumber(x) - lp;
    const step = f / Math.exp(logNormalPdf(x) - logNormalCdfNumber(x));
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.abs(x)) break;
  }
  return x;
}

/**
 * Phi^-1(e^lp) for a tensor of log-probabilities lp <= log(1/2) (the lower
 * half; reflect for the upper one), float32, differentiable: the tail
 * asymptote (or, above lp = -80, the float32 quantile of e^lp) refined by two
 * Newton steps on {@link logNormalCdfTensor}, so a
 * quantile at log p = -804.6 is -40 where Phi^-1(e^lp) would be -Infinity.
 */
export function normalIcdfLogTensor(lp: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // clamped to a finite range, so that -Infinity (a branch not taken, e.g. log(1 - e^0)) has finite values and gradients
    const l = tf.maximum(tf.minimum(lp, -LN2), -1e10);
    // deep tail: x^2 = -2 lp - 2 log(-x) - log(2 pi), iterated from x = -sqrt(-2 lp)
    let tail: tf.Tensor = tf.neg(tf.sqrt(tf.mul(-2, l)));
    for (let i = 0; i < 2; i++) {
      const r = tf.sub(tf.sub(tf.mul(-2, l), tf.mul(2, tf.log(tf.maximum(tf.neg(tail), 1)))), 2 * HALF_LOG_2PI);
      tail = tf.neg(tf.sqrt(tf.maximum(r, 1)));
    }
    // elsewhere the float32 quantile of e^lp (a normal float32 above lp = -80)
    const central = normalIcdfTensor(tf.exp(tf.maximum(l, -80)));
    let x = tf.where(tf.greater(l, -80), central, tail);
    for (let i = 0; i < 2; i++) {
      const lc = logNormalCdfTensor(x);
      const hazard = tf.exp(tf.sub(tf.sub(tf.mul(-0.5, tf.square(x)), HALF_LOG_2PI), lc));
      x = tf.minimum(tf.sub(x, tf.div(tf.sub(lc, l), hazard)), 0);
    }
    return x;
  });
}

/**
 * log I_x(a, b) where x is small and I underflows: the hypergeometric series
 * I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) sum_n (a+b)_n / (a+1)_n x^n (all
 * terms positive, no cancellation), taking log x and log(1 - x) so that x
 * itself may underflow.
 */
function logBetaincSeries(a: number, b: number, logx: number, log1mx: number): number {
  const x = Math.exp(logx);
  let t = 1;
  let sum = 1;
  for (let n = 0; n < 100000; n++) {
    t *= ((a + b + n) / (a + 1 + n)) * x;
    sum += t;
    if (t < sum * 1e-17) break;
  }
  const logB = lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b);
  return a * logx + b * log1mx - Math.log(a) - logB + Math.log(sum);
}

/** Below this, a regularised incomplete beta from `betaincNumber` is recomputed in log space. */
const BETAINC_LOG_SWITCH = 1e-280;

/**
 * log I_x(a, b), the log of the regularised incomplete beta (float64), for
 * a, b > 0 and x in [0, 1]: log1p of the complement above the mean a/(a+b),
 * the log of {@link betaincNumber} below it, and a log-space series where
 * that underflows. NaN outside the domain.
 */
export function logBetaincNumber(a: number, b: number, x: number): number {
  if (!(a > 0 && b > 0 && x >= 0 && x <= 1)) return NaN;
  if (x === 0) return -Infinity;
  if (x === 1) return 0;
  if (x > a / (a + b)) return Math.log1p(-betaincNumber(b, a, 1 - x));
  const v = betaincNumber(a, b, x);
  return v > BETAINC_LOG_SWITCH ? Math.log(v) : logBetaincSeries(a, b, Math.log(x), Math.log1p(-x));
}

/**
 * log P(T <= t) for T standard Student-t with `df` degrees of freedom, t <= 0
 * (the lower tail, at most 1/2), in float64: log(I_{df/(df+t^2)}(df/2, 1/2) / 2)
 * with the argument and its complement formed in log space, so it stays finite
 * for |t| up to the largest double (R: pt(-1e200, 3, log.p = TRUE) = -1381.45...).
 */
function studentTLowerTailLog(df: number, t: number): number {
  const t2 = t * t;
  if (t2 < df) return Math.log(0.5 * (1 - betaincNumber(0.5, df / 2, t2 / (df + t2))));
  const v = betaincNumber(df / 2, 0.5, df / (df + t2));
  if (v > BETAINC_LOG_SWITCH) return Math.log(0.5 * v);
  // x = df / (df + t^2) = 1 / (1 + t^2/df): log x = -log1p(r), log(1 - x) = -log1p(1/r) with r = t^2 / df (by (|t|/sqrt(df))^2, no overflow)
  const s = Math.abs(t) / Math.sqrt(df);
  const logr = 2 * Math.log(s);
  const logx = -(logr + Math.log1p(1 / (s * s)));
  const log1mx = -Math.log1p(1 / (s * s));
  return -LN2 + logBetaincSeries(df / 2, 0.5, logx, log1mx);
}

/**
 * log F(t) for the standard Student-t cdf F with `df` degrees of freedom
 * (float64; Stan's `student_t_lcdf` at location 0, scale 1), accurate in both
 * tails. NaN for df <= 0 or NaN arguments.
 */
export function studentTLogCdfNumber(df: number, t: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (t === Infinity) return 0;
  if (t === -Infinity) return -Infinity;
  return t <= 0 ? studentTLowerTailLog(df, t) : Math.log1p(-Math.exp(studentTLowerTailLog(df, -t)));
}

/**
 * log(1 - I_x(a, b)) = log I_{1-x}(b, a), the log of the regularised upper
 * incomplete beta, from x itself (float64): below the mean a/(a+b) as
 * log1p(-I_x(a, b)) (1 - x would round there: 1 - 1e-150 is 1), above it
 * through {@link logBetaincNumber} at 1 - x, finite where the upper tail
 * underflows. NaN outside the domain.
 */
export function logBetaincUpperNumber(a: number, b: number, x: number): number {
  if (!(a > 0 && b > 0 && x >= 0 && x <= 1)) return NaN;
  return x < a / (a + b) ? Math.log1p(-betaincNumber(a, b, x)) : logBetaincNumber(b, a, 1 - x);
}

/** log of the Beta(a, b) density at x (float64); -Infinity outside (0, 1). */
export function logBetaDensityNumber(a: number, b: number, x: number): number {
  if (!(x > 0 && x < 1)) return -Infinity;
  return (a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - (lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b));
}

/** log of the Gamma(a, 1) density at x (float64); -Infinity outside (0, Infinity). */
export function logGammaDensityNumber(a: number, x: number): number {
  if (!(x > 0 && x < Infinity)) return -Infinity;
  return (a - 1) * Math.log(x) - x - lgammaNumber(a);
}

/** log of the standard Student-t density with `df` degrees of freedom at t (float64). */
export function studentTLogDensityNumber(df: number, t: number): number {
  const s = Math.abs(t) / Math.sqrt(df);
  // log1p(t^2 / df) as 2 log s + log1p(1 / s^2) for large |t|, so t^2 never overflows
  const l = s < 1e100 ? Math.log1p(s * s) : 2 * Math.log(s) + Math.log1p(1 / (s * s));
  return lgammaDiffNumber(df / 2, 0.5) - 0.5 * Math.log(df * Math.PI) - ((df + 1) / 2) * l;
}

/**
 * log P(|T| <= z) (`upper` false) or log P(|T| > z) (true) for T standard
 * Student-t with `df` degrees of freedom and z >= 0 (the half-t's log-cdf and
 * log-survival), in float64: through the incomplete beta at z^2 / (df + z^2)
 * while z^2 < df (log I and log(1 - I), so a survival near 1 keeps its small
 * log), through the t tail log F(-z) beyond. NaN for df <= 0 or NaN z.
 */
export function halfStudentTLogCdfNumber(df: number, z: number, upper: boolean): number {
  if (Number.isNaN(z) || !(df > 0)) return NaN;
  const zc = Math.max(z, 0);
  if (zc * zc < df) {
    const x = (zc * zc) / (df + zc * zc);
    return upper ? logBetaincUpperNumber(0.5, df / 2, x) : logBetaincNumber(0.5, df / 2, x);
  }
  const tail = LN2 + studentTLogCdfNumber(df, -zc);
  return upper ? tail : log1mexpNumber(tail);
}
