/**
 * A D-dimensional Gaussian whose covariance is a diagonal plus a few strong
 * directions, Sigma = diag(s^2) + sum_j a_j w_j w_j^T (w_j orthonormal and
 * spread over every coordinate), with an O(D k) log density and gradient
 * (the precision by Woodbury), exact draws, and exact moments. The test bed
 * of the low-rank metric (test/mcmc/metric-lowrank.test.ts,
 * bench/metric-lowrank.ts).
 */
import { Rng } from '../../src/core/rng.js';
import { orthonormalRows } from '../../src/infer/mcmc/eigen.js';
import type { BatchedLogDensityTarget, LogDensityTarget } from '../../src/infer/mcmc/target.js';
import { spdInverse } from './targets.js';

/** The Gaussian test bed. */
export interface LowRankGaussian {
  readonly dim: number;
  readonly mean: Float64Array;
  /** Per-coordinate standard deviations of the diagonal part. */
  readonly scales: Float64Array;
  /** The strong directions' extra variances a_j. */
  readonly strengths: readonly number[];
  /** The strong directions w_j as rows (k x D), orthonormal. */
  readonly directions: Float64Array;
  readonly target: LogDensityTarget;
  readonly batched: BatchedLogDensityTarget;
  /** An exact draw. */
  draw(rng: Rng): Float64Array;
  /** The exact variance of v^T x. */
  varianceAlong(v: ArrayLike<number>): number;
  /** Calls of the target so far. */
  calls(): number;
}

/**
 * The Gaussian with dimension `dim`, `strengths.length` strong directions of
 * extra variance `strengths[j]`, scales in [0.5, 2] and means in [-1, 1]
 * (all from `seed`). With `strengths = []` it is independent.
 */
export function lowRankGaussian(dim: number, strengths: readonly number[], seed: number): LowRankGaussian {
  const rng = new Rng(seed);
  const d = dim;
  const k = strengths.length;
  const mean = Float64Array.from({ length: d }, () => 2 * rng.uniform() - 1);
  const scales = Float64Array.from({ length: d }, () => 0.5 + 1.5 * rng.uniform());
  const raw = Float64Array.from({ length: k * d }, () => rng.normal());
  const w = orthonormalRows(raw, k, d);
  // Woodbury: P = D^-1 - D^-1 W^T (A^-1 + W D^-1 W^T)^-1 W D^-1, with D = diag(s^2)
  const dInv = Float64Array.from(scales, (s) => 1 / (s * s));
  const core = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = a === b ? 1 / strengths[a]! : 0;
      for (let i = 0; i < d; i++) s += w[a * d + i]! * dInv[i]! * w[b * d + i]!;
      core[a * k + b] = s;
    }
  }
  const coreInv = k > 0 ? spdInverse(core, k) : new Float64Array(0);
  const t = new Float64Array(k);
  const c = new Float64Array(k);
  let calls = 0;
  /** grad = -P (q - mean) at q[off..], written into grad[off..]; returns logp (unnormalised). */
  const into = (q: Float64Array, off: number, grad: Float64Array): number => {
    for (let a = 0; a < k; a++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += w[a * d + i]! * dInv[i]! * (q[off + i]! - mean[i]!);
      t[a] = s;
    }
    for (let a = 0; a < k; a++) {
      let s = 0;
      for (let b = 0; b < k; b++) s += coreInv[a * k + b]! * t[b]!;
      c[a] = s;
    }
    let logp = 0;
    for (let i = 0; i < d; i++) {
      const r = q[off + i]! - mean[i]!;
      let corr = 0;
      for (let a = 0; a < k; a++) corr += w[a * d + i]! * c[a]!;
      const g = -dInv[i]! * (r - corr);
      grad[off + i] = g;
      logp += 0.5 * g * r;
    }
    return logp;
  };
  const gradBuffer = new Float64Array(d);
  return {
    dim: d,
    mean,
    scales,
    strengths,
    directions: w,
    target: (q) => {
      calls += 1;
      return { logp: into(q, 0, gradBuffer), grad: gradBuffer };
    },
    batched: (q) => {
      calls += 1;
      const n = q.length / d;
      const logp = new Float64Array(n);
      const grad = new Float64Array(q.length);
      for (let r = 0; r < n; r++) logp[r] = into(q, r * d, grad);
      return { logp, grad };
    },
    draw(r: Rng): Float64Array {
      const x = Float64Array.from(mean, (m, i) => m + scales[i]! * r.normal());
      for (let a = 0; a < k; a++) {
        const z = Math.sqrt(strengths[a]!) * r.normal();
        for (let i = 0; i < d; i++) x[i] = x[i]! + z * w[a * d + i]!;
      }
      return x;
    },
    varianceAlong(v: ArrayLike<number>): number {
      let s = 0;
      for (let i = 0; i < d; i++) s += (v[i]! * scales[i]!) ** 2;
      for (let a = 0; a < k; a++) {
        let p = 0;
        for (let i = 0; i < d; i++) p += v[i]! * w[a * d + i]!;
        s += strengths[a]! * p * p;
      }
      return s;
    },
    calls: () => calls,
  };
}
