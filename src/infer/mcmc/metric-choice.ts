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
  /**
   * Set where `conditionNumber` is a bound that already decided, so no
   * eigenvalues were computed: `'upper'` (from the entries' spread, below
   * the threshold: diag) or `'lower'` (a 2 x 2 principal submatrix's, above
   * it: dense); see `correlationConditionBounds`.
   */
  readonly bound?: 'upper' | 'lower';
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

/** The correlation matrix of a covariance (row-major d x d); a zero variance gives a unit row and column. */
function correlationOf(cov: Float64Array, d: number): Float64Array {
  const corr = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const s = Math.sqrt(cov[i * d + i]! * cov[j * d + j]!);
      corr[i * d + j] = s > 0 ? cov[i * d + j]! / s : i === j ? 1 : 0;
    }
  }
  return corr;
}

/** The condition number of a correlation matrix (row-major d x d) from its eigenvalues; Infinity when singular. */
function conditionOfCorrelation(corr: Float64Array, d: number): number {
  const ev = symmetricEigenvalues(corr, d);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of ev) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return lo > 0 ? hi / lo : Infinity;
}

/** The condition number of the correlation matrix of a covariance (row-major d x d). */
export function correlationCondition(cov: Float64Array, d: number): number {
  return conditionOfCorrelation(correlationOf(cov, d), d);
}

/**
 * Bounds on a correlation matrix's condition number from its entries alone,
 * O(d^2). Upper: every eigenvalue lies within r of 1 (the mean eigenvalue,
 * as the diagonal is 1), with r the smaller of Gershgorin's radius
 * max_i sum_{j != i} |c_ij| and Wolkowicz and Styan's s sqrt(d - 1),
 * s^2 = sum_{i != j} c_ij^2 / d (the eigenvalues' variance), so
 * cond <= (1 + r) / (1 - r) where r < 1. Lower: the eigenvalues of any
 * 2 x 2 principal submatrix, 1 +- |c_ij|, lie between the extreme ones
 * (Cauchy interlacing), so cond >= (1 + rho) / (1 - rho), rho = max |c_ij|.
 */
export function correlationConditionBounds(corr: Float64Array, d: number): { lower: number; upper: number; largest: number } {
  let radius = 0;
  let rho = 0;
  let squares = 0;
  for (let i = 0; i < d; i++) {
    let r = 0;
    for (let j = 0; j < d; j++) {
      if (j === i) continue;
      const a = Math.abs(corr[i * d + j]!);
      r += a;
      squares += a * a;
      if (a > rho) rho = a;
    }
    if (r > radius) radius = r;
  }
  const spread = Math.min(radius, Math.sqrt(((d - 1) * squares) / d));
  return { lower: rho < 1 ? (1 + rho) / (1 - rho) : Infinity, upper: spread < 1 ? (1 + spread) / (1 - spread) : Infinity, largest: Math.min(d, 1 + spread) };
}

/** Whether `corr - mu I` (row-major d x d) is positive definite: its Cholesky factorisation (into `work`) goes through. */
function definiteAbove(corr: Float64Array, d: number, mu: number, work: Float64Array): boolean {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = corr[i * d + j]! - (i === j ? mu : 0);
      for (let k = 0; k < j; k++) sum -= work[i * d + k]! * work[j * d + k]!;
      if (i === j) {
        if (!(sum > 0)) return false;
        work[i * d + i] = Math.sqrt(sum);
      } else work[i * d + j] = sum / work[j * d + j]!;
    }
  }
  return true;
}

/**
 * Dense or diagonal, from the sample covariance `cov` (row-major d x d) of
 * `n` warmup draws; see the module notes for the rule. Where the
 * correlation's bounds (`correlationConditionBounds`) already fall on
 * one side of the threshold, or a Cholesky factorisation certifies that the
 * smallest eigenvalue is above the largest one's bound over the threshold,
 * the decision is the same without the Jacobi eigenvalues (the early
 * windows' thresholds are large), and `bound` says the number reported is a
 * bound.
 *
 * @param cov - the sample covariance (row-major d x d)
 * @param d - the dimension
 * @param n - the number of warmup draws behind `cov`
 * @param options - the rule's settings
 * @param tighten - where a Cholesky factorisation certifies the diagonal choice, raise the certified bound on the
 *   smallest eigenvalue while it holds (up to 12 more factorisations) so that the number reported is within 25% of
 *   what the bound allows (default true); false reports the first bound that certified, with the same `kind`
 *   (the metric adaptation tightens only the decision it reports, the last window's)
 */
export function chooseMetric(cov: Float64Array, d: number, n: number, options: MetricChoiceOptions = {}, tighten = true): MetricDecision {
  const { maxDenseDim = 100, factor = 2 } = options;
  const threshold = factor * noiseCondition(d, n / 2);
  if (d < 2 || d > maxDenseDim || !Number.isFinite(threshold)) return { kind: 'diag', conditionNumber: NaN, threshold, draws: n };
  const corr = correlationOf(cov, d);
  const { lower, upper, largest } = correlationConditionBounds(corr, d);
  if (upper <= threshold) return { kind: 'diag', conditionNumber: upper, threshold, draws: n, bound: 'upper' };
  if (lower > threshold) return { kind: 'dense', conditionNumber: lower, threshold, draws: n, bound: 'lower' };
  // a certificate: the smallest eigenvalue above mu = largest / threshold (corr - mu I positive definite) puts the
  // condition number below the threshold; raising mu while it holds tightens the bound reported (to 25%, as far as
  // the bound on the largest eigenvalue allows)
  const work = new Float64Array(d * d);
  let mu = largest / threshold;
  if (definiteAbove(corr, d, mu, work)) {
    for (let k = 0; tighten && k < 12 && definiteAbove(corr, d, 1.25 * mu, work); k++) mu *= 1.25;
    return { kind: 'diag', conditionNumber: largest / mu, threshold, draws: n, bound: 'upper' };
  }
  const conditionNumber = conditionOfCorrelation(corr, d);
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
  // (a bound where it already decided: one from the entries' spread above a diag decision, a 2 x 2 submatrix's below a dense one)
  const bounded = made.some((x) => x.bound !== undefined) ? ' or a bound on it that decided' : '';
  return `${head} (auto: condition number of the warmup correlation${bounded} ${range(conds, fmt)} ${evidence})`;
}
