/**
 * Does the fitted guide sit where the posterior is? Pareto k-hat judges the
 * tails of p/q, not its location: a Gaussian guide shifted from a Gaussian
 * posterior gives light-tailed ratios (k-hat near 0) however far it is
 * shifted, and a fit stopped early can be both shifted and quiet in its loss
 * (a conjugate normal at 500 steps: 0.72 posterior sds off, k-hat 0.01). The
 * check here reweights the guide's own draws by their Pareto-smoothed ratios
 * p/q and compares each scalar's weighted mean with the guide's mean, in units
 * of the weighted mean's Monte Carlo error and of the posterior sd. Where
 * k-hat is above 0.7 the weights are not trusted and k-hat's own warning
 * speaks instead.
 *
 * @module
 */
import { PSIS_KHAT_THRESHOLD, psis } from '../../diagnostics/psis.js';
import { isTensor, type Value } from '../../core/value.js';
import { Pacer } from '../pace.js';
import type { SubsampledPlate } from '../subsample.js';

/** The largest shift found between the guide's mean and the reweighted mean. */
export interface LocationShift {
  /** Site, with `[i]` for an element of a vector site. */
  readonly site: string;
  /** Mean of the guide's draws. */
  readonly guideMean: number;
  /** Mean of the same draws weighted by their smoothed p/q. */
  readonly weightedMean: number;
  /** Weighted (posterior) sd. */
  readonly sd: number;
  /** Monte Carlo standard error of the weighted mean. */
  readonly mcse: number;
}

/** A guide wider than the posterior: the largest ratio of the guide's sd to the reweighted sd. */
export interface ScaleExcess {
  /** Site, with `[i]` for an element of a vector site. */
  readonly site: string;
  /** Sd of the guide's draws. */
  readonly guideSd: number;
  /** Sd of the same draws weighted by their smoothed p/q. */
  readonly weightedSd: number;
}

/** Shifts below both bounds are not reported: MCSE units and posterior sds. */
const Z = 4;
const MIN_SDS = 0.25;
/**
 * Draws of an element that span no more than this fraction of its size
 * (four float32 roundings) are constant: such an element is skipped by both
 * checks.
 */
const SPREAD_RTOL = 4 * 2 ** -23;
/** A guide sd above this many reweighted sds is reported by the scale check. */
const WIDE = 1.5;

/** Options of {@link guideLocationShift}. */
export interface LocationCheckOptions {
  /** Sites of more elements are skipped (default 64). */
  readonly maxElements?: number;
  /** Stops the check (it reads every draw: millions for a large `samples`): the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Also compare each element's guide sd with its reweighted sd ({@link guideChecks}' `wide`). */
  readonly scale?: boolean;
}

/**
 * The worst location shift of the guide (see {@link guideLocationShift}) and,
 * with `scale`, the element whose guide sd exceeds its reweighted sd by the
 * largest factor above 1.5 (a guide too wide: a fit stopped before its scale
 * settled, which k-hat cannot see, since a wide guide's ratios have light
 * tails).
 */
export async function guideChecks(draws: readonly { readonly values: Readonly<Record<string, Value>> }[], logRatios: ArrayLike<number>, options: LocationCheckOptions = {}): Promise<{ shift?: LocationShift; wide?: ScaleExcess }> {
  let worstWide = WIDE;
  let wide: ScaleExcess | undefined;
  const shift = await locationPass(draws, logRatios, options, (site, guideSd, weightedSd) => {
    if (options.scale && weightedSd > 0 && guideSd / weightedSd > worstWide) {
      worstWide = guideSd / weightedSd;
      wide = { site, guideSd, weightedSd };
    }
  });
  return { ...(shift ? { shift } : {}), ...(wide ? { wide } : {}) };
}

/**
 * The worst location shift of the guide over the sites' elements (sites of
 * at most `maxElements` elements), or undefined where none exceeds both
 * `Z` MCSE and `MIN_SDS` posterior sds, where k-hat is above 0.7 or NaN, or
 * where there are fewer than 100 draws. Elements whose draws are constant
 * (up to float32 rounding) are skipped: a quantity with no spread cannot be
 * off by any number of posterior sds. Yields to the event loop every few
 * milliseconds, so a timer's abort lands during it.
 */
export async function guideLocationShift(draws: readonly { readonly values: Readonly<Record<string, Value>> }[], logRatios: ArrayLike<number>, options: LocationCheckOptions = {}): Promise<LocationShift | undefined> {
  return locationPass(draws, logRatios, options, () => undefined);
}

/** The pass over the draws behind both checks: returns the worst shift and shows `spread` each element's guide and reweighted sds. */
async function locationPass(
  draws: readonly { readonly values: Readonly<Record<string, Value>> }[],
  logRatios: ArrayLike<number>,
  options: LocationCheckOptions,
  spread: (site: string, guideSd: number, weightedSd: number) => void,
): Promise<LocationShift | undefined> {
  const maxElements = options.maxElements ?? 64;
  const pace = new Pacer(options.signal);
  const n = draws.length;
  if (n < 100 || logRatios.length !== n) return undefined;
  const smoothed = psis(logRatios);
  if (!(smoothed.khat <= PSIS_KHAT_THRESHOLD)) return undefined;
  const lw = smoothed.logWeights;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, lw[i]!);
  const w = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += w[i] = Math.exp(lw[i]! - max);
  for (let i = 0; i < n; i++) w[i]! /= total;
  let worst: LocationShift | undefined;
  let worstSds = 0;
  for (const [site, first] of Object.entries(draws[0]!.values)) {
    const size = typeof first === 'number' ? 1 : isTensor(first) ? first.size : 0;
    if (size === 0 || size > maxElements) continue;
    const cols = Array.from({ length: size }, () => new Float64Array(n));
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      if (pace.due()) await pace.pause();
      const v = draws[i]!.values[site];
      if (typeof v === 'number') cols[0]![i] = v;
      else if (isTensor(v) && v.size === size) {
        const d = v.dataSync();
        for (let j = 0; j < size; j++) cols[j]![i] = d[j]!;
      } else ok = false;
    }
    if (!ok) continue;
    if (pace.due()) await pace.pause();
    cols.forEach((x, j) => {
      let mq = 0;
      let mp = 0;
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) {
        mq += x[i]! / n;
        mp += w[i]! * x[i]!;
        if (x[i]! < lo) lo = x[i]!;
        if (x[i]! > hi) hi = x[i]!;
      }
      // a quantity with no spread (p[0] = 1 of a one-category Dirichlet, a constant derived value) has no
      // location to be off: its means differ only by float rounding, which is many of its zero sds
      if (!(hi - lo > SPREAD_RTOL * Math.max(Math.abs(lo), Math.abs(hi)))) return;
      let varP = 0;
      let se2 = 0;
      for (let i = 0; i < n; i++) {
        const d = x[i]! - mp;
        varP += w[i]! * d * d;
        se2 += w[i]! * w[i]! * d * d;
      }
      const sd = Math.sqrt(varP);
      const mcse = Math.sqrt(se2);
      const name = size === 1 && typeof first === 'number' ? site : `${site}[${j}]`;
      let varQ = 0;
      for (let i = 0; i < n; i++) varQ += (x[i]! - mq) ** 2 / n;
      spread(name, Math.sqrt(varQ), sd);
      const shift = Math.abs(mp - mq);
      if (!(sd > 0) || shift <= Z * mcse || shift <= MIN_SDS * sd) return;
      if (shift / sd > worstSds) {
        worstSds = shift / sd;
        worst = { site: name, guideMean: mq, weightedMean: mp, sd, mcse };
      }
    });
  }
  return worst;
}

/** The warning for a shifted guide (also printed with `console.warn`). */
export function locationWarning(s: LocationShift, guide: string, subsampled?: SubsampledPlate): string {
  const noisy = subsampled
    ? `; the fit followed the noisy gradients of plate "${subsampled.plate}"'s subsample (${subsampled.subsample} of ${subsampled.size}), which need more steps, a larger subsample or a decaying learning rate to settle, while this check scores the draws on the full data`
    : '';
  const warning =
    `vi: the ${guide}'s mean of "${s.site}" is ${s.guideMean.toPrecision(4)}, but its draws reweighted by p/q (PSIS) put it at ${s.weightedMean.toPrecision(4)} ` +
    `(${(Math.abs(s.weightedMean - s.guideMean) / s.sd).toFixed(2)} posterior sds, ${(Math.abs(s.weightedMean - s.guideMean) / s.mcse).toFixed(1)} MCSE): the guide is not centred on the posterior, whatever k-hat says (a fit stopped early, or a guide family that cannot take the posterior's shape${noisy}); ` +
    "run more steps, try a richer guide ('mvn', 'flow'), or use importanceWeights: 'psis' to report the reweighted draws";
  console.warn(warning);
  return warning;
}

/**
 * The warning for a guide wider than the posterior (also printed with
 * `console.warn`): after a subsampled fit, whose gradient noise slows the
 * scale's descent, or a fit on many observations whose guide scale had far
 * to fall from its initial value at the default learning rate.
 */
export function wideWarning(w: ScaleExcess, guide: string, subsampled?: SubsampledPlate): string {
  const why = subsampled
    ? `the fit followed the noisy gradients of plate "${subsampled.plate}"'s subsample (${subsampled.subsample} of ${subsampled.size}), whose noise slows the scale's descent and which the loss trend cannot see through; ` +
      "run more steps, use a larger subsample or a decaying learning rate, or importanceWeights: 'psis' to report the reweighted draws"
    : "the fit stopped before the guide's scale came down to the posterior's (many observations make a narrow posterior, far below the initial scale, that the scale approaches slowly at the default learning rate, while the loss looks settled); " +
      "run more steps, a larger learning rate, a smaller initScale in the guide's options, or importanceWeights: 'psis' to report the reweighted draws";
  const warning =
    `vi: the ${guide}'s sd of "${w.site}" is ${w.guideSd.toPrecision(3)}, but its draws reweighted by p/q (PSIS) put it at ${w.weightedSd.toPrecision(3)} (${(w.guideSd / w.weightedSd).toFixed(2)}x): ` +
    `the guide is wider than the posterior, so its sds and intervals are too wide; ${why}`;
  console.warn(warning);
  return warning;
}
