/**
 * The little dense linear algebra the samplers need. Matrices are row-major
 * `Float64Array`s; vectors in the hot paths are plain `number[]`, because V8
 * allocates small typed arrays off-heap (about 1 us each above 8 doubles,
 * against tens of nanoseconds for a plain array), and a NUTS trajectory
 * allocates a few vectors per leapfrog step.
 *
 * @module
 */

/** x . y over the first `x.length` entries. */
export function dot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

/** `out = a x` for an n x n row-major matrix `a`; returns `out`. */
export function matVecInto(a: Float64Array, x: ArrayLike<number>, out: number[]): number[] {
  const n = x.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    const row = i * n;
    for (let j = 0; j < n; j++) s += a[row + j]! * x[j]!;
    out[i] = s;
  }
  return out;
}

/** A new plain array of n zeros. */
export function zeros(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(0);
  return out;
}

/** A plain-array copy of `x`. */
export function copyVec(x: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) out.push(x[i]!);
  return out;
}

/** `a + b` as a new plain array. */
export function addVec(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) out.push(a[i]! + b[i]!);
  return out;
}

/** `out = a + b`; returns `out` (which may be `a`). */
export function addInto(a: ArrayLike<number>, b: ArrayLike<number>, out: number[]): number[] {
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/**
 * The lower Cholesky factor L (row-major, zeros above the diagonal) of a
 * symmetric positive-definite n x n matrix `a`, so that a = L L^T.
 *
 * @throws RangeError naming `what` when `a` is not positive definite.
 */
export function cholesky(a: Float64Array, n: number, what = 'matrix'): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) {
          throw new RangeError(`${what} is not symmetric positive definite (pivot ${i} is ${s})`);
        }
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j]!;
      }
    }
  }
  return l;
}

/** Solves L^T x = b for x, with L lower triangular (row-major n x n). */
export function solveLowerTranspose(l: Float64Array, b: ArrayLike<number>): number[] {
  const n = b.length;
  const x = zeros(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * x[k]!;
    x[i] = s / l[i * n + i]!;
  }
  return x;
}

/** True when the n x n row-major matrix `a` is symmetric up to `tol` (relative). */
export function isSymmetric(a: Float64Array, n: number, tol = 1e-10): boolean {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const x = a[i * n + j]!;
      const y = a[j * n + i]!;
      if (Math.abs(x - y) > tol * Math.max(1, Math.abs(x), Math.abs(y))) return false;
    }
  }
  return true;
}
