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
 * Above the cap the choice is between diagonal and low-rank-plus-diagonal
 * (`metric-lowrank.ts`): each window's draws and gradients are fitted
 * (`metric-lowrank-fit.ts`), and the fit is kept when its strongest
 * direction changes the variance by more than `lowRankFactor` (default 3,
 * i.e. at least sqrt(3) = 1.7x fewer leapfrog steps along it):
 *
 *   lowrank  when  D > maxDenseDim  and  max_j max(lambda_j, 1/lambda_j) > lowRankFactor;
 *   diag     otherwise (Stan's variance estimate, as with `'diag'`).
 *
 * The fit's noise does not follow Marchenko–Pastur: on a Gaussian the
 * draws' and the gradients' noise cancel (see `metric-lowrank-fit.ts`), so a
 * fixed factor serves.
 *
 * @module
 */
import { symmetricEigenvalues } from './eigen.js';
import type { MetricKind } from './metric.js';
import type { LowRankFit } from './metric-lowrank-fit.js';

export { symmetricEigenvalues };

/** The mass-matrix setting: a fixed shape, or `'auto'` (chosen from the warmup by {@link chooseMetric}). */
export type MassMatrixOption = MetricKind | 'auto';

/** The accepted values of {@link MassMatrixOption}, for validation. */
export const MASS_MATRIX_OPTIONS: readonly MassMatrixOption[] = ['identity', 'diag', 'dense', 'auto', 'lowrank'];

/** Settings of the automatic choice. */
export interface MetricChoiceOptions {
  /** Largest dimension given a dense metric; default 100. */
  readonly maxDenseDim?: number;
  /** How far beyond the noise level the correlation's condition number must be; default 2. */
  readonly factor?: number;
  /** Above `maxDenseDim`: how far (as a variance ratio) the fitted low-rank correction's strongest direction must reach to be used; default 3. */
  readonly lowRankFactor?: number;
  /** Largest number of directions a low-rank metric corrects; default 6. */
  readonly maxRank?: number;
  /** Low-rank eigenvalues within [1 / cutoff, cutoff] are left to the diagonal; default 2. */
  readonly cutoff?: number;
}

/** What the automatic choice decided, and on what evidence. */
export interface MetricDecision {
  /** The chosen shape. */
  readonly kind: 'diag' | 'dense' | 'lowrank';
  /**
   * Condition number of the warmup draws' correlation matrix (Infinity when
   * singular; NaN when not computed); for a low-rank decision, the strongest
   * fitted direction's variance ratio max(lambda, 1 / lambda).
   */
  readonly conditionNumber: number;
  /** For a low-rank decision: the directions the fitted metric corrects. */
  readonly rank?: number;
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

/**
 * Low-rank or diagonal, above the dense cap, from a low-rank fit to `n`
 * warmup draws; see the module notes for the rule.
 */
export function chooseLowRank(fit: LowRankFit, n: number, options: MetricChoiceOptions = {}): MetricDecision {
  const { lowRankFactor = 3 } = options;
  let strongest = 1;
  for (const l of fit.lambda) strongest = Math.max(strongest, l, 1 / l);
  return { kind: strongest > lowRankFactor ? 'lowrank' : 'diag', conditionNumber: strongest, threshold: lowRankFactor, draws: n, rank: fit.rank };
}

/**
 * The metric of a run in words: the shape each chain ended warmup with and,
 * for an automatic choice, the evidence (condition number of the warmup
 * draws' correlation matrix against the threshold; above the dense cap, the
 * low-rank fit's rank and strongest variance ratio against `lowRankFactor`).
 */
export function describeMetricChoice(kinds: readonly MetricKind[], decisions: readonly (MetricDecision | undefined)[] | undefined): string {
  const shapes = [...new Set(kinds)];
  const head = shapes.length === 1 ? shapes[0]! : `per chain ${kinds.join(', ')}`;
  const made = decisions?.filter((x): x is MetricDecision => x !== undefined) ?? [];
  if (made.length === 0) return decisions === undefined ? `${head} (as asked)` : `${head} (auto: no warmup window to choose from)`;
  const fmt = (x: number): string => (Number.isFinite(x) ? x.toPrecision(3) : 'Infinity');
  const range = (xs: number[], f: (x: number) => string): string => `${f(Math.min(...xs))}-${f(Math.max(...xs))}`;
  const evidence = `against threshold ${fmt(made[0]!.threshold)} from ${made[0]!.draws} draws`;
  const lowRank = made.filter((x) => x.rank !== undefined);
  if (lowRank.length > 0) {
    return `${head} (auto: rank ${range(lowRank.map((x) => x.rank!), String)}, strongest direction's variance ratio ${range(lowRank.map((x) => x.conditionNumber), fmt)} ${evidence})`;
  }
  const conds = made.map((x) => x.conditionNumber).filter((c) => !Number.isNaN(c));
  if (conds.length === 0) return `${head} (auto: dimension above the dense cap)`;
  return `${head} (auto: condition number of the warmup correlation ${range(conds, fmt)} ${evidence})`;
}
