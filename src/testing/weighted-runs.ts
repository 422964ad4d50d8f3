/**
 * Checks weighted particle populations (steering, SMC, importance sampling)
 * against exact expectations, with honest Monte Carlo error.
 *
 * Particles within one run are correlated (resampling duplicates them) and
 * self-normalised, so the error of one run's weighted average is not the
 * i.i.d. formula. Here R independent runs each give a self-normalised
 * estimate of every statistic; the statistic's estimate is the mean over runs
 * and its standard error the runs' standard deviation over sqrt(R). A check
 * passes when every |z| is below the Bonferroni critical value.
 *
 * {@link mixtureStatistics} gives the statistics of a Gaussian mixture
 * (mean, covariance about the exact mean, component masses via the exact
 * responsibilities), so a steered sampler can be checked against a
 * closed-form tilted, product or guided mixture.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GaussianMixture } from '../steer/diffusion/gaussian-mixture.js';
import { bonferroniZ, type MomentZ } from './diffusion.js';

/** One weighted run: particles (row-major `[n * d]`) and their normalised weights. */
export interface WeightedRun {
  readonly x: ArrayLike<number>;
  readonly weights: ArrayLike<number>;
}

/** A statistic: per-particle values of a test function and its exact expectation. */
export interface Statistic {
  readonly name: string;
  /** φ at each of the n particles (row-major `x`, dimension d). */
  readonly values: (x: ArrayLike<number>, n: number, d: number) => ArrayLike<number>;
  readonly exact: number;
}

/** The result of {@link checkWeightedRuns}. */
export interface WeightedRunsCheck {
  readonly pass: boolean;
  readonly maxAbsZ: number;
  readonly critical: number;
  readonly stats: readonly MomentZ[];
  /** One line naming the worst statistic. */
  readonly summary: string;
}

/** Compare the runs' weighted averages of each statistic with its exact value (family level `alpha`, default 1e-3). */
export function checkWeightedRuns(runs: readonly WeightedRun[], d: number, statistics: readonly Statistic[], options: { alpha?: number } = {}): WeightedRunsCheck {
  const R = runs.length;
  if (R < 3) throw new Error(`checkWeightedRuns: need at least 3 independent runs, got ${R}`);
  const est = statistics.map(() => new Float64Array(R));
  runs.forEach((run, r) => {
    const n = run.weights.length;
    if (run.x.length !== n * d) throw new Error(`checkWeightedRuns: run ${r} has ${run.x.length} numbers for ${n} weights in dimension ${d}`);
    let total = 0;
    for (let i = 0; i < n; i++) total += run.weights[i]!;
    statistics.forEach((s, k) => {
      const v = s.values(run.x, n, d);
      let acc = 0;
      for (let i = 0; i < n; i++) if (run.weights[i]! > 0) acc += run.weights[i]! * v[i]!;
      est[k]![r] = acc / total;
    });
  });
  const stats: MomentZ[] = statistics.map((s, k) => {
    const e = est[k]!;
    let m = 0;
    for (const v of e) m += v;
    m /= R;
    let ss = 0;
    for (const v of e) ss += (v - m) ** 2;
    const mcse = Math.sqrt(ss / (R - 1) / R);
    return { name: s.name, estimate: m, exact: s.exact, mcse, z: (m - s.exact) / mcse };
  });
  const critical = bonferroniZ(options.alpha ?? 1e-3, stats.length);
  let worst = stats[0]!;
  for (const s of stats) if (!(Math.abs(s.z) <= Math.abs(worst.z))) worst = s;
  const pass = stats.every((s) => Math.abs(s.z) <= critical);
  return {
    pass,
    maxAbsZ: Math.abs(worst.z),
    critical,
    stats,
    summary: `${pass ? 'pass' : 'FAIL'}: worst ${worst.name} = ${worst.estimate.toFixed(4)} vs exact ${worst.exact.toFixed(4)} (z = ${worst.z.toFixed(2)}, mcse ${worst.mcse.toExponential(2)}, critical ${critical.toFixed(2)}, R = ${R})`,
  };
}

/**
 * Mean, covariance (about the exact mean) and component-mass statistics of a
 * Gaussian mixture. Components lighter than `minMass` (default 0.01) get no
 * mass statistic: a rare event seen in no run has no usable run-to-run error.
 */
export function mixtureStatistics(mixture: GaussianMixture, options: { minMass?: number } = {}): Statistic[] {
  const minMass = options.minMass ?? 0.01;
  const d = mixture.dim;
  const mu = mixture.mean();
  const cov = mixture.covariance();
  const out: Statistic[] = [];
  for (let i = 0; i < d; i++) out.push({ name: `mean[${i}]`, exact: mu[i]!, values: (x, n) => Float64Array.from({ length: n }, (_, r) => x[r * d + i]!) });
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      out.push({ name: `cov[${i},${j}]`, exact: cov[i]![j]!, values: (x, n) => Float64Array.from({ length: n }, (_, r) => (x[r * d + i]! - mu[i]!) * (x[r * d + j]! - mu[j]!)) });
    }
  }
  if (mixture.size > 1) {
    mixture.weights.forEach((w, k) => {
      if (w < minMass) return;
      out.push({
        name: `mass[${k}]`,
        exact: w,
        values: (x, n) => {
          const t = tf.tensor2d(Float32Array.from(x), [n, d]);
          const r = mixture.responsibilities(t);
          const rr = r.dataSync();
          tf.dispose([t, r]);
          return Float64Array.from({ length: n }, (_, i) => rr[i * mixture.size + k]!);
        },
      });
    });
  }
  return out;
}
