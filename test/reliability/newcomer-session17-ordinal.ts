/**
 * An ordinal (ordered logistic) regression for NEWUSER4's session-17 checks: 100 rows simulated here
 * (x ~ N(0, 1), y in 1..4 from eta = 1.5 x and cutpoints -1, 0.5, 2, fixed seed; scratch, not
 * shipped) and the posterior's moments from rstan 2.21.7 (`ordered[3] c; beta ~ normal(0, 5);
 * c ~ normal(0, 5); y ~ ordered_logistic(x * beta, c);`, 4 chains x 10000 draws after 2000 warmup,
 * seed 1, R-hat <= 1.0002).
 */

/** Covariate, one per row. */
export const ORDINAL_X: readonly number[] = [-0.311, -0.408, 0.39, 0.241, 0.414, -2.059, -1.08, -1.188, -0.794, -0.229, 0.902, 0.637, 0.861, -0.022, 1.24, 1.115, -0.302, -0.656, -0.309, -1.263, 1.149, -0.343, -0.749, 0.422, -1.653, -0.37, 0.094, 0.982, -1.211, 0.383, 0.652, -1.629, -0.889, 0.597, -0.827, -1.026, -1.989, 0.528, -1.205, 1.457, 1.471, -0.178, -1.715, 1.636, 0.005, -0.185, -1.561, -0.346, 0.711, -0.823, -0.593, -0.395, -0.804, -2.063, 0.217, 1.506, 0.813, 0.709, -0.712, -0.013, 0.693, 0.861, 1.452, 0.945, 0.265, 0.112, -0.942, -1.078, 1.769, -0.771, -0.6, 1.119, -0.631, 0.206, 0.807, -0.111, -1.129, -0.109, -0.563, 2.12, 0.058, -0.111, -0.419, -0.432, 1.176, 1.199, 0.955, 0.257, 1.498, -0.076, -0.933, -0.112, -0.443, 1.041, -0.747, -0.584, -1.737, -0.352, -1.176, 0.4];

/** Category 1..4, one per row. */
export const ORDINAL_Y: readonly number[] = [4, 2, 3, 2, 4, 1, 2, 1, 1, 2, 3, 3, 3, 2, 3, 3, 1, 2, 1, 1, 3, 1, 2, 3, 2, 2, 3, 3, 1, 4, 2, 1, 3, 3, 1, 1, 1, 3, 1, 4, 2, 2, 1, 4, 4, 2, 1, 1, 2, 2, 1, 4, 1, 1, 2, 4, 3, 3, 1, 1, 4, 2, 4, 4, 3, 1, 1, 2, 4, 1, 2, 3, 3, 2, 3, 2, 2, 1, 1, 4, 3, 2, 2, 1, 4, 4, 4, 2, 4, 1, 1, 1, 2, 2, 1, 2, 1, 1, 1, 4];

/** rstan's posterior mean, sd and effective sample size per parameter (Stan's names). */
export const ORDINAL_REFERENCE: readonly { name: string; mean: number; sd: number; ess: number }[] = [
  { name: 'beta', mean: 2.286045, sd: 0.321335, ess: 22352 },
  { name: 'c[1]', mean: -1.382341, sd: 0.292337, ess: 21859 },
  { name: 'c[2]', mean: 0.786662, sd: 0.282293, ess: 39540 },
  { name: 'c[3]', mean: 2.562800, sd: 0.379267, ess: 30185 },
];
