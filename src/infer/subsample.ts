/**
 * What each engine does with a subsampled plate (`plate(name, size, fn,
 * { subsample })`), in one place.
 *
 * A subsample scales a random part of the data's log likelihood by
 * size / subsample: an unbiased estimate of the log likelihood, whose
 * gradient is an unbiased stochastic gradient. That suits the engines that
 * follow gradients by stochastic approximation (`vi`, `svgd`). The others
 * need the log density itself: MCMC acceptance ratios and importance weights
 * use exp(log likelihood), and the exponential of an unbiased log-likelihood
 * estimate is a biased likelihood estimate, so a pseudo-marginal argument
 * does not apply; they refuse a subsample with {@link subsampleRefusal}'s
 * one wording, naming the plate. The checks and draws after a VI or SVGD
 * fit use the full data ({@link fullData}).
 *
 * @module
 */
import { TycheError } from '../core/errors.js';
import { type Model, type SubsamplingHook, subsampleIndices } from '../core/model.js';
import type { Rng } from '../core/rng.js';

/** The engines that fit with a subsampled plate. */
export const SUBSAMPLING_METHODS = ['vi', 'svgd'] as const;

/**
 * The error every engine that cannot use a subsample throws, naming the
 * plate, its sizes and what to do instead.
 */
export function subsampleRefusal(method: string, plate: string, size: number, subsample: number): TycheError {
  return new TycheError(
    `${method}: plate "${plate}" takes a subsample (${subsample} of ${size}), so the log density is a subsample's (a random one changes at every evaluation) and ${method} cannot target the posterior; ` +
      `run ${method} on the full plate (no subsample option), or use method ${SUBSAMPLING_METHODS.map((m) => `'${m}'`).join(' or ')}, which are made for subsampling`,
  );
}

/** The model with every subsampled plate refused by {@link subsampleRefusal} when it opens. */
export function refuseSubsampling<A extends unknown[], R>(m: Model<A, R>, method: string): Model<A, R> {
  const hook: SubsamplingHook = (plate, size, subsample) => {
    throw subsampleRefusal(method, plate, size, Array.isArray(subsample) ? subsample.length : subsample);
  };
  return m.withSubsampling(hook);
}

/**
 * The model as `infer` gives it to `method`'s engine: unchanged for the
 * engines in {@link SUBSAMPLING_METHODS}, with subsampled plates refused for
 * every other (user engines included).
 */
export function modelForEngine<A extends unknown[], R>(m: Model<A, R>, method: string): Model<A, R> {
  return (SUBSAMPLING_METHODS as readonly string[]).includes(method) ? m : refuseSubsampling(m, method);
}

/** The model with every plate at its full size (no subsample, scale 1): the full-data log density. */
export function fullData<A extends unknown[], R>(m: Model<A, R>): Model<A, R> {
  return m.withSubsampling(() => undefined);
}

/**
 * The model with its random subsamples drawn from `rng` (one stream across
 * all its runs) instead of each run's own stream: an engine whose runs all
 * start the model's stream alike (the potential of `mcmc/potential.ts`) gets
 * a fresh subsample at every evaluation, and a different sequence per seed.
 */
export function seededSubsampling<A extends unknown[], R>(m: Model<A, R>, rng: Rng): Model<A, R> {
  return m.withSubsampling((plate, size, subsample) => (typeof subsample === 'number' ? subsampleIndices(plate, size, subsample, rng) : subsample));
}

/**
 * A plate that took a subsample in a run of the model returned by
 * {@link watchSubsampling}: its name and sizes (the first one seen).
 */
export interface SubsampledPlate {
  readonly plate: string;
  readonly size: number;
  readonly subsample: number;
}

/**
 * The model, unchanged in what it does, with a record of the first plate
 * that took a subsample in any of its runs (`seen()`).
 */
export function watchSubsampling<A extends unknown[], R>(m: Model<A, R>): { model: Model<A, R>; seen: () => SubsampledPlate | undefined } {
  let seen: SubsampledPlate | undefined;
  const outer = m.subsampling;
  const hook: SubsamplingHook = (plate, size, subsample) => {
    const taken = outer ? outer(plate, size, subsample) : subsample;
    if (seen === undefined && taken !== undefined) seen = { plate, size, subsample: Array.isArray(taken) ? taken.length : taken };
    return taken;
  };
  return { model: m.withSubsampling(hook), seen: () => seen };
}
