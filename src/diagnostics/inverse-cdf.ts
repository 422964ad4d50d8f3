/**
 * Quantile functions needed by the diagnostics, for plain float64 numbers:
 * the standard normal quantile (rank normalization) and the beta quantile
 * (Monte Carlo standard errors of quantiles), with the regularized
 * incomplete beta function it inverts.
 *
 * @module
 */
import { betaincNumber, lgammaNumber } from '../core/special.js';

// Wichura (1988), Algorithm AS 241 (PPND16): rational approximations with
// relative accuracy about 1e-16. Coefficients in ascending powers.
const AS241_A = [
  3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125, 45921.953931549871457,
  67265.770927008700853, 33430.575583588128105, 2509.0809287301226727,
];
const AS241_B = [
  1, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867, 39307.89580009271061,
  28729.085735721942674, 5226.495278852854561,
];
const AS241_C = [
  1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504, 1.27045825245236838258,
  0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4,
];
const AS241_D = [
  1, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459,
  0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9,
];
const AS241_E = [
  6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123, 0.026532189526576123093,
  0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7,
];
const AS241_F = [
  1, 0.599832206555887937690, 0.136929880922735805310, 0.0148753612908506148525, 7.868691311456132591e-4,
  1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15,
];

function poly(c: readonly number[], x: number): number {
  let s = 0;
  for (let i = c.length - 1; i >= 0; i--) s = s * x + c[i];
  return s;
}

/**
 * The standard normal quantile Phi^{-1}(p) (Wichura's AS 241, relative error
 * about 1e-16). Returns -Infinity at 0, Infinity at 1 and NaN outside [0, 1].
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * poly(AS241_A, r)) / poly(AS241_B, r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let x: number;
  if (r <= 5) {
    r -= 1.6;
    x = poly(AS241_C, r) / poly(AS241_D, r);
  } else {
    r -= 5;
    x = poly(AS241_E, r) / poly(AS241_F, r);
  }
  return q < 0 ? -x : x;
}

function logBetaFn(a: number, b: number): number {
  return lgammaNumber(a) + lgammaNumber(b) - lgammaNumber(a + b);
}

function checkShape(a: number, b: number, what: string): void {
  if (!(a > 0 && Number.isFinite(a))) throw new RangeError(`${what}: shape a must be positive and finite, got ${a}`);
  if (!(b > 0 && Number.isFinite(b))) throw new RangeError(`${what}: shape b must be positive and finite, got ${b}`);
}

/**
 * The regularized incomplete beta function I_x(a, b), the CDF of Beta(a, b)
 * at x (0 below 0, 1 above 1). Throws a RangeError for non-positive shapes.
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  checkShape(a, b, 'regularizedIncompleteBeta');
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return betaincNumber(a, b, x);
}

/**
 * The p-quantile of Beta(a, b): the x with I_x(a, b) = p. Newton steps on the
 * CDF, kept inside a shrinking bracket (bisection when a step leaves it), so
 * it always converges. Throws a RangeError for non-positive shapes or p
 * outside [0, 1].
 */
export function betaQuantile(p: number, a: number, b: number): number {
  checkShape(a, b, 'betaQuantile');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`betaQuantile: probability must lie in [0, 1], got ${p}`);
  if (p === 0) return 0;
  if (p === 1) return 1;
  const logB = logBetaFn(a, b);
  let lo = 0;
  let hi = 1;
  // start from a normal approximation, clamped into (0, 1)
  const m = a / (a + b);
  const s = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
  let x = Math.min(1 - 1e-12, Math.max(1e-12, m + s * normalQuantile(p)));
  for (let iter = 0; iter < 200; iter++) {
    const f = regularizedIncompleteBeta(x, a, b) - p;
    if (f === 0) return x;
    if (f < 0) lo = x;
    else hi = x;
    const logDensity = (a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - logB;
    let next = x - f / Math.exp(logDensity);
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - x) <= 1e-15 * Math.max(x, 1e-300) || hi - lo <= 1e-15 * hi) return next;
    x = next;
  }
  return x;
}
