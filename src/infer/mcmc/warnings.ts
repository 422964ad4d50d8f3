/**
 * The warnings every MCMC posterior carries when its own diagnostics say
 * not to trust it, as Stan prints them: split R-hat above 1.01 (the chains
 * disagree), an effective sample size under 100 per chain (Monte Carlo error
 * too large to read means or intervals; Vehtari et al. 2021), the same for
 * the tail ESS (the 5% and 95% quantiles), divergent
 * transitions after warmup (HMC could not follow the geometry, so the draws
 * may miss part of the posterior), and draws that hit the maximum tree depth
 * (an efficiency warning). `infer` adds them to the posterior of `nuts`,
 * `hmc`, `hmc-gibbs`, `mh` and `neutra` and prints them with `console.warn`,
 * as VI prints its k-hat warning.
 *
 * They are computed on the raw draws (classic split R-hat and the basic ESS
 * of each quantity, about 0.5 ms per quantity for 4 x 1000 draws), not from
 * the summary's rank-normalised R-hat and bulk/tail ESS, which cost about ten
 * times more (sorting and ranking every quantity several times): a small
 * model's whole NUTS call is ~0.1 s. The summary's columns remain the fuller
 * check (heavy tails, the tails' mixing).
 *
 * @module
 */
import { MIN_DRAWS_FOR_ESS, essTail, splitRhatAndEss } from '../../diagnostics/ess.js';
import type { Posterior } from '../posterior.js';

/** R-hat above this says the chains have not mixed (Vehtari et al. 2021). */
export const RHAT_THRESHOLD = 1.01;
/** Bulk or tail ESS under this many per chain is too few to read the summary. */
export const ESS_PER_CHAIN = 100;

/** Warmup iterations below which NUTS and HMC warn that adaptation was cut short (Stan's windows: 75 + 25 + 50). */
export const SHORT_WARMUP = 150;

/** The methods whose posteriors get these warnings. */
export const MCMC_METHODS: ReadonlySet<string> = new Set(['nuts', 'hmc', 'hmc-gibbs', 'mh', 'neutra']);

function worst(rows: { name: string; value: number }[], fmt: (v: number) => string, descending: boolean): string {
  const sorted = [...rows].sort((a, b) => (descending ? b.value - a.value : a.value - b.value));
  const shown = sorted.slice(0, 3).map((r) => `${r.name} ${fmt(r.value)}`);
  return shown.join(', ') + (sorted.length > 3 ? `, ... (${sorted.length} in all)` : '');
}

/**
 * The warnings of an MCMC posterior from its draws (split R-hat, basic ESS)
 * and its diagnostics (divergences, tree-depth hits); empty when all is well
 * or the posterior has no per-chain draws.
 *
 * @param post - a posterior of an MCMC method
 */
export function mcmcWarnings(post: Posterior<never, unknown>): string[] {
  const byChain = post.chainColumns();
  if (!byChain || byChain.size === 0) return [];
  const chains = byChain.values().next().value?.length ?? 0;
  const highRhat: { name: string; value: number }[] = [];
  const lowEss: { name: string; value: number }[] = [];
  const lowTail: { name: string; value: number }[] = [];
  const minEss = ESS_PER_CHAIN * chains;
  for (const [name, draws] of byChain) {
    // one centring of the split chains serves both (the same means and variances)
    const { rhat, ess } = splitRhatAndEss(draws);
    if (rhat > RHAT_THRESHOLD) highRhat.push({ name, value: rhat });
    if (ess < minEss) lowEss.push({ name, value: ess });
    else {
      const tail = essTail(draws);
      if (tail < minEss) lowTail.push({ name, value: tail });
    }
  }
  const out: string[] = [];
  // split R-hat and ESS need MIN_DRAWS_FOR_ESS draws in each half of each chain; fewer give NaN, which no threshold
  // above catches, so a run of a few draws would carry no warning at all
  const perChain = byChain.values().next().value?.[0]?.length ?? 0;
  if (perChain < 2 * MIN_DRAWS_FOR_ESS) {
    out.push(
      `only ${perChain} draw${perChain === 1 ? '' : 's'} per chain: split R-hat and ESS need at least ${2 * MIN_DRAWS_FOR_ESS} (${MIN_DRAWS_FOR_ESS} in each half of each chain), ` +
        'so nothing here says whether the draws represent the posterior; run more draws',
    );
  }
  if (highRhat.length > 0) {
    out.push(
      `split R-hat above ${RHAT_THRESHOLD} (${worst(highRhat, (v) => v.toFixed(3), true)}): ${chains === 1 ? "the chain's two halves disagree, so it has" : `the ${chains} chains disagree, so they have`} not mixed and the summary is not the posterior's; ` +
        'run longer, look for several modes (different chains in different places), or reparameterise',
    );
  }
  if (lowEss.length > 0) {
    out.push(
      `ESS below ${minEss} (${ESS_PER_CHAIN} per chain; ${worst(lowEss, (v) => v.toFixed(0), false)}): ` +
        'too few effective draws to read means, sds or intervals (see mcse_mean, ess_bulk and ess_tail in the summary); run more draws',
    );
  }
  if (lowTail.length > 0) {
    out.push(
      `tail ESS below ${minEss} (${ESS_PER_CHAIN} per chain; ${worst(lowTail, (v) => v.toFixed(0), false)}): ` +
        'the chains visit the tails too rarely to read the 5% and 95% quantiles (intervals) though the means may be fine (see ess_tail in the summary); run more draws, or reparameterise a heavy tail',
    );
  }
  const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);
  // NUTS and HMC adapt the step size and the metric in warmup: Stan's windows (75 + 25 + 50) need 150 iterations, and
  // without them the divergences and the low ESS below come from a step size never fitted to the posterior
  const warmup = num(post.diagnostics.warmup);
  if (warmup < SHORT_WARMUP && 'stepSize' in post.diagnostics) {
    out.push(
      `only ${warmup} warmup iteration${warmup === 1 ? '' : 's'} per chain: the step size and the metric were ${warmup === 0 ? 'not adapted at all' : `adapted over only ${warmup}`} (Stan's adaptation windows need ${SHORT_WARMUP}), ` +
        'so divergences and low ESS may come from that rather than from the model; run warmup of at least 150 (the default is 1000)',
    );
  }
  // a continuous site whose every draw is one value: R-hat and ESS are NaN there, so the checks above say nothing
  const unmoved = post.diagnostics.unmoved;
  if (Array.isArray(unmoved) && unmoved.length > 0) {
    out.push(
      `every draw of ${unmoved.slice(0, 3).join(', ')}${unmoved.length > 3 ? ` (${unmoved.length} sites in all)` : ''} is the same value in every chain: the sampler never moved it, so its summary says nothing about the posterior ` +
        '(R-hat and ESS are undefined there); ' +
        (post.method === 'mh'
          ? "mh proposes each site from its prior unless given `proposals`: a posterior far narrower than the prior is almost never hit; use method 'nuts', or a random-walk proposal for that site"
          : 'a support far wider than the posterior (Uniform(-1e20, 1e20) around a posterior sd of 1) cannot be resolved in floating point: narrow the bounds, or use an unbounded prior'),
    );
  }
  // a mode that a discarded ascent start found and no chain visited (mode-check.ts): clean R-hat cannot show it
  const hiddenMode = post.diagnostics.hiddenMode;
  if (typeof hiddenMode === 'string') out.push(hiddenMode);
  const divergences = num(post.diagnostics.divergences);
  if (divergences > 0) {
    out.push(
      `${divergences} divergent transition${divergences === 1 ? '' : 's'} after warmup: the sampler could not follow the posterior's curvature there, so the draws may miss part of it; ` +
        'raise targetAccept (e.g. 0.95) or reparameterise (a non-centred form for hierarchical scales)',
    );
  }
  const depthHits = num(post.diagnostics.maxTreeDepthHits);
  if (depthHits > 0) {
    out.push(`${depthHits} draw${depthHits === 1 ? '' : 's'} hit the maximum tree depth: an efficiency warning (trajectories were cut short), not a sign of a wrong answer; raise maxTreeDepth or reparameterise`);
  }
  return out;
}
