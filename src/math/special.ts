/**
 * Special functions for numbers (float64) and tensors (differentiable tfjs
 * ops): log-gamma, digamma, the regularised incomplete gamma and beta
 * functions, erf/erfc and the standard normal cdf and quantile. The ground
 * floor: this module imports nothing from the library, so the backend (the
 * JIT's code generator) and core can both use it. `core/special` adds the
 * `Value`-level wrappers (numbers or tensors) and re-exports these.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

// Lanczos approximation, g = 7, n = 9 (relative error ~1e-15 in float64).
const LANCZOS_G = 7;
const LANCZOS_C = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** log|Gamma(x)| for a number. */
export function lgammaNumber(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return Infinity;
  if (x <= 0 && Number.isInteger(x)) return Infinity;
  if (x < 0.5) {
    // reflection: Gamma(x) Gamma(1-x) = pi / sin(pi x)
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgammaNumber(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS_C[0];
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS_C.length; i++) a += LANCZOS_C[i] / (z + i);
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * log Gamma(x) for a tensor with x > 0 (differentiable). Uses the recurrence
 * to move small arguments above 0.5 and the Lanczos series there.
 */
export function lgammaTensor(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // for 0 < x < 0.5 use lgamma(x) = lgamma(x + 1) - log(x)
    const small = tf.less(x, 0.5);
    const xs = tf.where(small, tf.add(x, 1), x);
    const z = tf.sub(xs, 1);
    let a: tf.Tensor = tf.fill(z.shape, LANCZOS_C[0]);
    for (let i = 1; i < LANCZOS_C.length; i++) a = tf.add(a, tf.div(LANCZOS_C[i], tf.add(z, i)));
    const t = tf.add(z, LANCZOS_G + 0.5);
    const lg = tf.add(tf.sub(tf.mul(tf.add(z, 0.5), tf.log(t)), t), tf.add(tf.log(a), HALF_LOG_2PI));
    return tf.where(small, tf.sub(lg, tf.log(tf.where(small, x, tf.onesLike(x)))), lg);
  });
}

/**
 * log Gamma(x + a) - log Gamma(x) is formed by Stirling's series, not as a
 * difference, for x at least this large (tensors) ...
 */
const LGAMMA_DIFF_TENSOR_MIN = 10;
/** ... and for numbers at least this large (below it float64's difference loses under 1e-11 nats). */
const LGAMMA_DIFF_NUMBER_MIN = 1e4;

/**
 * Stirling's remainder lgamma(z) - [(z - 1/2) log z - z + log(2 pi) / 2]
 * to z^-7 (truncation error below 1e-12 at z = 10).
 */
function stirlingRemainder(z: number): number {
  const w = 1 / (z * z);
  return (1 / 12 - w * (1 / 360 - w * (1 / 1260 - w / 1680))) / z;
}

/**
 * log Gamma(x + a) - log Gamma(x) for a number x > 0 and a >= 0 (the
 * normalisers of the negative binomial, lgamma(k + r) - lgamma(r), and of
 * Student's t, a = 1/2). For large x the two log-gammas are huge and nearly
 * equal, so their difference loses everything (at x = 1e20 it is 0 for any
 * a < 1e4); there it is
 * (x - 1/2) log1p(a / x) + a log(x + a) - a + R(x + a) - R(x)
 * with R Stirling's remainder. `lgammaX`, if given, is lgamma(x) for the
 * direct difference below the threshold.
 */
export function lgammaDiffNumber(x: number, a: number, lgammaX?: number): number {
  if (!(x >= LGAMMA_DIFF_NUMBER_MIN && a >= 0 && x < Infinity && a < Infinity)) return lgammaNumber(x + a) - (lgammaX ?? lgammaNumber(x));
  const xa = x + a;
  return (x - 0.5) * Math.log1p(a / x) + a * Math.log(xa) - a + (stirlingRemainder(xa) - stirlingRemainder(x));
}

/** Stirling's remainder (see `stirlingRemainder`) for a tensor. */
function stirlingRemainderTensor(z: tf.Tensor): tf.Tensor {
  const w = tf.reciprocal(tf.square(z));
  const inner = tf.sub(1 / 12, tf.mul(w, tf.sub(1 / 360, tf.mul(w, tf.sub(1 / 1260, tf.div(w, 1680))))));
  return tf.div(inner, z);
}

/**
 * log Gamma(x + a) - log Gamma(x) for tensors (broadcast; differentiable),
 * as {@link lgammaDiffNumber}: Stirling's form where x >= 10 and a >= 0, the
 * direct difference elsewhere. In float32 the difference of two log-gammas
 * near 1e5 each is off by hundredths of a nat (a negative binomial with
 * dispersion 1e5 by 0.04 nats per count; Student's t with df = 1e6 by 0.06).
 */
export function lgammaDiffTensor(x: tf.Tensor, a: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = tf.backend_util.assertAndGetBroadcastShape(x.shape, a.shape);
    const xb = tf.broadcastTo(x, shape);
    const ab = tf.broadcastTo(a, shape);
    const big = tf.logicalAnd(tf.greaterEqual(xb, LGAMMA_DIFF_TENSOR_MIN), tf.greaterEqual(ab, 0));
    // each branch gets safe arguments where the other is used, so neither sends NaN into the gradient
    const xs = tf.where(big, xb, LGAMMA_DIFF_TENSOR_MIN);
    const as = tf.where(big, ab, 0);
    const xas = tf.add(xs, as);
    const series = tf.add(
      tf.add(tf.mul(tf.sub(xs, 0.5), tf.log1p(tf.div(as, xs))), tf.sub(tf.mul(as, tf.log(xas)), as)),
      tf.sub(stirlingRemainderTensor(xas), stirlingRemainderTensor(xs)),
    );
    const xd = tf.where(big, 1, xb);
    const ad = tf.where(big, 0, ab);
    const direct = tf.sub(lgammaTensor(tf.add(xd, ad)), lgammaTensor(xd));
    return tf.where(big, series, direct);
  });
}

/**
 * Densities with large shapes use the saddle-point form (below) for shapes at
 * least this large in tensors: there Stirling's remainder to z^-7 is exact to
 * 1e-12 and float32's direct form (terms near a log a cancelling) already
 * loses more than the saddle-point form's rounding ...
 */
export const SADDLE_TENSOR_MIN = 10;
/** ... and for numbers at least this large (below it float64's direct form loses under 1e-11 nats, and keeps its bits). */
export const SADDLE_NUMBER_MIN = 1e4;

/** The series for t - 1 - log t in v = (t - 1) / (t + 1) is used for |v| below this (|t - 1| below about 0.2). */
const DEVIANCE_SERIES_MAX = 0.1;
/** Coefficients 1/3, 1/5, ..., 1/17 of the series (truncation below 1e-17 relative at |v| = 0.1). */
const DEVIANCE_SERIES = [1 / 3, 1 / 5, 1 / 7, 1 / 9, 1 / 11, 1 / 13, 1 / 15, 1 / 17];

/**
 * t - 1 - log t for t > 0 (half the gamma unit deviance; Loader's `bd0(x, m)`
 * is m times it at t = x / m), without the cancellation of the direct form
 * near t = 1: with d = t - 1 and v = d / (2 + d), log t = 2 atanh v, so
 * t - 1 - log t = d v - 2 v^3 (1/3 + v^2/5 + v^4/7 + ...), all of one sign
 * and size near |v| small. Elsewhere (|t - 1| above about 0.2) the direct
 * form loses at most a factor 12 of relative precision.
 */
export function gammaDevianceNumber(t: number): number {
  const d = t - 1;
  const v = d / (2 + d);
  if (!(Math.abs(v) < DEVIANCE_SERIES_MAX)) return d - Math.log(t);
  const w = v * v;
  let sum = 0;
  let term = v * w;
  for (let k = 0; k < 40; k++) {
    const next = sum + term / (2 * k + 3);
    if (next === sum) break;
    sum = next;
    term *= w;
  }
  return d * v - 2 * sum;
}

/** {@link gammaDevianceNumber} for a tensor t > 0 (differentiable; NaN-free gradients at t = 1). */
export function gammaDevianceTensor(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const d0 = tf.sub(t, 1);
    const near = tf.less(tf.abs(tf.div(d0, tf.add(d0, 2))), DEVIANCE_SERIES_MAX);
    // each branch gets safe arguments where the other is used
    const d = tf.where(near, d0, 0);
    const v = tf.div(d, tf.add(d, 2));
    const w = tf.square(v);
    let s: tf.Tensor = tf.fill(w.shape, DEVIANCE_SERIES[DEVIANCE_SERIES.length - 1]);
    for (let k = DEVIANCE_SERIES.length - 2; k >= 0; k--) s = tf.add(tf.mul(s, w), DEVIANCE_SERIES[k]);
    const series = tf.sub(tf.mul(d, v), tf.mul(2, tf.mul(tf.mul(v, w), s)));
    const tf_ = tf.where(near, 2, t);
    const direct = tf.sub(tf.sub(tf_, 1), tf.log(tf_));
    return tf.where(near, series, direct);
  });
}

/**
 * z log z - z - lgamma(z) = log(sqrt(z / 2 pi)) - R(z), R Stirling's remainder (to z^-7: for z >= 10),
 * without forming the huge terms: the normaliser of the saddle-point densities.
 */
export function logSaddleNormNumber(z: number): number {
  return 0.5 * Math.log(z / (2 * Math.PI)) - stirlingRemainder(z);
}

/** {@link logSaddleNormNumber} for a tensor z >= 10 (differentiable). */
export function logSaddleNormTensor(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.mul(0.5, tf.sub(tf.log(z), Math.log(2 * Math.PI))), stirlingRemainderTensor(z)));
}

// ---------------------------------------------------------------------------
// Digamma, the regularised incomplete gamma (and its derivative in the
// shape, for implicit reparameterisation), erf, xlogy.
// ---------------------------------------------------------------------------

// Asymptotic digamma coefficients B_{2k} / (2k) for k = 1..7.
const DIGAMMA_ASYMPTOTIC = [1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12];
/** Arguments at least this large use the asymptotic series directly (error below 1e-16). */
const DIGAMMA_SHIFT = 10;

/**
 * The digamma function psi(x) = d/dx log Gamma(x) for a number (float64,
 * absolute error about 1e-15). Poles at 0, -1, -2, ... give NaN.
 */
export function digammaNumber(x: number): number {
  if (Number.isNaN(x) || x === -Infinity) return NaN;
  if (x === Infinity) return Infinity;
  if (x <= 0) {
    if (Number.isInteger(x)) return NaN;
    // reflection: psi(1 - x) - psi(x) = pi / tan(pi x)
    return digammaNumber(1 - x) - Math.PI / Math.tan(Math.PI * x);
  }
  let acc = 0;
  while (x < DIGAMMA_SHIFT) {
    acc -= 1 / x;
    x += 1;
  }
  return acc + digammaAsymptotic(x);
}

function digammaAsymptotic(x: number): number {
  const r = 1 / (x * x);
  let s = 0;
  for (let k = DIGAMMA_ASYMPTOTIC.length - 1; k >= 0; k--) s = s * r + DIGAMMA_ASYMPTOTIC[k];
  return Math.log(x) - 0.5 / x - s * r;
}

/**
 * Digamma for a tensor with x > 0 (differentiable tfjs ops; float32
 * precision): shifts the argument by ten with the recurrence and uses the
 * asymptotic series there.
 */
export function digammaTensor(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    let acc: tf.Tensor = tf.zerosLike(x);
    for (let i = 0; i < DIGAMMA_SHIFT; i++) acc = tf.sub(acc, tf.reciprocal(tf.add(x, i)));
    const y = tf.add(x, DIGAMMA_SHIFT);
    const r = tf.reciprocal(tf.square(y));
    let s: tf.Tensor = tf.fill(y.shape, DIGAMMA_ASYMPTOTIC[DIGAMMA_ASYMPTOTIC.length - 1]);
    for (let k = DIGAMMA_ASYMPTOTIC.length - 2; k >= 0; k--) s = tf.add(tf.mul(s, r), DIGAMMA_ASYMPTOTIC[k]);
    return tf.add(acc, tf.sub(tf.sub(tf.log(y), tf.div(0.5, y)), tf.mul(s, r)));
  });
}

const SPECIAL_EPS = 1e-16;
const TINY = 1e-300;

/** Iteration cap for the incomplete-gamma series and continued fraction (both need O(sqrt(a)) terms near x = a). */
function gammaincMaxIter(a: number): number {
  return 500 + Math.ceil(50 * Math.sqrt(a));
}

/** Sum of t_n with t_0 = 1/a, t_n = t_{n-1} x / (a + n): P(a, x) = x^a e^-x / Gamma(a) * sum. */
function gammaincSeries(a: number, x: number): number {
  let t = 1 / a;
  let sum = t;
  const max = gammaincMaxIter(a) + Math.ceil(2 * x);
  for (let n = 1; n < max; n++) {
    t *= x / (a + n);
    sum += t;
    if (t < sum * SPECIAL_EPS) break;
  }
  return sum;
}

/**
 * The continued fraction K(a, x) with Q(a, x) = x^a e^-x / Gamma(a) * K(a, x),
 * evaluated by the modified Lentz method. It converges for every x > 0 and
 * every real a (fast when x > a + 1) and is analytic in a.
 */
function gammaincFraction(a: number, x: number): number {
  // K = 1 / (b_0 + c_1 / (b_1 + c_2 / (b_2 + ...))), b_i = x + 2i + 1 - a, c_i = -i (i - a)
  let f = x + 1 - a;
  if (Math.abs(f) < TINY) f = TINY;
  let num = f;
  let den = 0;
  const max = gammaincMaxIter(Math.abs(a));
  for (let i = 1; i < max; i++) {
    const b = x + 2 * i + 1 - a;
    const c = -i * (i - a);
    den = b + c * den;
    if (Math.abs(den) < TINY) den = TINY;
    num = b + c / num;
    if (Math.abs(num) < TINY) num = TINY;
    den = 1 / den;
    const delta = num * den;
    f *= delta;
    if (Math.abs(delta - 1) < SPECIAL_EPS) break;
  }
  return 1 / f;
}

/** log(x^a e^-x / Gamma(a)), the common prefactor of P and Q. */
function gammaincLogPrefactor(a: number, x: number): number {
  return a * Math.log(x) - x - lgammaNumber(a);
}

/** a > 0 finite, x >= 0, neither NaN. */
function gammaincArgsOk(a: number, x: number): boolean {
  return a > 0 && a < Infinity && x >= 0;
}

/**
 * The regularised lower incomplete gamma function
 * P(a, x) = (1 / Gamma(a)) * integral_0^x t^(a-1) e^-t dt, for a > 0, x >= 0
 * (float64, relative error about 1e-14). It is the cdf of Gamma(a, 1) at x.
 * Invalid arguments give NaN.
 */
export function gammaincNumber(a: number, x: number): number {
  if (!gammaincArgsOk(a, x)) return NaN;
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  if (x < a + 1) return Math.exp(gammaincLogPrefactor(a, x)) * gammaincSeries(a, x);
  return 1 - Math.exp(gammaincLogPrefactor(a, x)) * gammaincFraction(a, x);
}

/**
 * The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x),
 * computed directly in the upper tail so small values keep their relative
 * precision.
 */
export function gammainccNumber(a: number, x: number): number {
  if (!gammaincArgsOk(a, x)) return NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  if (x < a + 1) return 1 - Math.exp(gammaincLogPrefactor(a, x)) * gammaincSeries(a, x);
  return Math.exp(gammaincLogPrefactor(a, x)) * gammaincFraction(a, x);
}

/**
 * log P(a, x), the log of the regularised lower incomplete gamma (float64),
 * accurate where P underflows (x far below a): the series' log prefactor is
 * added in log space instead of exponentiated. Invalid arguments give NaN.
 */
export function logGammaincNumber(a: number, x: number): number {
  if (!gammaincArgsOk(a, x)) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return 0;
  if (x < a + 1) return gammaincLogPrefactor(a, x) + Math.log(gammaincSeries(a, x));
  return Math.log1p(-Math.exp(gammaincLogPrefactor(a, x)) * gammaincFraction(a, x));
}

/**
 * log Q(a, x), the log of the regularised upper incomplete gamma (float64),
 * accurate where Q underflows (x far above a). Invalid arguments give NaN.
 */
export function logGammainccNumber(a: number, x: number): number {
  if (!gammaincArgsOk(a, x)) return NaN;
  if (x === 0) return 0;
  if (x === Infinity) return -Infinity;
  if (x < a + 1) return Math.log1p(-Math.exp(gammaincLogPrefactor(a, x)) * gammaincSeries(a, x));
  return gammaincLogPrefactor(a, x) + Math.log(gammaincFraction(a, x));
}

/**
 * The derivative of P(a, x) with respect to the shape `a`, divided by
 * x f(x; a), where f(x; a) = x^(a-1) e^-x / Gamma(a) is the Gamma(a, 1)
 * density; takes log x so that it stays accurate where x underflows.
 *
 * This ratio is what implicit reparameterisation needs: for z ~ Gamma(a, 1),
 * d log z / d a = -(dP/da) / (z f(z; a)) = -gammaincDerivShapeRatio(a, log z).
 *
 * For x < a + 1 it differentiates the power series term by term:
 * sum_n t_n (log x - psi(a + n + 1)) with t_0 = 1/a, t_n = t_{n-1} x / (a + n)
 * (exact, no cancellation of large terms). Otherwise it uses
 * Q = x^a e^-x K(a, x) / Gamma(a): the ratio is
 * -K(a, x) (log x - psi(a) + d log K / da), where d log K / da is a
 * fourth-order central difference of the (analytic in a) continued fraction
 * in float64, with a step of 1e-3 max(1, sqrt(a)) (relative error about
 * 1e-11 for shapes up to 1e5 and beyond).
 */
export function gammaincDerivShapeRatio(a: number, logx: number): number {
  if (Number.isNaN(a) || Number.isNaN(logx) || a <= 0 || a === Infinity) return NaN;
  if (logx === -Infinity || logx === Infinity) return 0;
  const x = Math.exp(logx);
  if (x < a + 1) {
    let t = 1 / a;
    let psi = digammaNumber(a + 1);
    let sum = t * (logx - psi);
    const max = gammaincMaxIter(a) + Math.ceil(2 * x);
    for (let n = 1; n < max; n++) {
      t *= x / (a + n);
      psi += 1 / (a + n);
      const term = t * (logx - psi);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * SPECIAL_EPS || t === 0) break;
    }
    return sum;
  }
  // log K varies on the scale max(1, sqrt(a)) in a near x = a
  const h = 1e-3 * Math.max(1, Math.sqrt(a));
  const lk = (s: number): number => Math.log(gammaincFraction(s, x));
  const dlogK = (8 * (lk(a + h) - lk(a - h)) - (lk(a + 2 * h) - lk(a - 2 * h))) / (12 * h);
  return -gammaincFraction(a, x) * (logx - digammaNumber(a) + dlogK);
}

/** d P(a, x) / d a, the derivative of the regularised lower incomplete gamma in its shape (a > 0, x >= 0). */
export function gammaincDerivShape(a: number, x: number): number {
  if (!gammaincArgsOk(a, x)) return NaN;
  if (x === 0 || x === Infinity) return 0;
  return gammaincDerivShapeRatio(a, Math.log(x)) * Math.exp(gammaincLogPrefactor(a, x));
}

/** The error function erf(x) for a number (float64, via P(1/2, x^2); relative precision kept near 0). */
export function erfNumber(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const p = gammaincNumber(0.5, x * x);
  return x < 0 ? -p : p;
}

// ---------------------------------------------------------------------------
// erfc and the standard normal cdf / quantile, for numbers (float64) and
// tensors (float32, accurate in the tails for truncation and inverse-cdf use).
// ---------------------------------------------------------------------------

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SQRT1_2 = Math.SQRT1_2;
const SQRT_2PI = Math.sqrt(2 * Math.PI);

/** erf(x) for 0 <= x < 2 by the positive-term series e^{-x^2} sum (2x^2)^n x / (2n+1)!!. */
function erfSeries(x: number): number {
  const x2 = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= x2 / (2 * n + 1);
    sum += term;
    if (term <= sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/** erfc(x) for x >= 2 by its continued fraction (modified Lentz), accurate in relative terms. */
function erfcContinuedFraction(x: number): number {
  return Math.exp(-x * x) * erfcxFraction(x);
}

/** The scaled erfcx(x) = e^{x^2} erfc(x) for x >= 2, by the continued fraction (modified Lentz). */
function erfcxFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 1000; n++) {
    const a = n / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    c = x + a / c;
    if (c === 0) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / (Math.sqrt(Math.PI) * f);
}

/** The complementary error function erfc(x) = 1 - erf(x) for a number (float64, relative error ~1e-15). */
export function erfcNumber(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfcNumber(-x);
  if (x === Infinity) return 0;
  return x < 2 ? 1 - erfSeries(x) : erfcContinuedFraction(x);
}

/**
 * log erfc(x) for a number (float64, relative error of erfc ~1e-15): finite
 * where erfc underflows (x above about 27), by -x^2 + log erfcx(x).
 */
export function logErfcNumber(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  // near 0, erfc = 1 - erf with erf accurate in relative terms: log1p keeps the small log
  if (Math.abs(x) < 0.5) return Math.log1p(-erfNumber(x));
  return x < 2 ? Math.log(erfcNumber(x)) : -x * x + Math.log(erfcxFraction(x));
}

/**
 * erfc(x) for x >= 0 as a tensor: t e^{-x^2 + P(t)}, t = 1 / (1 + x/2), with the
 * Chebyshev-fitted polynomial P of Numerical Recipes' `erfcc` (relative error
 * below 1.2e-7 everywhere, so float32-accurate in the far tail too).
 */
function erfcPositiveTensor(x: tf.Tensor): tf.Tensor {
  const [t, p] = erfccTerms(x);
  return tf.mul(t, tf.exp(tf.sub(p, tf.square(x))));
}

/** t = 1 / (1 + x/2) and the polynomial P(t) of Numerical Recipes' `erfcc`. */
function erfccTerms(x: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const coef = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
  const t = tf.div(1, tf.add(1, tf.mul(0.5, x)));
  let p: tf.Tensor = tf.scalar(coef[coef.length - 1]);
  for (let i = coef.length - 2; i >= 0; i--) p = tf.add(coef[i], tf.mul(t, p));
  return [t, p];
}

/** Taylor coefficients of erf(x) sqrt(pi) / (2 x) in x^2: (-1)^n / (n! (2n + 1)). */
const ERF_SERIES = [1, -1 / 3, 1 / 10, -1 / 42, 1 / 216, -1 / 1320, 1 / 9360];
/** Below this, log erfc is log1p(-erf) with erf from its series (7 terms: truncation below 3e-9 relative). */
const ERF_SERIES_MAX = 0.5;

/**
 * log erfc(x) for x >= 0 as a tensor: below 1/2 as log1p(-erf(x)) with erf
 * from its Taylor series (float32-accurate in relative terms, so log erfc(1e-3)
 * = -1.128e-3 keeps its digits and the gradient at 0 is the true -2/sqrt(pi)),
 * above it log t + P(t) - x^2 with the terms of `erfcPositiveTensor`, so it
 * stays finite (and float32-accurate, relative error of erfc below 1.2e-7)
 * where erfc itself underflows, e.g. x = 30.
 */
export function logErfcPositiveTensor(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [t, p] = erfccTerms(x);
    const fit = tf.sub(tf.add(tf.log(t), p), tf.square(x));
    // the series sees an argument clamped to its range, so the branch not taken stays finite
    const xs = tf.minimum(x, ERF_SERIES_MAX);
    const x2 = tf.square(xs);
    let s: tf.Tensor = tf.scalar(ERF_SERIES[ERF_SERIES.length - 1]!);
    for (let i = ERF_SERIES.length - 2; i >= 0; i--) s = tf.add(tf.mul(s, x2), ERF_SERIES[i]!);
    const near = tf.log1p(tf.neg(tf.mul(TWO_OVER_SQRT_PI, tf.mul(xs, s))));
    return tf.where(tf.less(x, ERF_SERIES_MAX), near, fit);
  });
}

/** Standard normal CDF Phi(z) for a number (float64). */
export function normalCdfNumber(z: number): number {
  return 0.5 * erfcNumber(-z * SQRT1_2);
}

/** Standard normal CDF Phi(z) for a tensor (differentiable; accurate in both tails). */
export function normalCdfTensor(z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const neg = tf.less(z, 0);
    const a = tf.mul(tf.where(neg, tf.neg(z), z), SQRT1_2);
    const half = tf.mul(0.5, erfcPositiveTensor(a));
    return tf.where(neg, half, tf.sub(1, half));
  });
}

// Acklam's rational approximation of the normal quantile (relative error 1.15e-9).
const ICDF_A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const ICDF_B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1, 1];
const ICDF_C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const ICDF_D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416, 1];
const ICDF_P_LOW = 0.02425;

function horner(c: readonly number[], x: number): number {
  let s = c[0];
  for (let i = 1; i < c.length; i++) s = s * x + c[i];
  return s;
}
function hornerTensor(c: readonly number[], x: tf.Tensor): tf.Tensor {
  let s: tf.Tensor = tf.scalar(c[0]);
  for (let i = 1; i < c.length; i++) s = tf.add(tf.mul(s, x), c[i]);
  return s;
}

/**
 * Standard normal quantile Phi^{-1}(p) for a number: Acklam's approximation
 * refined by two Halley steps on {@link normalCdfNumber} (float64-accurate).
 * Returns -Infinity at 0, Infinity at 1 and NaN outside [0, 1].
 */
export function normalIcdfNumber(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  let x: number;
  if (p < ICDF_P_LOW || p > 1 - ICDF_P_LOW) {
    const s = Math.sqrt(-2 * Math.log(Math.min(p, 1 - p)));
    const t = horner(ICDF_C, s) / horner(ICDF_D, s);
    x = p < 0.5 ? t : -t;
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = (q * horner(ICDF_A, r)) / horner(ICDF_B, r);
  }
  for (let i = 0; i < 2; i++) {
    // Halley step on Phi(x) - p; in the upper tail work with 1 - p for accuracy
    const e = p > 0.5 ? 0.5 * erfcNumber(x * SQRT1_2) - (1 - p) : normalCdfNumber(x) - p;
    const u = (p > 0.5 ? -e : e) * SQRT_2PI * Math.exp(0.5 * x * x);
    if (!Number.isFinite(u)) break;
    x -= u / (1 + 0.5 * x * u);
  }
  return x;
}

/**
 * Standard normal quantile Phi^{-1}(p) for a tensor (differentiable): Acklam's
 * approximation on the lower half min(p, 1 - p), refined by one Newton step on
 * {@link normalCdfTensor} (float32 cancellation in the rational form would
 * otherwise cost about 1e-4 near |x| = 2). -Infinity at 0, Infinity at 1, NaN
 * outside [0, 1].
 */
export function normalIcdfTensor(p: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const upper = tf.greater(p, 0.5);
    // 1 - p is exact in float32 for p > 1/2, so the lower half loses nothing
    const pl = tf.clipByValue(tf.where(upper, tf.sub(1, p), p), 1e-37, 0.5);
    const q = tf.sub(pl, 0.5);
    const r = tf.square(q);
    const central = tf.div(tf.mul(q, hornerTensor(ICDF_A, r)), hornerTensor(ICDF_B, r));
    const s = tf.sqrt(tf.mul(-2, tf.log(pl)));
    const tail = tf.div(hornerTensor(ICDF_C, s), hornerTensor(ICDF_D, s));
    const x0 = tf.where(tf.less(pl, ICDF_P_LOW), tail, central);
    // one Newton step; below -8 the step (and its gradient) would underflow, and Acklam is float32-exact there
    const xs = tf.maximum(x0, -8);
    const dens = tf.div(tf.exp(tf.mul(-0.5, tf.square(xs))), SQRT_2PI);
    const refined = tf.sub(xs, tf.div(tf.sub(normalCdfTensor(xs), pl), dens));
    const xl = tf.where(tf.greater(x0, -8), refined, x0);
    const x = tf.where(upper, tf.neg(xl), xl);
    const edge = tf.where(tf.lessEqual(p, 0), tf.fill(p.shape, -Infinity), tf.fill(p.shape, Infinity));
    const out = tf.where(tf.logicalAnd(tf.greater(p, 0), tf.less(p, 1)), x, edge);
    const bad = tf.logicalOr(tf.isNaN(p), tf.logicalOr(tf.less(p, 0), tf.greater(p, 1)));
    return tf.where(bad, tf.fill(p.shape, NaN), out);
  });
}

// ---------------------------------------------------------------------------
// The regularised incomplete beta function I_x(a, b) (float64).
// ---------------------------------------------------------------------------

/** The continued fraction of I_x(a, b) (modified Lentz), converging fast for x < (a + 1) / (a + b + 2). */
function betaincFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  const maxIter = 10000 + Math.ceil(10 * Math.sqrt(Math.max(a, b)));
  for (let m = 1; m <= maxIter; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < SPECIAL_EPS) break;
  }
  return h;
}

/**
 * The regularised incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b)
 * (the Beta(a, b) cdf at x) for a, b > 0 and x in [0, 1], in float64 by
 * the continued fraction (Numerical Recipes' `betacf`, with the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) for fast convergence). NaN outside the domain.
 */
export function betaincNumber(a: number, b: number, x: number): number {
  if (!(a > 0 && b > 0 && x >= 0 && x <= 1)) return NaN;
  if (x === 0) return 0;
  if (x === 1) return 1;
  const logFront = a * Math.log(x) + b * Math.log1p(-x) - (lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b));
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaincFraction(a, b, x)) / a;
  return 1 - (Math.exp(logFront) * betaincFraction(b, a, 1 - x)) / b;
}

/** The Beta(a, b) density at x in (0, 1) (float64), the derivative of {@link betaincNumber} in x. */
export function betaDensityNumber(a: number, b: number, x: number): number {
  if (!(x > 0 && x < 1)) return 0;
  return Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - (lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b)));
}

/**
 * The Student-t cdf with `df` degrees of freedom at t (float64):
 * `I_{df/(df+t^2)}(df/2, 1/2) / 2` below 0, one minus that above.
 */
export function studentTCdfNumber(df: number, t: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  // for small |t| use the other argument of the symmetry to keep relative precision: x = t^2 / (df + t^2)
  const t2 = t * t;
  const tail = t2 < df ? 0.5 * (1 - betaincNumber(0.5, df / 2, t2 / (df + t2))) : 0.5 * betaincNumber(df / 2, 0.5, df / (df + t2));
  return t < 0 ? tail : 1 - tail;
}
