/**
 * Gaussian-process covariance functions, as Stan's `gp_exp_quad_cov`,
 * `gp_exponential_cov` (Matérn 1/2), `gp_matern32_cov`, `gp_matern52_cov`
 * and `gp_periodic_cov`. Inputs are points `x` (`[N]` for reals or `[N, D]`
 * for vectors, arrays or tensors); the result is the `[N, N]` matrix (or
 * `[N, M]` with a second set of points `x2`). Magnitude `alpha` and length
 * scale `rho` are numbers or tensors; tensors with a batch shape `[...]` give
 * `[..., N, N]`. Differentiable in `alpha`, `rho` (and the points), including
 * at zero distance.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** Options of the GP covariance functions. */
export interface GpCovOptions {
  /** A second set of points: the cross-covariance `[N, M]` (no jitter is added then). */
  readonly x2?: GpPoints;
  /** Added to the diagonal (Stan models' `add_diag(K, delta)`), default 0. */
  readonly jitter?: number;
}

/** GP input points: `[N]` (reals) or `[N, D]` (vectors), as a tensor or arrays. */
export type GpPoints = tf.Tensor | number[] | number[][];
/** A GP hyperparameter: a positive number or a tensor (with an optional batch shape). */
export type GpHyper = number | tf.Tensor;

function points(fn: string, x: GpPoints, what: string): tf.Tensor {
  const t = x instanceof tf.Tensor ? x : tf.tensor(x as number[]);
  if (t.rank !== 1 && t.rank !== 2) throw new TypeError(`${fn}: ${what} must be points of shape [N] or [N, D], got shape [${t.shape.join(', ')}]`);
  return t.rank === 1 ? tf.expandDims(t, 1) : t;
}

/** Squared Euclidean distances `[N, M]` between rows of `a` `[N, D]` and `b` `[M, D]`. */
function squaredDistances(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.sum(tf.square(tf.sub(tf.expandDims(a, 1), tf.expandDims(b, 0))), -1);
}

/** A hyperparameter broadcast against `[..., N, M]`, after a positivity check on numbers. */
function hyper(fn: string, name: string, v: GpHyper): tf.Tensor {
  if (typeof v === 'number') {
    if (!(v > 0 && Number.isFinite(v))) throw new RangeError(`${fn}: ${name} must be positive and finite, got ${v}`);
    return tf.scalar(v);
  }
  return tf.expandDims(tf.expandDims(v, -1), -1);
}

/** Shared frame: points, distances, kernel of (squared distance, rho), scaled by alpha^2, plus jitter. */
function covariance(fn: string, x: GpPoints, alpha: GpHyper, rho: GpHyper, options: GpCovOptions, kernel: (sq: tf.Tensor, rho: tf.Tensor) => tf.Tensor): tf.Tensor {
  const jitter = options.jitter ?? 0;
  if (!(Number.isFinite(jitter) && jitter >= 0)) throw new RangeError(`${fn}: option jitter must be a finite number >= 0, got ${jitter}`);
  return tf.tidy(() => {
    const a = points(fn, x, 'x');
    const b = options.x2 === undefined ? a : points(fn, options.x2, 'x2');
    if (a.shape[1] !== b.shape[1]) throw new TypeError(`${fn}: x has ${a.shape[1]} dimensions but x2 has ${b.shape[1]}`);
    const k = tf.mul(tf.square(hyper(fn, 'alpha', alpha)), kernel(squaredDistances(a, b), hyper(fn, 'rho', rho)));
    return jitter > 0 && options.x2 === undefined ? tf.add(k, tf.mul(jitter, tf.eye(a.shape[0]))) : k;
  });
}

/** Euclidean distance from a squared one, with a zero (not NaN) gradient at 0. */
function distance(sq: tf.Tensor): tf.Tensor {
  const pos = tf.greater(sq, 0);
  return tf.where(pos, tf.sqrt(tf.where(pos, sq, tf.onesLike(sq))), tf.zerosLike(sq));
}

/** Exponentiated quadratic: `alpha^2 exp(-|x - x'|^2 / (2 rho^2))` (Stan's `gp_exp_quad_cov`). */
export function gpExpQuadCov(x: GpPoints, alpha: GpHyper, rho: GpHyper, options: GpCovOptions = {}): tf.Tensor {
  return covariance('gpExpQuadCov', x, alpha, rho, options, (sq, r) => tf.exp(tf.div(sq, tf.mul(-2, tf.square(r)))));
}

/** Matérn 1/2 (exponential): `alpha^2 exp(-d / rho)` (Stan's `gp_exponential_cov`). */
export function gpMatern12Cov(x: GpPoints, alpha: GpHyper, rho: GpHyper, options: GpCovOptions = {}): tf.Tensor {
  return covariance('gpMatern12Cov', x, alpha, rho, options, (sq, r) => tf.exp(tf.neg(tf.div(distance(sq), r))));
}

/** Matérn 3/2: `alpha^2 (1 + sqrt(3) d / rho) exp(-sqrt(3) d / rho)` (Stan's `gp_matern32_cov`). */
export function gpMatern32Cov(x: GpPoints, alpha: GpHyper, rho: GpHyper, options: GpCovOptions = {}): tf.Tensor {
  return covariance('gpMatern32Cov', x, alpha, rho, options, (sq, r) => {
    const s = tf.div(tf.mul(Math.sqrt(3), distance(sq)), r);
    return tf.mul(tf.add(1, s), tf.exp(tf.neg(s)));
  });
}

/** Matérn 5/2: `alpha^2 (1 + sqrt(5) d / rho + 5 d^2 / (3 rho^2)) exp(-sqrt(5) d / rho)` (Stan's `gp_matern52_cov`). */
export function gpMatern52Cov(x: GpPoints, alpha: GpHyper, rho: GpHyper, options: GpCovOptions = {}): tf.Tensor {
  return covariance('gpMatern52Cov', x, alpha, rho, options, (sq, r) => {
    const s = tf.div(tf.mul(Math.sqrt(5), distance(sq)), r);
    return tf.mul(tf.add(tf.add(1, s), tf.div(tf.mul(5 / 3, sq), tf.square(r))), tf.exp(tf.neg(s)));
  });
}

/**
 * Periodic: `alpha^2 exp(-2 sin^2(pi d / period) / rho^2)` (Stan's
 * `gp_periodic_cov(x, alpha, rho, period)`).
 */
export function gpPeriodicCov(x: GpPoints, alpha: GpHyper, rho: GpHyper, period: number, options: GpCovOptions = {}): tf.Tensor {
  if (!(period > 0 && Number.isFinite(period))) throw new RangeError(`gpPeriodicCov: period must be positive and finite, got ${period}`);
  return covariance('gpPeriodicCov', x, alpha, rho, options, (sq, r) =>
    tf.exp(tf.div(tf.mul(-2, tf.square(tf.sin(tf.mul(Math.PI / period, distance(sq))))), tf.square(r))),
  );
}
