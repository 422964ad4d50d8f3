/**
 * NEWUSER5, session 18: right-censored Weibull survival data for the newcomer
 * checks. 60 rows simulated here (x ~ N(0, 1), T ~ Weibull(shape 1.5, scale
 * exp(1 + 0.5 x)), censored at C ~ U(0.5, 6); fixed seed, scratch, not
 * shipped; 34 events) and the posterior's moments from rstan 2.21.7 (`b0, b1 ~
 * normal(0, 5); k ~ lognormal(0, 1); t[i] ~ weibull(k, exp(b0 + b1 x[i]))` for
 * events, `target += weibull_lccdf(t[i] | k, exp(b0 + b1 x[i]))` for censored
 * rows; 4 chains x 10000 draws after 2000 warmup, seed 1, R-hat <= 1.00001).
 */

/** Covariate, one per row. */
export const WEIBULL_X: readonly number[] = [-0.071, -0.668, 0.036, 0.472, -0.415, 0.176, 1.127, 0.607, 0.864, -1.492, -0.298, 0.873, -0.085, -0.277, 1.008, 0.083, 1.139, 0.025, 0.577, 0.534, 0.129, 0.5, -0.291, 0.125, -0.977, -0.114, -0.294, -0.328, -0.742, 0.143, -0.475, 1.395, -1.026, 0.975, -0.546, -0.785, 2.018, -1.615, -1.983, 0.896, -0.469, 0.095, 0.989, 0.55, 0.039, 1.034, 0.343, -0.471, -0.256, -1.231, -1.255, 0.772, 2.167, 0.75, -0.219, 0.035, 1.237, -2.084, 0.222, -0.338];

/** Observed time: the event time where `WEIBULL_EVENT` is 1, the censoring time where it is 0. */
export const WEIBULL_T: readonly number[] = [2.118, 3.687, 2.338, 1.869, 0.896, 1.144, 1.631, 0.86, 1.666, 0.458, 0.379, 2.761, 3.156, 4.192, 0.57, 2.547, 4.834, 0.504, 1.421, 4.566, 0.362, 0.568, 1.318, 0.261, 1.878, 0.654, 1.921, 0.235, 0.68, 1.632, 3.741, 3.185, 1.044, 1.473, 0.305, 0.468, 4.998, 1.489, 0.534, 3.214, 2.836, 2.448, 2.191, 1.303, 1.422, 2.024, 0.457, 1.307, 0.901, 3.857, 0.694, 1.212, 0.909, 5.276, 0.908, 1.213, 0.613, 0.368, 1.643, 3.946];

/** 1 for an observed event, 0 for a right-censored row. */
export const WEIBULL_EVENT: readonly number[] = [1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1];

/** rstan's posterior mean, sd and effective sample size per parameter. */
export const WEIBULL_REFERENCE: readonly { name: string; mean: number; sd: number; ess: number }[] = [
  { name: 'b0', mean: 1.074620, sd: 0.123144, ess: 27343 },
  { name: 'b1', mean: 0.380622, sd: 0.149192, ess: 30644 },
  { name: 'k', mean: 1.472977, sd: 0.196191, ess: 27488 },
];
