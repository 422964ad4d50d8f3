/**
 * posteriordb's M0_data (BSD-3, https://github.com/stan-dev/posteriordb):
 * a capture-recapture data set of M = 237 rows (87 animals seen, 150
 * augmented rows never seen) over T = 3 occasions, kept here as the number of
 * captures per row (the M0 model reads only those), and the exact posterior
 * moments of the M0 model (uniform priors on omega and p, the inclusion
 * marginalised) by quadrature on a 4000 x 4000 midpoint grid (the same to
 * every printed digit on 2000 x 2000).
 */

/** Occasions. */
export const M0_T = 3;

/** Captures per row: 150 rows of 0, 37 of 1, 38 of 2, 12 of 3 (the data's rows in this order). */
export function m0Counts(): number[] {
  return [...new Array(150).fill(0), ...new Array(37).fill(1), ...new Array(38).fill(2), ...new Array(12).fill(3)];
}

/**
 * Exact posterior moments; N = C + Binomial(M - C, omega_nd), the population
 * size (Stan's generated quantity), and log Z with Stan's binomial
 * coefficients (uniform priors).
 */
export const M0_EXACT = {
  omega: { mean: 0.4234611, sd: 0.0386878 },
  p: { mean: 0.4969726, sd: 0.0381610 },
  N: { mean: 100.20721, sd: 5.24436 },
  logZ: -247.45520,
} as const;
