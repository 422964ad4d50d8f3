/**
 * Euclidean metrics (mass matrices) for Hamiltonian Monte Carlo.
 *
 * As in Stan, a metric is held through its inverse M^{-1}, which adaptation
 * estimates as the posterior covariance: kinetic energy is
 * K(p) = p^T M^{-1} p / 2, the velocity dq/dt is M^{-1} p, and momenta are
 * drawn from N(0, M).
 *
 * @module
 */
import type { Rng } from '../../core/rng.js';
import { cholesky, isSymmetric, matVecInto, solveLowerTranspose, zeros } from './linalg.js';
import { LowRankInverse } from './metric-lowrank.js';

/**
 * The shape of the mass matrix: identity, diagonal, dense, or `lowrank`
 * (diagonal corrected along a few directions; see `metric-lowrank.ts`).
 */
export type MetricKind = 'identity' | 'diag' | 'dense' | 'lowrank';

/** The metric kinds, for validation. */
export const METRIC_KINDS: readonly MetricKind[] = ['identity', 'diag', 'dense', 'lowrank'];

/** A Euclidean metric given by its inverse mass matrix. */
export class EuclideanMetric {
  private inv: Float64Array;
  /** Lower Cholesky factor of the dense inverse metric; unused otherwise. */
  private chol: Float64Array | null = null;
  /** 1 / sqrt(diagonal of the inverse metric) for diagonal metrics. */
  private invSqrt: Float64Array | null = null;
  /** The low-rank-plus-diagonal algebra; unused otherwise. */
  private low: LowRankInverse | null = null;
  /** Scratch vector for dense products (never escapes a method call). */
  private readonly scratch: number[];

  /**
   * @param kind - identity, diag or dense.
   * @param dim - the dimension D.
   * @param inverse - the inverse mass matrix: length D for `diag` (the
   *   variances), D*D row-major for `dense`, packed
   *   `[sigma^2 (D) | lambda (k) | k directions of D]` for `lowrank`
   *   (see `metric-lowrank.ts`); default the identity.
   */
  constructor(
    readonly kind: MetricKind,
    readonly dim: number,
    inverse?: Float64Array,
  ) {
    if (!METRIC_KINDS.includes(kind)) {
      throw new RangeError(`metric: kind must be one of ${METRIC_KINDS.join(', ')}, got ${String(kind)}`);
    }
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`metric: dim must be a positive integer, got ${dim}`);
    this.inv = new Float64Array(0);
    this.scratch = zeros(dim);
    this.setInverse(inverse ?? EuclideanMetric.identityInverse(kind, dim));
  }

  /** The identity in the storage layout of `kind` (length D, or D*D). */
  static identityInverse(kind: MetricKind, dim: number): Float64Array {
    if (kind !== 'dense') return new Float64Array(dim).fill(1);
    const m = new Float64Array(dim * dim);
    for (let i = 0; i < dim; i++) m[i * dim + i] = 1;
    return m;
  }

  /** A copy of the inverse mass matrix (length D, D*D row-major for dense, packed for lowrank). */
  get inverse(): Float64Array {
    return this.inv.slice();
  }

  /**
   * Replaces the inverse mass matrix.
   *
   * @throws RangeError when the shape is wrong or the matrix is not
   *   positive definite (or, for `identity`, not the identity).
   */
  setInverse(inverse: Float64Array): void {
    const d = this.dim;
    if (this.kind === 'lowrank') {
      if (!(inverse instanceof Float64Array)) throw new RangeError(`metric: a lowrank inverse metric must be a Float64Array, got ${typeof inverse}`);
      this.low = new LowRankInverse(d, inverse);
      this.inv = inverse.slice();
      return;
    }
    const want = this.kind === 'dense' ? d * d : d;
    if (!(inverse instanceof Float64Array) || inverse.length !== want) {
      throw new RangeError(
        `metric: a ${this.kind} inverse metric for dim ${d} needs a Float64Array of length ${want}, ` +
          `got ${inverse instanceof Float64Array ? `length ${inverse.length}` : typeof inverse}`,
      );
    }
    if (this.kind === 'dense') {
      if (!isSymmetric(inverse, d)) throw new RangeError('metric: the dense inverse metric is not symmetric');
      this.chol = cholesky(inverse, d, 'metric: the dense inverse metric');
    } else {
      const s = new Float64Array(d);
      for (let i = 0; i < d; i++) {
        const v = inverse[i]!;
        if (!(v > 0) || !Number.isFinite(v)) {
          throw new RangeError(`metric: inverse metric entry ${i} must be positive and finite, got ${v}`);
        }
        if (this.kind === 'identity' && v !== 1) throw new RangeError('metric: an identity metric cannot be changed');
        s[i] = 1 / Math.sqrt(v);
      }
      this.invSqrt = s;
    }
    this.inv = inverse.slice();
  }

  /** The velocity M^{-1} x, written to `out` (default a new array). */
  velocity(x: ArrayLike<number>, out: number[] = zeros(this.dim)): number[] {
    switch (this.kind) {
      case 'identity':
        for (let i = 0; i < this.dim; i++) out[i] = x[i]!;
        return out;
      case 'diag':
        for (let i = 0; i < this.dim; i++) out[i] = this.inv[i]! * x[i]!;
        return out;
      case 'dense':
        return matVecInto(this.inv, x, out);
      case 'lowrank':
        return this.low!.velocityInto(x, out);
    }
  }

  /**
   * The diagonal of M^{-1} for `identity` and `diag` metrics, else null: the
   * metric's own buffer (read it, never write it; valid until `setInverse`),
   * for hot loops that form `a^T M^{-1} b` themselves as `sum a[i] inv[i] b[i]`
   * (the same arithmetic as {@link EuclideanMetric.innerProduct}).
   */
  get diagonalInverse(): Float64Array | null {
    return this.kind === 'identity' || this.kind === 'diag' ? this.inv : null;
  }

  /**
   * 1 / sqrt of the diagonal of M^{-1} for `identity` and `diag` metrics,
   * else null: a momentum draw is `p[i] = z[i] * scale[i]` with `z[i]`
   * standard normal, drawn in index order (what
   * {@link EuclideanMetric.sampleMomentum} computes). The metric's own buffer
   * (read it, never write it; valid until `setInverse`).
   */
  get diagonalMomentumScale(): Float64Array | null {
    return this.kind === 'identity' || this.kind === 'diag' ? this.invSqrt : null;
  }

  /** The bilinear form a^T M^{-1} b. */
  innerProduct(a: ArrayLike<number>, b: ArrayLike<number>): number {
    const d = this.dim;
    let s = 0;
    switch (this.kind) {
      case 'identity':
        for (let i = 0; i < d; i++) s += a[i]! * b[i]!;
        return s;
      case 'diag':
        for (let i = 0; i < d; i++) s += a[i]! * this.inv[i]! * b[i]!;
        return s;
      case 'dense': {
        const v = matVecInto(this.inv, b, this.scratch);
        for (let i = 0; i < d; i++) s += a[i]! * v[i]!;
        return s;
      }
      case 'lowrank':
        return this.low!.innerProduct(a, b);
    }
  }

  /** Kinetic energy p^T M^{-1} p / 2. */
  kinetic(p: ArrayLike<number>): number {
    return 0.5 * this.innerProduct(p, p);
  }

  /** The position after a drift of `eps` along the velocity: q + eps M^{-1} p (a new array). */
  drift(q: ArrayLike<number>, p: ArrayLike<number>, eps: number): number[] {
    const d = this.dim;
    const out: number[] = [];
    switch (this.kind) {
      case 'identity':
        for (let i = 0; i < d; i++) out.push(q[i]! + eps * p[i]!);
        return out;
      case 'diag':
        for (let i = 0; i < d; i++) out.push(q[i]! + eps * this.inv[i]! * p[i]!);
        return out;
      case 'dense':
      case 'lowrank': {
        const v = this.velocity(p, this.scratch);
        for (let i = 0; i < d; i++) out.push(q[i]! + eps * v[i]!);
        return out;
      }
    }
  }

  /**
   * In place: `q += eps M^{-1} p` (the drift of a leapfrog step without a new
   * array; the same arithmetic, in the same order, as `drift`).
   */
  driftInPlace(q: number[], p: ArrayLike<number>, eps: number): void {
    const d = this.dim;
    switch (this.kind) {
      case 'identity':
        for (let i = 0; i < d; i++) q[i] = q[i]! + eps * p[i]!;
        return;
      case 'diag':
        for (let i = 0; i < d; i++) q[i] = q[i]! + eps * this.inv[i]! * p[i]!;
        return;
      case 'dense':
      case 'lowrank': {
        const v = this.velocity(p, this.scratch);
        for (let i = 0; i < d; i++) q[i] = q[i]! + eps * v[i]!;
        return;
      }
    }
  }

  /**
   * A momentum drawn from N(0, M). With `out` (length D), identity and
   * diagonal metrics write it there and return `out` (no allocation); the
   * others use `out` as scratch and return a new array: use the return value.
   */
  sampleMomentum(rng: Rng, out?: number[]): number[] {
    const d = this.dim;
    const z: number[] = out ?? [];
    for (let i = 0; i < d; i++) z[i] = rng.normal();
    if (this.kind === 'identity') return z;
    if (this.kind === 'diag') {
      const s = this.invSqrt!;
      for (let i = 0; i < d; i++) z[i] = z[i]! * s[i]!;
      return z;
    }
    if (this.kind === 'lowrank') return this.low!.sqrtMassInto(z, zeros(d));
    // M^{-1} = L L^T, so p = L^{-T} z has covariance (L L^T)^{-1} = M.
    return solveLowerTranspose(this.chol!, z);
  }
}
