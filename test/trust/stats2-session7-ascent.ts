/**
 * STATS2, session 7: does `init: 'ascent'` (the NUTS default) bias a
 * heavy-tailed scale posterior? The study runs NUTS on one model over many
 * seeds with each init strategy and compares every run's posterior mean with
 * the exact mean by quadrature, in units of the run's own MCSE.
 *
 * The model is the one a probe flagged last session (probe-session6.test.ts):
 * s ~ HalfNormal(1), five observations y ~ Normal(0, s) near 0, so the
 * posterior of s has an s^-5 tail (times the prior) over two decades.
 *
 * Used by stats2-session7.slow.test.ts and by hand (see that file's header).
 */
import * as tf from '@tensorflow/tfjs-core';
import { HalfCauchy, HalfNormal, Normal, infer, model } from '../../src/index.js';
import type { Model } from '../../src/core/index.js';
import type { Posterior } from '../../src/infer/posterior.js';

/** The five observations of the probe's model. */
export const HEAVY_YS = [0.01, -0.02, 0.005, 0.0, 0.015];

/** s ~ HalfNormal(1); y ~ Normal(0, s) for the five values of {@link HEAVY_YS}. */
export const heavyScale = model(async ({ sample, observe }) => {
  const s = await sample('s', HalfNormal(1));
  await observe('y', Normal(0, s), tf.tensor1d(HEAVY_YS));
});

/** The model's unnormalised log posterior density of s (on s, not log s). */
export const heavyScaleLogDensity = (s: number): number =>
  -0.5 * s * s + HEAVY_YS.reduce((a, y) => a - Math.log(s) - (0.5 * y * y) / (s * s), 0);

/** Two observations of the half-Cauchy model. */
export const CAUCHY_YS = [0.3, -0.5];

/** s ~ HalfCauchy(1); y ~ Normal(0, s) for the two values of {@link CAUCHY_YS}: an s^-4 tail (finite variance, infinite fourth moment). */
export const cauchyScale = model(async ({ sample, observe }) => {
  const s = await sample('s', HalfCauchy(1));
  await observe('y', Normal(0, s), tf.tensor1d(CAUCHY_YS));
});

/** {@link cauchyScale}'s unnormalised log posterior density of s. */
export const cauchyScaleLogDensity = (s: number): number =>
  -Math.log1p(s * s) + CAUCHY_YS.reduce((a, y) => a - Math.log(s) - (0.5 * y * y) / (s * s), 0);

/**
 * Posterior mean of a positive scale by midpoint quadrature in u = log s on
 * [log lo, log hi] (the density in u is p(s) s, so every decade gets the
 * same number of nodes: the s^-5 tail and the peak near 0.017 are both resolved).
 */
export function quadratureMeanLog(logDensity: (s: number) => number, lo = 1e-5, hi = 20, n = 400_000): number {
  const a = Math.log(lo);
  const h = (Math.log(hi) - a) / n;
  const lp = new Float64Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    const u = a + (i + 0.5) * h;
    lp[i] = logDensity(Math.exp(u)) + u;
    if (lp[i]! > m) m = lp[i]!;
  }
  let z = 0;
  let zs = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp(lp[i]! - m);
    z += w;
    zs += w * Math.exp(a + (i + 0.5) * h);
  }
  return zs / z;
}

/** One NUTS run's estimate of the posterior mean of `s` and its MCSE (basic split ESS, as `summary()`). */
export interface ScaleRun {
  readonly seed: number;
  readonly mean: number;
  readonly mcse: number;
  readonly rhat: number;
  readonly divergences: number;
  readonly init: string;
}

/** Run NUTS on a model with one scale site `s` (default {@link heavyScale}) at each seed with the given init strategy. */
export async function heavyScaleRuns(init: 'ascent' | 'uniform', seeds: readonly number[], opts: { warmup?: number; samples?: number; chains?: number; model?: Model<[], void> } = {}): Promise<ScaleRun[]> {
  const out: ScaleRun[] = [];
  for (const seed of seeds) {
    const post = (await infer(opts.model ?? heavyScale, { method: 'nuts', chains: opts.chains ?? 4, warmup: opts.warmup ?? 500, samples: opts.samples ?? 500, seed, init })) as unknown as Posterior<never[], unknown>;
    const r = post.summary().rows.find((x) => x.name === 's');
    if (!r) throw new Error('heavyScaleRuns: no summary row for s');
    const d = post.diagnostics as { divergences?: number; init?: string };
    out.push({ seed, mean: r.mean, mcse: r['mcse_mean'] as number, rhat: r['r_hat'] as number, divergences: d.divergences ?? 0, init: String(d.init) });
    post.dispose();
  }
  return out;
}

/** What the z-scores of many runs say: bias, MCSE calibration, and tail fractions with binomial errors. */
export interface ZStudy {
  readonly runs: number;
  /** Mean of z = (mean - exact) / mcse, and its standard error. */
  readonly meanZ: number;
  readonly meanZSe: number;
  /** Mean of z^2 (1 when the MCSE is right) and its standard error. */
  readonly meanZ2: number;
  readonly meanZ2Se: number;
  /** Bias of the estimate, (mean over runs of the estimate) - exact, in units of its standard error over runs. */
  readonly biasInSe: number;
  /** Seed-to-seed sd of the estimates over the root-mean-square reported MCSE (1 when the MCSE is right). */
  readonly spreadRatio: number;
  /** Fraction of |z| beyond 2 and beyond 3, with binomial standard errors. */
  readonly beyond2: number;
  readonly beyond2Se: number;
  readonly beyond3: number;
  readonly beyond3Se: number;
  readonly maxAbsZ: number;
}

/** Summarise runs against the exact value (optionally shifting the estimates, to plant a bias). */
export function zStudy(runs: readonly ScaleRun[], exact: number, shift = 0): ZStudy {
  const n = runs.length;
  const z = runs.map((r) => (r.mean + shift - exact) / r.mcse);
  const avg = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = (xs: readonly number[]) => {
    const m = avg(xs);
    return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  };
  const z2 = z.map((x) => x * x);
  const means = runs.map((r) => r.mean + shift);
  const frac = (t: number) => z.filter((x) => Math.abs(x) > t).length / n;
  const b2 = frac(2);
  const b3 = frac(3);
  return {
    runs: n,
    meanZ: avg(z),
    meanZSe: sd(z) / Math.sqrt(n),
    meanZ2: avg(z2),
    meanZ2Se: sd(z2) / Math.sqrt(n),
    biasInSe: (avg(means) - exact) / (sd(means) / Math.sqrt(n)),
    spreadRatio: sd(means) / Math.sqrt(avg(runs.map((r) => r.mcse * r.mcse))),
    beyond2: b2,
    beyond2Se: Math.sqrt((0.0455 * 0.9545) / n),
    beyond3: b3,
    beyond3Se: Math.sqrt((0.0027 * 0.9973) / n),
    maxAbsZ: Math.max(...z.map(Math.abs)),
  };
}
