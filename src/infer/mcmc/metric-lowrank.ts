/**
 * The low-rank-plus-diagonal metric: a diagonal scaling corrected along a
 * few directions,
 *
 *   M^{-1} = S (I + U (Lambda - I) U^T) S,   S = diag(sigma),
 *
 * with U (D x k) orthonormal columns and Lambda = diag(lambda_1..k) > 0. In
 * the scaled coordinates y = x / sigma the inverse metric is the identity
 * except along the k directions u_j, where it is lambda_j. Because U is
 * orthonormal, every operation the sampler needs is closed-form and O(D k):
 *
 *   M^{-1} x   = S (y + U ((lambda - 1) * U^T y)),          y = S x
 *   M x        = S^{-1} (y + U ((1/lambda - 1) * U^T y)),   y = S^{-1} x
 *   M^{1/2} z  = S^{-1} (z + U ((lambda^{-1/2} - 1) * U^T z))   (a square root:
 *                R R^T = M, so p = R z with z ~ N(0, I) has covariance M)
 *
 * (the factors I + U (f(lambda) - 1) U^T multiply as f does). The metric is
 * stored packed in one `Float64Array` of length D + k (D + 1):
 * `[sigma^2 (D) | lambda (k) | u_1 .. u_k (k rows of D)]`; with k = 0 it is a
 * diagonal metric whose inverse is sigma^2.
 *
 * @module
 */

/** Tolerance on U^T U = I when a packed low-rank metric is read. */
const ORTHONORMAL_TOL = 1e-8;

/** The rank k encoded by a packed low-rank inverse metric of `length` for dimension `dim`, or -1 when none fits. */
export function lowRankRankOf(length: number, dim: number): number {
  const k = (length - dim) / (dim + 1);
  return Number.isInteger(k) && k >= 0 && k <= dim ? k : -1;
}

/**
 * Packs a low-rank-plus-diagonal inverse metric: `variances` (sigma^2,
 * length D), `lambda` (k) and `vectors` (k rows of length D).
 */
export function packLowRank(variances: ArrayLike<number>, lambda: ArrayLike<number>, vectors: ArrayLike<number>): Float64Array {
  const d = variances.length;
  const k = lambda.length;
  if (vectors.length !== k * d) throw new RangeError(`metric: ${k} low-rank directions in dimension ${d} need ${k * d} vector entries, got ${vectors.length}`);
  const out = new Float64Array(d + k * (d + 1));
  out.set(Array.from(variances), 0);
  out.set(Array.from(lambda), d);
  out.set(Array.from(vectors), d + k);
  return out;
}

/** The algebra of one low-rank-plus-diagonal metric (see the module notes); every product is O(D k). */
export class LowRankInverse {
  /** The rank k (number of corrected directions). */
  readonly rank: number;
  /** sigma (square roots of the diagonal). */
  private readonly sigma: Float64Array;
  /** lambda_j - 1. */
  private readonly lamM1: Float64Array;
  /** 1 / lambda_j - 1. */
  private readonly invLamM1: Float64Array;
  /** lambda_j^{-1/2} - 1. */
  private readonly invSqrtLamM1: Float64Array;
  /** The directions u_j as rows (k x D). */
  private readonly u: Float64Array;
  /** sigma^2. */
  private readonly s2: Float64Array;
  /** Rows u_j * sigma (the directions as M^{-1} sees them). */
  private readonly us: Float64Array;
  /** Rows u_j / sigma (as M sees them). */
  private readonly ud: Float64Array;
  /** Scratch for the k projections (never escapes a method call). */
  private readonly coef: Float64Array;

  /**
   * @param dim - the dimension D.
   * @param packed - `[sigma^2 | lambda | U rows]` (see the module notes).
   * @throws RangeError naming the entry when the length does not fit D, an
   *   entry is not positive and finite, or U is not orthonormal.
   */
  constructor(
    readonly dim: number,
    packed: Float64Array,
  ) {
    const d = dim;
    const k = lowRankRankOf(packed.length, d);
    if (k < 0) {
      throw new RangeError(`metric: a lowrank inverse metric for dim ${d} needs length ${d} + k * ${d + 1} (sigma^2, lambda, k directions), got length ${packed.length}`);
    }
    this.rank = k;
    this.sigma = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      const v = packed[i]!;
      if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`metric: lowrank diagonal entry ${i} must be positive and finite, got ${v}`);
      this.sigma[i] = Math.sqrt(v);
    }
    this.lamM1 = new Float64Array(k);
    this.invLamM1 = new Float64Array(k);
    this.invSqrtLamM1 = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      const l = packed[d + j]!;
      if (!(l > 0) || !Number.isFinite(l)) throw new RangeError(`metric: lowrank eigenvalue ${j} must be positive and finite, got ${l}`);
      this.lamM1[j] = l - 1;
      this.invLamM1[j] = 1 / l - 1;
      this.invSqrtLamM1[j] = 1 / Math.sqrt(l) - 1;
    }
    this.u = packed.slice(d + k);
    for (let a = 0; a < k; a++) {
      for (let b = 0; b <= a; b++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += this.u[a * d + i]! * this.u[b * d + i]!;
        if (!(Math.abs(s - (a === b ? 1 : 0)) < ORTHONORMAL_TOL)) {
          throw new RangeError(`metric: lowrank directions ${b} and ${a} are not orthonormal (dot product ${s})`);
        }
      }
    }
    this.coef = new Float64Array(k);
    this.s2 = new Float64Array(d);
    this.us = new Float64Array(k * d);
    this.ud = new Float64Array(k * d);
    for (let i = 0; i < d; i++) this.s2[i] = this.sigma[i]! * this.sigma[i]!;
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < d; i++) {
        this.us[j * d + i] = this.u[j * d + i]! * this.sigma[i]!;
        this.ud[j * d + i] = this.u[j * d + i]! / this.sigma[i]!;
      }
    }
  }

  /** coef_j = rows_j . x. */
  private project(rows: Float64Array, x: ArrayLike<number>): void {
    const d = this.dim;
    for (let j = 0; j < this.rank; j++) {
      let s = 0;
      const row = j * d;
      for (let i = 0; i < d; i++) s += rows[row + i]! * x[i]!;
      this.coef[j] = s;
    }
  }

  /** out += sum_j f_j coef_j rows_j (rows contiguous, so the inner loop walks memory in order). */
  private addDirections(rows: Float64Array, f: Float64Array, out: number[]): number[] {
    const d = this.dim;
    for (let j = 0; j < this.rank; j++) {
      const c = f[j]! * this.coef[j]!;
      const row = j * d;
      for (let i = 0; i < d; i++) out[i] = out[i]! + c * rows[row + i]!;
    }
    return out;
  }

  /** out = M^{-1} x = sigma^2 x + sum_j (lambda_j - 1) (us_j . x) us_j; returns `out` (which must not be `x`). */
  velocityInto(x: ArrayLike<number>, out: number[]): number[] {
    this.project(this.us, x);
    for (let i = 0; i < this.dim; i++) out[i] = this.s2[i]! * x[i]!;
    return this.addDirections(this.us, this.lamM1, out);
  }

  /** out = M x = x / sigma^2 + sum_j (1 / lambda_j - 1) (ud_j . x) ud_j; returns `out` (which must not be `x`). */
  massInto(x: ArrayLike<number>, out: number[]): number[] {
    this.project(this.ud, x);
    for (let i = 0; i < this.dim; i++) out[i] = x[i]! / this.s2[i]!;
    return this.addDirections(this.ud, this.invLamM1, out);
  }

  /** A square root of M applied to z: R z = z / sigma + sum_j (lambda_j^{-1/2} - 1) (u_j . z) ud_j, with R R^T = M (so R z ~ N(0, M) for z ~ N(0, I)); returns `out`. */
  sqrtMassInto(z: ArrayLike<number>, out: number[]): number[] {
    this.project(this.u, z);
    for (let i = 0; i < this.dim; i++) out[i] = z[i]! / this.sigma[i]!;
    return this.addDirections(this.ud, this.invSqrtLamM1, out);
  }

  /** The bilinear form a^T M^{-1} b = sum sigma^2 a b + sum_j (lambda_j - 1) (us_j . a)(us_j . b), without allocating. */
  innerProduct(a: ArrayLike<number>, b: ArrayLike<number>): number {
    const d = this.dim;
    let s = 0;
    for (let i = 0; i < d; i++) s += this.s2[i]! * a[i]! * b[i]!;
    for (let j = 0; j < this.rank; j++) {
      let ca = 0;
      let cb = 0;
      const row = j * d;
      for (let i = 0; i < d; i++) {
        const w = this.us[row + i]!;
        ca += w * a[i]!;
        cb += w * b[i]!;
      }
      s += this.lamM1[j]! * ca * cb;
    }
    return s;
  }
}
