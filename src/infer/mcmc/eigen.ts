/**
 * Symmetric eigenproblems in float64 for the metric adaptation: a full
 * decomposition of small matrices by cyclic Jacobi rotations, and the top
 * eigenpairs of a large symmetric operator by block subspace iteration with a
 * Rayleigh–Ritz step (only products with the operator are needed, so a
 * sample covariance X^T X is never formed).
 *
 * Matrices are row-major `Float64Array`s.
 *
 * @module
 */

/** Eigenvalues (descending) and unit eigenvectors of a symmetric matrix. */
export interface SymmetricEigen {
  /** The eigenvalues, largest first. */
  readonly values: Float64Array;
  /** The eigenvectors as rows: row j (length `dim`) belongs to `values[j]`. */
  readonly vectors: Float64Array;
  /** Length of each eigenvector. */
  readonly dim: number;
}

/** Jacobi sweeps on the working copy `m`, rotating `v` (rows = vectors) along when given. */
function jacobiSweeps(m: Float64Array, d: number, v: Float64Array | null): void {
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < d; i++) {
      diag += m[i * d + i]! ** 2;
      for (let j = i + 1; j < d; j++) off += m[i * d + j]! ** 2;
    }
    if (off <= 1e-24 * diag) return;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q]!;
        if (apq === 0) continue;
        const app = m[p * d + p]!;
        const aqq = m[q * d + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = m[k * d + p]!;
          const akq = m[k * d + q]!;
          m[k * d + p] = c * akp - s * akq;
          m[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = m[p * d + k]!;
          const aqk = m[q * d + k]!;
          m[p * d + k] = c * apk - s * aqk;
          m[q * d + k] = s * apk + c * aqk;
        }
        if (v !== null) {
          // the eigenvectors are the columns of the product of the rotations; kept here as rows
          for (let k = 0; k < d; k++) {
            const vp = v[p * d + k]!;
            const vq = v[q * d + k]!;
            v[p * d + k] = c * vp - s * vq;
            v[q * d + k] = s * vp + c * vq;
          }
        }
      }
    }
  }
}

/**
 * Eigenvalues of a symmetric d x d matrix (row-major, unsorted), by cyclic
 * Jacobi rotations; the input is not modified.
 */
export function symmetricEigenvalues(a: Float64Array, d: number): Float64Array {
  const m = a.slice();
  jacobiSweeps(m, d, null);
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) out[i] = m[i * d + i]!;
  return out;
}

/**
 * The full eigendecomposition of a symmetric d x d matrix (row-major) by
 * cyclic Jacobi rotations, eigenvalues sorted largest first. Meant for small
 * d (cost about 10 d^3 per sweep); the input is not modified.
 *
 * @throws RangeError when the shape is wrong or an entry is not finite.
 */
export function symmetricEigen(a: Float64Array, d: number): SymmetricEigen {
  if (!Number.isInteger(d) || d < 1 || a.length !== d * d) {
    throw new RangeError(`symmetricEigen: need a ${d} x ${d} matrix (length ${d * d}), got length ${a.length}`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new RangeError(`symmetricEigen: entry ${i} is not finite (${a[i]})`);
  }
  const m = a.slice();
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  jacobiSweeps(m, d, v);
  const order = Array.from({ length: d }, (_, i) => i).sort((x, y) => m[y * d + y]! - m[x * d + x]!);
  const values = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  order.forEach((src, j) => {
    values[j] = m[src * d + src]!;
    vectors.set(v.subarray(src * d, src * d + d), j * d);
  });
  return { values, vectors, dim: d };
}

/**
 * Orthonormalises the rows of `rows` (r x d) in place by modified
 * Gram–Schmidt (twice, for stability), dropping rows that are dependent on
 * earlier ones (norm below `tol` times their original norm). Returns the
 * orthonormal rows, packed (m x d, m <= r).
 */
export function orthonormalRows(rows: Float64Array, r: number, d: number, tol = 1e-10): Float64Array {
  const kept: number[] = [];
  for (let i = 0; i < r; i++) {
    const row = rows.subarray(i * d, i * d + d);
    let n0 = 0;
    for (let k = 0; k < d; k++) n0 += row[k]! ** 2;
    n0 = Math.sqrt(n0);
    if (!(n0 > 0) || !Number.isFinite(n0)) continue;
    for (let pass = 0; pass < 2; pass++) {
      for (const j of kept) {
        const other = rows.subarray(j * d, j * d + d);
        let s = 0;
        for (let k = 0; k < d; k++) s += row[k]! * other[k]!;
        for (let k = 0; k < d; k++) row[k] = row[k]! - s * other[k]!;
      }
    }
    let n1 = 0;
    for (let k = 0; k < d; k++) n1 += row[k]! ** 2;
    n1 = Math.sqrt(n1);
    if (!(n1 > tol * n0)) continue;
    for (let k = 0; k < d; k++) row[k] = row[k]! / n1;
    kept.push(i);
  }
  const out = new Float64Array(kept.length * d);
  kept.forEach((src, j) => out.set(rows.subarray(src * d, src * d + d), j * d));
  return out;
}

/**
 * The top `k` eigenpairs of a symmetric positive semi-definite operator on
 * R^d given only by its product `apply(x, out)` (out = A x), by block
 * subspace iteration from the rows of `start` (b x d, b >= k; rows in the
 * operator's range converge fastest) with a Rayleigh–Ritz step at the end.
 * `iterations` products of the block: the error in a direction shrinks like
 * (lambda_{b+1} / lambda_j)^iterations.
 *
 * Returns at most k pairs (fewer when the start block spans fewer
 * directions), eigenvalues largest first.
 */
export function topEigen(apply: (x: Float64Array, out: Float64Array) => void, d: number, k: number, start: Float64Array, iterations = 8): SymmetricEigen {
  const b0 = Math.floor(start.length / d);
  if (!(k >= 1) || b0 < 1) return { values: new Float64Array(0), vectors: new Float64Array(0), dim: d };
  let block = orthonormalRows(start.slice(0, b0 * d), b0, d);
  const out = new Float64Array(d);
  for (let it = 0; it < iterations; it++) {
    const b = block.length / d;
    const next = new Float64Array(b * d);
    for (let j = 0; j < b; j++) {
      apply(block.subarray(j * d, j * d + d), out);
      next.set(out, j * d);
    }
    block = orthonormalRows(next, b, d);
    if (block.length === 0) return { values: new Float64Array(0), vectors: new Float64Array(0), dim: d };
  }
  // Rayleigh–Ritz: the operator on the block's span, T = Q A Q^T (b x b)
  const b = block.length / d;
  const aq = new Float64Array(b * d);
  for (let j = 0; j < b; j++) {
    apply(block.subarray(j * d, j * d + d), out);
    aq.set(out, j * d);
  }
  const t = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let x = 0; x < d; x++) s += 0.5 * (block[i * d + x]! * aq[j * d + x]! + block[j * d + x]! * aq[i * d + x]!);
      t[i * b + j] = s;
      t[j * b + i] = s;
    }
  }
  const small = symmetricEigen(t, b);
  const m = Math.min(k, b);
  const vectors = new Float64Array(m * d);
  for (let j = 0; j < m; j++) {
    for (let i = 0; i < b; i++) {
      const c = small.vectors[j * b + i]!;
      if (c === 0) continue;
      for (let x = 0; x < d; x++) vectors[j * d + x] = vectors[j * d + x]! + c * block[i * d + x]!;
    }
  }
  return { values: small.values.slice(0, m), vectors, dim: d };
}
