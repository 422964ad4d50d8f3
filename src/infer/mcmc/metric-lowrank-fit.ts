/**
 * Fitting a low-rank-plus-diagonal inverse metric (see `metric-lowrank.ts`)
 * to a warmup window's draws and gradients, after the "low-rank mass matrix
 * adaptation" of nutpie (Seyboldt et al.): choose the metric that makes the
 * draws and the gradients look alike, i.e. minimises the sample Fisher
 * divergence between the target and a Gaussian.
 *
 * 1. Diagonal: sigma_i^2 = sd(x_i) / sd(g_i). On a Gaussian N(m, C) the
 *    gradient is -C^{-1}(x - m), so this is sqrt(C_ii / (C^{-1})_ii): the
 *    geometric mean of the marginal and the conditional variance.
 * 2. In the scaled space (x / sigma, g * sigma) the draws' covariance Cx is
 *    the posterior covariance and the gradients' covariance Cg its inverse.
 *    Their top eigen-directions (block subspace iteration, `eigen.ts`) are
 *    the directions of largest and of smallest posterior variance.
 * 3. On the span Q of those directions (orthonormal), the Fisher-optimal
 *    covariance is the SPD geometric mean of A = Q Cx Q^T and B^{-1},
 *    B = Q Cg Q^T: Sigma = B^{-1/2} (B^{1/2} A B^{1/2})^{1/2} B^{-1/2}. For
 *    a Gaussian whose covariance leaves the span invariant, B = A^{-1} and
 *    Sigma = A exactly, whatever the sampling noise in the draws (the noise in
 *    the draws and in the gradients cancels); A and B are shrunk towards the
 *    identity like Stan's estimate, (n A + 5 I) / (n + 5).
 * 4. The eigenpairs (lambda, u) of Sigma with lambda outside
 *    [1 / cutoff, cutoff] are kept (at most `maxRank`, strongest first);
 *    the rest are set to 1 (left to the diagonal).
 *
 * Everything is float64; the cost is O(n D maxRank) per window, never D^2.
 *
 * @module
 */
import { orthonormalRows, symmetricEigen, topEigen } from './eigen.js';
import { packLowRank } from './metric-lowrank.js';

/** Settings of the low-rank fit. */
export interface LowRankFitOptions {
  /** Largest number of corrected directions; default 6. */
  readonly maxRank?: number;
  /** Eigenvalues within [1 / cutoff, cutoff] are left to the diagonal; default 2 (nutpie's). */
  readonly cutoff?: number;
}

/** A fitted low-rank-plus-diagonal inverse metric. */
export interface LowRankFit {
  /** The packed inverse metric (`[sigma^2 | lambda | directions]`). */
  readonly inverse: Float64Array;
  /** The directions kept (k). */
  readonly rank: number;
  /** Their eigenvalues (k), strongest first. */
  readonly lambda: Float64Array;
  /** Every eigenvalue of the fitted covariance on the searched subspace, largest first (kept or not). */
  readonly eigenvalues: Float64Array;
}

const SIGMA2_MIN = 1e-20;
const SIGMA2_MAX = 1e20;

/** Symmetric m x m matrix function V f(values) V^T from an eigendecomposition. */
function matrixFunction(e: { values: Float64Array; vectors: Float64Array }, m: number, f: (x: number) => number): Float64Array {
  const out = new Float64Array(m * m);
  for (let j = 0; j < m; j++) {
    const fj = f(e.values[j]!);
    for (let a = 0; a < m; a++) {
      const va = fj * e.vectors[j * m + a]!;
      for (let b = 0; b < m; b++) out[a * m + b] = out[a * m + b]! + va * e.vectors[j * m + b]!;
    }
  }
  return out;
}

/** a b for m x m matrices. */
function matMul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] = out[i * m + j]! + aik * b[k * m + j]!;
    }
  }
  return out;
}

/** (a + a^T) / 2, against rounding. */
function symmetrise(a: Float64Array, m: number): Float64Array {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (a[i * m + j]! + a[j * m + i]!);
      a[i * m + j] = v;
      a[j * m + i] = v;
    }
  }
  return a;
}

/**
 * The SPD geometric mean of `a` and `b^{-1}` (both m x m symmetric positive
 * definite): the Sigma with Sigma b Sigma = a, i.e.
 * b^{-1/2} (b^{1/2} a b^{1/2})^{1/2} b^{-1/2}.
 */
export function spdMeanWithInverse(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const eb = symmetricEigen(b, m);
  const bh = matrixFunction(eb, m, Math.sqrt);
  const bmh = matrixFunction(eb, m, (x) => 1 / Math.sqrt(x));
  const inner = symmetrise(matMul(matMul(bh, a, m), bh, m), m);
  const innerH = matrixFunction(symmetricEigen(inner, m), m, (x) => Math.sqrt(Math.max(x, 0)));
  return symmetrise(matMul(matMul(bmh, innerH, m), bmh, m), m);
}

/** Centred rows of `x` (n x d) scaled column-wise by `scale` (or divided by it). */
function centredScaled(x: Float64Array, n: number, d: number, mean: Float64Array, scale: Float64Array, divide: boolean): Float64Array {
  const out = new Float64Array(n * d);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < d; i++) {
      const c = x[t * d + i]! - mean[i]!;
      out[t * d + i] = divide ? c / scale[i]! : c * scale[i]!;
    }
  }
  return out;
}

/** The operator v -> Y^T Y v / n of rows `y` (n x d). */
function covarianceOperator(y: Float64Array, n: number, d: number): (v: Float64Array, out: Float64Array) => void {
  const proj = new Float64Array(n);
  return (v, out) => {
    for (let t = 0; t < n; t++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += y[t * d + i]! * v[i]!;
      proj[t] = s / n;
    }
    out.fill(0);
    for (let t = 0; t < n; t++) {
      const c = proj[t]!;
      for (let i = 0; i < d; i++) out[i] = out[i]! + c * y[t * d + i]!;
    }
  };
}

/** Q Y^T Y Q^T / n shrunk towards I: (n S + 5 I) / (n + 5), for basis rows `q` (m x d). */
function projectedCovariance(q: Float64Array, m: number, y: Float64Array, n: number, d: number): Float64Array {
  const p = new Float64Array(m * n);
  for (let a = 0; a < m; a++) {
    for (let t = 0; t < n; t++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += q[a * d + i]! * y[t * d + i]!;
      p[a * n + t] = s;
    }
  }
  const out = new Float64Array(m * m);
  const shrink = 1 / (n + 5);
  for (let a = 0; a < m; a++) {
    for (let b = 0; b <= a; b++) {
      let s = 0;
      for (let t = 0; t < n; t++) s += p[a * n + t]! * p[b * n + t]!;
      const v = shrink * (s + (a === b ? 5 : 0));
      out[a * m + b] = v;
      out[b * m + a] = v;
    }
  }
  return out;
}

/**
 * Fits the low-rank-plus-diagonal inverse metric to `n` draws and their
 * gradients (each n x d, row-major); see the module notes.
 *
 * @throws RangeError when the shapes are wrong or fewer than 3 draws are given.
 */
export function fitLowRank(draws: Float64Array, grads: Float64Array, n: number, d: number, options: LowRankFitOptions = {}): LowRankFit {
  const { maxRank = 6, cutoff = 2 } = options;
  if (!(Number.isInteger(maxRank) && maxRank >= 0)) throw new RangeError(`lowrank: maxRank must be a non-negative integer, got ${maxRank}`);
  if (!(cutoff >= 1)) throw new RangeError(`lowrank: cutoff must be at least 1, got ${cutoff}`);
  if (draws.length !== n * d || grads.length !== n * d) {
    throw new RangeError(`lowrank: ${n} draws of dimension ${d} need ${n * d} entries each, got ${draws.length} draws and ${grads.length} gradients`);
  }
  if (n < 3) throw new RangeError(`lowrank: the fit needs at least 3 draws, got ${n}`);
  const meanX = new Float64Array(d);
  const meanG = new Float64Array(d);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < d; i++) {
      meanX[i] = meanX[i]! + draws[t * d + i]! / n;
      meanG[i] = meanG[i]! + grads[t * d + i]! / n;
    }
  }
  const sigma = new Float64Array(d);
  const sigma2 = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let vx = 0;
    let vg = 0;
    for (let t = 0; t < n; t++) {
      vx += (draws[t * d + i]! - meanX[i]!) ** 2;
      vg += (grads[t * d + i]! - meanG[i]!) ** 2;
    }
    // sd(x) / sd(g); a coordinate that never moved, or whose gradient never changed, keeps what can be said
    let s2 = vx > 0 && vg > 0 ? Math.sqrt(vx / vg) : vx > 0 ? vx / n : vg > 0 ? n / vg : 1;
    if (!Number.isFinite(s2)) s2 = 1;
    s2 = Math.min(SIGMA2_MAX, Math.max(SIGMA2_MIN, s2));
    sigma2[i] = s2;
    sigma[i] = Math.sqrt(s2);
  }
  const x = centredScaled(draws, n, d, meanX, sigma, true);
  const g = centredScaled(grads, n, d, meanG, sigma, false);
  const none = { inverse: packLowRank(sigma2, [], []), rank: 0, lambda: new Float64Array(0), eigenvalues: new Float64Array(0) };
  if (maxRank === 0) return none;

  const search = Math.min(d, maxRank + 5);
  const block = Math.min(n, search + 5);
  const topX = topEigen(covarianceOperator(x, n, d), d, search, x.slice(0, block * d));
  const topG = topEigen(covarianceOperator(g, n, d), d, search, g.slice(0, block * d));
  const both = new Float64Array(topX.vectors.length + topG.vectors.length);
  both.set(topX.vectors, 0);
  both.set(topG.vectors, topX.vectors.length);
  const q = orthonormalRows(both, both.length / d, d);
  const m = q.length / d;
  if (m === 0) return none;

  const sigmaSub = spdMeanWithInverse(projectedCovariance(q, m, x, n, d), projectedCovariance(q, m, g, n, d), m);
  const e = symmetricEigen(sigmaSub, m);
  const order = Array.from({ length: m }, (_, j) => j)
    .filter((j) => e.values[j]! > cutoff || e.values[j]! < 1 / cutoff)
    .sort((a, b) => Math.abs(Math.log(e.values[b]!)) - Math.abs(Math.log(e.values[a]!)))
    .slice(0, maxRank);
  const lambda: number[] = [];
  const vectors = new Float64Array(order.length * d);
  order.forEach((j, r) => {
    lambda.push(e.values[j]!);
    for (let a = 0; a < m; a++) {
      const c = e.vectors[j * m + a]!;
      for (let i = 0; i < d; i++) vectors[r * d + i] = vectors[r * d + i]! + c * q[a * d + i]!;
    }
  });
  // re-orthonormalise against rounding (the rows are orthonormal up to ~1e-15)
  const u = orthonormalRows(vectors, order.length, d);
  if (u.length !== vectors.length) return none;
  return { inverse: packLowRank(sigma2, lambda, u), rank: order.length, lambda: Float64Array.from(lambda), eigenvalues: e.values };
}
