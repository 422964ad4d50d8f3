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
 * weights equal whatever the particles' ancestry; and, per continuous scalar
 * site, the ESS of its distinct final values ({@link distinctValueEss}):
 * a value drawn early and resampled at every later step (a static parameter,
 * path degeneracy) ends as copies of a few ancestors though no single step's
 * ESS was small (a switchpoint model over 24 counts at 2000 particles: about
 * 140 distinct rates, an ESS of 2000 reported, a spread across seeds of an
 * ESS near 20).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Draw, Posterior } from './posterior.js';

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
export function particleWarnings(post: Pick<Posterior<never, unknown>, 'method' | 'ess' | 'size' | 'diagnostics' | 'draws' | 'weights'>): string[] {
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
    if (history[at] < PARTICLE_ESS_THRESHOLD) {
      return [
        `the ESS fell to ${fmt(history[at])} of ${post.size} particles at step ${at} (below ${PARTICLE_ESS_THRESHOLD}; see diagnostics.essHistory): the particles after it descend from a few, so the means, sds and log Z are not to be trusted (the final ess counts copies as draws); ${ADVICE}`,
      ];
    }
    const few = [...distinctValueEss(post.draws, post.weights)].filter(([, e]) => e < PARTICLE_ESS_THRESHOLD).sort((a, b) => a[1] - b[1]);
    if (few.length === 0) return [];
    const shown = few.slice(0, 3).map(([a, e]) => `${a} ${fmt(e)}`).join(', ') + (few.length > 3 ? `, ... (${few.length} in all)` : '');
    return [
      `ESS over distinct values below ${PARTICLE_ESS_THRESHOLD} of ${post.size} particles (${shown}): most particles carry copies of a few values, drawn early and resampled at every later step (path degeneracy), so these sites' means and sds are not to be trusted (the final ess counts copies as draws); add rejuvenate moves, use more particles, or MCMC`,
    ];
  }
  return [];
}

/**
 * Per continuous scalar latent site, the effective number of its distinct
 * values among weighted particles: 1 / sum over distinct values v of
 * (the total weight of the particles at v)^2, the Kish ESS with copies
 * merged. A site whose values are all integers (a discrete site: equal
 * values there are no sign of copying), one value throughout, or not
 * scalars is left out. (Deterministic sites are among the values: one
 * derived from a discrete site alone can count as copied.)
 */
export function distinctValueEss<R>(draws: readonly Draw<R>[], weights: ArrayLike<number>): Map<string, number> {
  const mass = new Map<string, Map<number, number>>();
  const integral = new Map<string, boolean>();
  draws.forEach((d, i) => {
    for (const [address, v] of Object.entries(d.values)) {
      const x = typeof v === 'number' ? v : (v as tf.Tensor).size === 1 ? (v as tf.Tensor).dataSync()[0]! : undefined;
      if (x === undefined) continue;
      let m = mass.get(address);
      if (!m) mass.set(address, (m = new Map()));
      m.set(x, (m.get(x) ?? 0) + weights[i]!);
      if (!Number.isInteger(x)) integral.set(address, false);
    }
  });
  const out = new Map<string, number>();
  for (const [address, m] of mass) {
    // (one value in every particle: a constant deterministic site, or a collapse the step ESS shows)
    if (integral.get(address) !== false || m.size === 1) continue;
    let total = 0;
    let s2 = 0;
    for (const w of m.values()) {
      total += w;
      s2 += w * w;
    }
    out.set(address, s2 === 0 ? 0 : (total * total) / s2);
  }
  return out;
}
