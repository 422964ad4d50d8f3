/**
 * MCMC diagnostics on plain arrays (no tensors): R-hat, effective sample
 * sizes, Monte Carlo standard errors, autocorrelation, E-BFMI and a summary
 * table, following Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021),
 * "Rank-normalization, folding, and localization: An improved R-hat for
 * assessing convergence of MCMC", Bayesian Analysis 16(2), as in Stan,
 * posterior and ArviZ.
 *
 * Every function takes the draws of one scalar quantity as chains x draws
 * (`number[][]` or `Float64Array[]`).
 *
 * ```ts
 * const rows = summarize(new Map([['mu', muDraws], ['tau', tauDraws]]));
 * if (rows.some((r) => r.r_hat > 1.01 || r.ess_bulk < 400)) console.warn('not converged');
 * ```
 *
 * @module
 */
export { type ChainDraws, splitChains, rankNormalize } from './draws.js';
export { splitRhat, rhatBulk, rhatTail, rankNormalizedSplitRhat } from './rhat.js';
export { essBasic, essBulk, essTail, essQuantile, splitRhatAndEss, MIN_DRAWS_FOR_ESS, type EssOptions } from './ess.js';
export { mcseMean, mcseSd, mcseQuantile } from './mcse.js';
export { autocovariance, autocorrelation } from './autocorrelation.js';
export { ebfmi, EBFMI_WARNING_THRESHOLD } from './energy.js';
export { quantile, quantiles, quantileSorted, ecdf, type Ecdf, averageRanks, meanAndSe } from './empirical.js';
export { normalQuantile, betaQuantile, regularizedIncompleteBeta } from './inverse-cdf.js';
export { summarize, summarizeOne, type DiagnosticsRow } from './summary.js';
export { steinRatios, steinFailures, STEIN_RATIO_TOLERANCE, STEIN_RATIO_SES, type SteinRatio } from './stein.js';
export { psis, gpdFit, gpdQuantile, psisTailLength, PSIS_KHAT_THRESHOLD, PSIS_MIN_TAIL, type PsisResult, type PsisOptions, type GpdFit } from './psis.js';
