/**
 * Checks that samples follow a Gaussian mixture, for testing diffusion
 * samplers and steering against the analytic model: every moment is compared
 * with its exact value in units of its Monte Carlo standard error.
 *
 * - mean: E[x_i];
 * - covariance: E[(x_i - mu_i)(x_j - mu_j)] with the exact mean mu;
 * - component masses: E[r_k(x)] = pi_k, where r_k are the exact
 *   responsibilities (true for any mixture, so no clustering is needed).
 *
 * The check passes when every |z| is below the two-sided Bonferroni critical
 * value for the family at level `alpha`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { normalCdfNumber } from '../core/special.js';
import type { GaussianMixture } from '../steer/diffusion/gaussian-mixture.js';

/** One compared statistic. */
export interface MomentZ {
  readonly name: string;
  readonly estimate: number;
  readonly exact: number;
  readonly mcse: number;
  readonly z: number;
}

/** The result of {@link checkMixtureSamples}. */
export interface MixtureCheck {
  readonly pass: boolean;
  /** Largest |z|. */
  readonly maxAbsZ: number;
  /** The Bonferroni critical |z|. */
  readonly critical: number;
  readonly stats: readonly MomentZ[];
  /** A one-line summary naming the worst statistic. */
  readonly summary: string;
}

/** Two-sided critical |z| for `m` tests at family level `alpha`. */
export function bonferroniZ(alpha: number, m: number): number {
  const p = 1 - alpha / (2 * m);
  let lo = 0;
  let hi = 40;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdfNumber(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function meanSe(v: ArrayLike<number>): [number, number] {
  const n = v.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += v[i]!;
  m /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (v[i]! - m) ** 2;
  return [m, Math.sqrt(s / (n - 1) / n)];
}

/**
 * Compare samples `[N, d]` (a tensor or row-major numbers) with `mixture`'s
 * mean, covariance and component masses (default family level 1e-3).
 */
export function checkMixtureSamples(samples: tf.Tensor | ArrayLike<number>, mixture: GaussianMixture, options: { alpha?: number } = {}): MixtureCheck {
  const d = mixture.dim;
  const flat = samples instanceof tf.Tensor ? samples.dataSync() : samples;
  if (samples instanceof tf.Tensor && (samples.rank !== 2 || samples.shape[1] !== d)) throw new Error(`checkMixtureSamples: samples must be [N, ${d}], got [${samples.shape.join(', ')}]`);
  const n = flat.length / d;
  if (!Number.isInteger(n) || n < 10) throw new Error(`checkMixtureSamples: need at least 10 samples of dimension ${d}, got ${flat.length} numbers`);
  const mu = mixture.mean();
  const cov = mixture.covariance();
  const stats: MomentZ[] = [];
  const push = (name: string, v: ArrayLike<number>, exact: number) => {
    const [estimate, mcse] = meanSe(v);
    stats.push({ name, estimate, exact, mcse, z: (estimate - exact) / mcse });
  };
  const col = (i: number) => Float64Array.from({ length: n }, (_, r) => flat[r * d + i]!);
  for (let i = 0; i < d; i++) push(`mean[${i}]`, col(i), mu[i]!);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const p = Float64Array.from({ length: n }, (_, r) => (flat[r * d + i]! - mu[i]!) * (flat[r * d + j]! - mu[j]!));
      push(`cov[${i},${j}]`, p, cov[i]![j]!);
    }
  }
  if (mixture.size > 1) {
    const x = tf.tensor2d(Float32Array.from(flat), [n, d]);
    const r = mixture.responsibilities(x);
    const rr = r.dataSync();
    tf.dispose([x, r]);
    const K = mixture.size;
    mixture.weights.forEach((w, k) => push(`mass[${k}]`, Float64Array.from({ length: n }, (_, i) => rr[i * K + k]!), w));
  }
  const critical = bonferroniZ(options.alpha ?? 1e-3, stats.length);
  let worst = stats[0]!;
  for (const s of stats) if (!(Math.abs(s.z) <= Math.abs(worst.z))) worst = s;
  const maxAbsZ = Math.abs(worst.z);
  const pass = stats.every((s) => Math.abs(s.z) <= critical);
  return {
    pass,
    maxAbsZ,
    critical,
    stats,
    summary: `${pass ? 'pass' : 'FAIL'}: worst ${worst.name} = ${worst.estimate.toFixed(4)} vs exact ${worst.exact.toFixed(4)} (z = ${worst.z.toFixed(2)}, critical ${critical.toFixed(2)}, N = ${n})`,
  };
}
