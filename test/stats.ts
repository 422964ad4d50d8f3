/**
 * The summary statistics the statistical tests use on a sample of
 * independent figures (one per seed, run or draw): mean, sample variance
 * and standard deviation (n - 1), the standard error of the mean and a
 * z-score against an exact value. One copy, used by the tests that each
 * had their own (TIDY, session 14); the arithmetic is theirs, in the same
 * order, so each test's figures are unchanged.
 *
 * @module
 */

/** The mean of `xs` (NaN for none). */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** The sample variance of `xs` about `m` (their mean unless given), divided by n - 1. */
export function variance(xs: readonly number[], m: number = mean(xs)): number {
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
}

/** The sample standard deviation of `xs` (n - 1). */
export function sd(xs: readonly number[]): number {
  return Math.sqrt(variance(xs));
}

/**
 * The mean of independent figures and its standard error, the sample
 * standard deviation over sqrt(n): what a Monte Carlo tolerance is made
 * from (e.g. |mean - exact| < 4 se).
 */
export function meanSE(xs: readonly number[]): { mean: number; se: number } {
  const m = mean(xs);
  return { mean: m, se: Math.sqrt(variance(xs, m) / xs.length) };
}

/** The mean, sample standard deviation (n - 1) and standard error of the mean of `xs` (see {@link meanSE}). */
export function meanSd(xs: readonly number[]): { mean: number; sd: number; se: number } {
  const m = mean(xs);
  const v = variance(xs, m);
  return { mean: m, sd: Math.sqrt(v), se: Math.sqrt(v / xs.length) };
}

/** (mean - exact) / se of a sample of independent unbiased estimates of `exact` (see {@link meanSE}). */
export function zOf(xs: readonly number[], exact: number): number {
  const { mean: m, se } = meanSE(xs);
  return (m - exact) / se;
}
