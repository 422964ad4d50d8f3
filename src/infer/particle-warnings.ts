/**
 * The warnings of weighted-particle posteriors (`importance`, `smc`) whose
 * weights rest on a few particles, as MCMC warns of an effective sample size
 * under 100 per chain (`mcmc/warnings.ts`). Without them a collapsed run is a
 * silent wrong answer: importance sampling from a prior far from the
 * posterior put all its weight on one of 20000 draws and reported that draw
 * as the posterior mean, with sd 0; SMC resampled such a step into 4000 copies
 * of one particle and reported an `ess` of 4000.
 *
 * Importance: the Kish effective sample size of the final weights. SMC: the
 * smallest ESS over its steps (`diagnostics.essHistory`, the ESS after each
 * step's reweighting, before resampling), since resampling makes the final
 * weights equal whatever the particles' ancestry.
 *
 * @module
 */
import type { Posterior } from './posterior.js';

/** An effective sample size under this many particles is too few to read means, sds or log Z. */
export const PARTICLE_ESS_THRESHOLD = 100;

/** The methods whose posteriors get these warnings. */
export const PARTICLE_METHODS: ReadonlySet<string> = new Set(['importance', 'smc']);

const ADVICE = 'use more particles, a guide or guided proposal, `tempered` (static models) or MCMC';

/**
 * The warnings of an importance or SMC posterior from its weights (importance)
 * or its ESS history (SMC): empty when every ESS is at least
 * {@link PARTICLE_ESS_THRESHOLD}.
 */
export function particleWarnings(post: Pick<Posterior<never, unknown>, 'method' | 'ess' | 'size' | 'diagnostics'>): string[] {
  const fmt = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));
  if (post.method === 'importance') {
    const ess = post.ess;
    if (!(ess < PARTICLE_ESS_THRESHOLD)) return [];
    return [`ESS ${fmt(ess)} of ${post.size} draws is below ${PARTICLE_ESS_THRESHOLD}: the weights rest on a few draws, so the means, sds and log Z (and their apparent precision) are not to be trusted; ${ADVICE}`];
  }
  if (post.method === 'smc') {
    const history = post.diagnostics.essHistory as readonly number[] | undefined;
    if (!history || history.length === 0) return [];
    let at = 0;
    for (let t = 1; t < history.length; t++) if (history[t] < history[at]) at = t;
    if (!(history[at] < PARTICLE_ESS_THRESHOLD)) return [];
    return [
      `the ESS fell to ${fmt(history[at])} of ${post.size} particles at step ${at} (below ${PARTICLE_ESS_THRESHOLD}; see diagnostics.essHistory): the particles after it descend from a few, so the means, sds and log Z are not to be trusted (the final ess counts copies as draws); ${ADVICE}`,
    ];
  }
  return [];
}
