/** Exact answers shared by the session-10 steering tests (fast and slow tiers). */
import * as D from '../../src/steer/diffusion/index.js';

/**
 * The exact log Z of a Feynman–Kac corrector annealing a one-Gaussian model q
 * to q^β: log ∫ q_end^β − log ∫ q_T^β (the run starts from q_T^β normalised),
 * with ∫ N(m, v)^β = (2πv)^((1−β)/2) β^(−1/2) per dimension, so
 * ((1 − β)/2) Σ_d log(v_end,d / v_T,d) for a diagonal covariance.
 */
export function gaussianAnnealLogZ(g: D.GaussianMixture, schedule: D.Schedule, beta: number): number {
  const end = g.marginal(schedule, schedule.tMin).covariances[0]!;
  const start = g.marginal(schedule, schedule.tMax).covariances[0]!;
  let s = 0;
  for (let d = 0; d < end.length; d++) s += Math.log(end[d]![d]! / start[d]![d]!);
  return ((1 - beta) / 2) * s;
}
