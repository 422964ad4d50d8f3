/**
 * The warnings of weighted-particle posteriors (`importance`, `smc`) whose
 * weights rest on a few particles, as MCMC warns of an effective sample size
 * under 100 per chain (`mcmc/warnings.ts`). Without them a collapsed run is a
 * silent wrong answer: importance sampling from a prior far from the
 * posterior put all its weight on one of 20000 draws and reported that draw
 * as the posterior mean, with sd 0; SMC resampled such a step into 4000 copies
 * of one particle and reported an `ess` of 4000.
 *
 * Importance: the Kish effective sample size of the final weights and, with
 * a guide, whether the weights grow in the guide's tails
 * (`diagnostics/guide-tail.ts`: a Normal guide for a StudentT(3) site gave
 * sd 1.18-1.31 against 1.73 at ESS 4000-7600 of 10000, no warning). SMC: the
 * smallest ESS over its steps (`diagnostics.essHistory`, the ESS after each
 * step's reweighting, before resampling), since resampling makes the final
 * weights equal whatever the particles' ancestry; and, per continuous scalar
 * site, the ESS of its distinct final values ({@link distinctValueEss}):
 * a value drawn early and resampled at every later step (a static parameter,
 * path degeneracy) ends as copies of a few ancestors though no single step's
 * ESS was small (a switchpoint model over 24 counts at 2000 particles: about
 * 140 distinct rates, an ESS of 2000 reported, a spread across seeds of an
 * ESS near 20). Per discrete scalar site, where equal values are no sign of
 * copying, the number of ancestral lineages its values rest on
 * ({@link discreteLineageEss}, from the genealogy program SMC keeps beside
 * its diagnostics): a two-state hidden Markov chain over 12 observations at
 * 1000 particles read 26-40 for its first state, an ESS of 1000 reported.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Draw, Posterior } from './posterior.js';
import { GUIDE_TAIL_SLOPE_THRESHOLD, guideTailSlope } from '../diagnostics/guide-tail.js';
import { type FinalAncestry, ancestryOf, lineageEss } from './smc/genealogy.js';

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
    if (ess < PARTICLE_ESS_THRESHOLD) {
      return [`ESS ${fmt(ess)} of ${post.size} draws is below ${PARTICLE_ESS_THRESHOLD}: the weights rest on a few draws, so the means, sds and log Z (and their apparent precision) are not to be trusted; ${ADVICE}`];
    }
    const logQ = post.diagnostics.guideLogDensity as ArrayLike<number> | undefined;
    if (!logQ || logQ.length !== post.draws.length) return [];
    const { slope, tail } = guideTailSlope(post.draws.map((d) => d.logWeight), logQ);
    if (!(slope >= GUIDE_TAIL_SLOPE_THRESHOLD)) return [];
    return [
      `the weights grow in the guide's tails (log w rises with -log q at slope ${slope.toFixed(2)} over the ${tail} draws of least guide density; ${GUIDE_TAIL_SLOPE_THRESHOLD} or more means infinite variance): the guide is lighter-tailed than the posterior (or misplaced), so it rarely reaches where much of the posterior lies, and the sds, tail probabilities and log Z come out too small with an MCSE that does not show it; use a heavier-tailed guide (e.g. StudentT in place of Normal), a wider one, or MCMC`,
    ];
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
    const columns = scalarColumns(post.draws);
    const out: string[] = [];
    const few = [...distinctValueEssOf(columns, post.weights, PARTICLE_ESS_THRESHOLD)].sort((a, b) => a[1] - b[1]);
    if (few.length > 0) {
      const shown = few.slice(0, 3).map(([a, e]) => `${a} ${fmt(e)}`).join(', ') + (few.length > 3 ? `, ... (${few.length} in all)` : '');
      out.push(
        `ESS over distinct values below ${PARTICLE_ESS_THRESHOLD} of ${post.size} particles (${shown}): most particles carry copies of a few values, drawn early and resampled at every later step (path degeneracy), so these sites' means and sds are not to be trusted (the final ess counts copies as draws); add rejuvenate moves, use more particles, or MCMC`,
      );
    }
    const ancestry = ancestryOf(post.diagnostics);
    const thin = ancestry ? [...discreteLineageEssOf(columns, post.weights, ancestry, PARTICLE_ESS_THRESHOLD)].sort((a, b) => a[1].ess - b[1].ess) : [];
    if (thin.length > 0) {
      const shown = thin.slice(0, 3).map(([a, r]) => `${a} ${fmt(r.ess)} from step ${r.step}`).join(', ') + (thin.length > 3 ? `, ... (${thin.length} in all)` : '');
      out.push(
        `discrete sites resting on fewer than ${PARTICLE_ESS_THRESHOLD} ancestral lineages of ${post.size} particles (${shown}: the ESS of the final weights pooled by each particle's ancestor at the step that fixed the value): the particles' values there are copies of a few early draws (path degeneracy), so these sites' probabilities and means are not to be trusted (the final ess counts copies as draws); for a discrete model use \`enumerate\` (exact), or use more particles or rejuvenate moves`,
      );
    }
    return out;
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
 *
 * With `below`, only the sites whose ESS is under it are returned: a site is
 * ruled out without merging its weights when the lower bound
 * (sum w)^2 / (max w^2 * sum over values of count^2), read from a native sort
 * of its values, is already at least `below` (a weight at v is at most its
 * count times the largest weight). At 10000 particles and 100 sites this is
 * ~0.1 s less than merging every site's weights in a map.
 */
export function distinctValueEss<R>(draws: readonly Draw<R>[], weights: ArrayLike<number>, below = Infinity): Map<string, number> {
  return distinctValueEssOf(scalarColumns(draws), weights, below);
}

/** Each scalar site's values, in the order of the draws that have it (`at`), and whether all are integers. */
type Columns = Map<string, { x: number[]; at: number[]; integral: boolean }>;

function scalarColumns<R>(draws: readonly Draw<R>[]): Columns {
  const n = draws.length;
  const values: Columns = new Map();
  for (let i = 0; i < n; i++) {
    const vs = draws[i]!.values as Record<string, unknown>;
    for (const address in vs) {
      const v = vs[address];
      const x = typeof v === 'number' ? v : (v as tf.Tensor).size === 1 ? (v as tf.Tensor).dataSync()[0]! : undefined;
      if (x === undefined) continue;
      let col = values.get(address);
      if (!col) values.set(address, (col = { x: [], at: [], integral: true }));
      col.x.push(x);
      col.at.push(i);
      if (col.integral && !Number.isInteger(x)) col.integral = false;
    }
  }
  return values;
}

function distinctValueEssOf(values: Columns, weights: ArrayLike<number>, below: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [address, { x, at, integral }] of values) {
    if (integral) continue;
    let total = 0;
    let wMax = 0;
    for (const i of at) {
      const w = weights[i]!;
      total += w;
      if (w > wMax) wMax = w;
    }
    const sorted = Float64Array.from(x).sort();
    if (sorted[0] === sorted[sorted.length - 1]) continue; // one value in every particle: a constant deterministic site, or a collapse the step ESS shows
    if (below !== Infinity && wMax > 0) {
      let counts2 = 0;
      for (let j = 0, run = 1; j < sorted.length; j++, run++) {
        if (j + 1 === sorted.length || sorted[j + 1] !== sorted[j]) {
          counts2 += run * run;
          run = 0;
        }
      }
      if ((total * total) / (wMax * wMax * counts2) >= below) continue;
    }
    const mass = new Map<number, number>();
    for (let j = 0; j < x.length; j++) mass.set(x[j]!, (mass.get(x[j]!) ?? 0) + weights[at[j]!]!);
    let s2 = 0;
    for (const w of mass.values()) s2 += w * w;
    const ess = s2 === 0 ? 0 : (total * total) / s2;
    if (ess < below) out.set(address, ess);
  }
  return out;
}

/**
 * Per discrete scalar latent site (all its values integers, not one value
 * throughout), the effective number of ancestral lineages its final values
 * rest on (`lineageEss` in `smc/genealogy.ts`: the ESS of the final weights
 * pooled by each particle's ancestor at the earliest step whose ancestors
 * determine the values) and that step, for the sites under `below`. Equal
 * values are no sign of copying at a discrete site, so the distinct-value
 * ESS leaves them out; the genealogy shows the copying whatever the values
 * (a two-state hidden Markov chain over 12 observations at 1000 particles:
 * P(z1 = 1) spread across seeds as from a few dozen draws, with a final ess
 * of 1000).
 */
export function discreteLineageEss<R>(draws: readonly Draw<R>[], weights: ArrayLike<number>, ancestry: FinalAncestry, below = Infinity): Map<string, { ess: number; step: number }> {
  return discreteLineageEssOf(scalarColumns(draws), weights, ancestry, below);
}

function discreteLineageEssOf(values: Columns, weights: ArrayLike<number>, ancestry: FinalAncestry, below: number): Map<string, { ess: number; step: number }> {
  const out = new Map<string, { ess: number; step: number }>();
  for (const [address, { x, at, integral }] of values) {
    if (!integral) continue;
    let varies = false;
    for (let j = 1; j < x.length && !varies; j++) varies = x[j] !== x[0];
    if (!varies) continue; // one value in every particle: nothing to estimate
    const r = lineageEss(ancestry, x, at, weights);
    if (r.ess < below) out.set(address, r);
  }
  return out;
}
