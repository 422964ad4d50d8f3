/**
 * Choosing the shape of the mass matrix from the warmup draws: dense where
 * the posterior is strongly correlated, diagonal otherwise.
 *
 * NUTS needs about sqrt(kappa) leapfrog steps per independent draw on a
 * Gaussian whose preconditioned covariance has condition number kappa. A
 * diagonal metric leaves the condition number of the posterior's
 * correlation matrix; a dense one removes it, up to the error of the
 * estimated covariance. That error is not small: the sample correlation
 * matrix of n independent draws of D independent coordinates already has a
 * condition number of about ((1 + sqrt(D/n)) / (1 - sqrt(D/n)))^2
 * (Marchenko–Pastur), so a dense metric only pays once the correlation seen
 * is well beyond what noise makes. The rule, applied at the end of every
 * slow warmup window:
 *
 *   dense  when  D <= maxDenseDim,  n_eff = n / 2 > D,  and
 *                cond(correlation) > factor * noiseCondition(D, n_eff);
 *   diag   otherwise.
 *
 * (n_eff = n / 2 allows for the autocorrelation of warmup draws.) A dense
 * metric costs O(D^2) per leapfrog step instead of O(D), which the cap on D
 * keeps small next to a gradient.
 *
 * @module
 */
import type { MetricKind } from './metric.js';

/** The mass-matrix setting: a fixed shape, or `'auto'` (chosen from the warmup by {@link chooseMetric}). */
export type MassMatrixOption = MetricKind | 'auto';

/** The accepted values of {@link MassMatrixOption}, for validation. */
export const MASS_MATRIX_OPTIONS: readonly MassMatrixOption[] = ['identity', 'diag', 'dense', 'auto'];

/** Settings of the automatic choice. */
export interface MetricChoiceOptions {
  /** Largest dimension given a dense metric; default 100. */
  readonly maxDenseDim?: number;
  /** How far beyond the noise level the correlation's condition number must be; default 2. */
  readonly factor?: number;
}

/** What the automatic choice decided, and on what evidence. */
export interface MetricDecision {
  /** The chosen shape. */
  readonly kind: 'diag' | 'dense';
  /** Condition number of the warmup draws' correlation matrix (Infinity when singular; NaN when not computed). */
  readonly conditionNumber: number;
  /** The threshold it was compared with (factor times the noise level). */
  readonly threshold: number;
  /** Warmup draws the estimate was made from. */
  readonly draws: number;
}

/**
 * The condition number that sampling noise alone gives the correlation
 * matrix of `n` independent draws in `d` dimensions (the Marchenko–Pastur
 * edges); Infinity when n <= d.
 */
export function noiseCondition(d: number, n: number): number {
  if (!(n > d)) return Infinity;
  const r = Math.sqrt(d / n);
  return ((1 + r) / (1 - r)) ** 2;
}

/**
 * Eigenvalues of a symmetric d x d matrix (row-major), by cyclic Jacobi
 * rotations; the input is not modified.
 */
export function symmetricEigenvalues(a: Float64Array, d: number): Float64Array {
  const m = a.slice();
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < d; i++) {
      diag += m[i * d + i]! ** 2;
      for (let j = i + 1; j < d; j++) off += m[i * d + j]! ** 2;
    }
    if (off <= 1e-24 * diag) break;
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
      }
    }
  }
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) out[i] = m[i * d + i]!;
  return out;
}

/** The condition number of the correlation matrix of a covariance (row-major d x d). */
export function correlationCondition(cov: Float64Array, d: number): number {
  const corr = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const s = Math.sqrt(cov[i * d + i]! * cov[j * d + j]!);
      corr[i * d + j] = s > 0 ? cov[i * d + j]! / s : i === j ? 1 : 0;
    }
  }
  const ev = symmetricEigenvalues(corr, d);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ev) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo > 0 ? hi / lo : Infinity;
}

/**
 * Dense or diagonal, from the sample covariance `cov` (row-major d x d) of
 * `n` warmup draws; see the module notes for the rule.
 */
export function chooseMetric(cov: Float64Array, d: number, n: number, options: MetricChoiceOptions = {}): MetricDecision {
  const { maxDenseDim = 100, factor = 2 } = options;
  const threshold = factor * noiseCondition(d, n / 2);
  if (d < 2 || d > maxDenseDim || !Number.isFinite(threshold)) return { kind: 'diag', conditionNumber: NaN, threshold, draws: n };
  const conditionNumber = correlationCondition(cov, d);
  return { kind: conditionNumber > threshold ? 'dense' : 'diag', conditionNumber, threshold, draws: n };
}
