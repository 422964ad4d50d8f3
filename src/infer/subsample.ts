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

/** The refusing hook of each method, made once (`infer` passes every call's model through `refuseSubsampling`). */
const refusals = new Map<string, SubsamplingHook>();

/** The model with every subsampled plate refused by {@link subsampleRefusal} when it opens. */
export function refuseSubsampling<A extends unknown[], R>(m: Model<A, R>, method: string): Model<A, R> {
  let hook = refusals.get(method);
  if (hook === undefined) {
    hook = (plate, size, subsample) => {
      throw subsampleRefusal(method, plate, size, Array.isArray(subsample) ? subsample.length : subsample);
    };
    refusals.set(method, hook);
  }
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

/** The {@link SubsamplingHook} that runs every plate at its full size. */
export const FULL_PLATES: SubsamplingHook = () => undefined;

/** The model with every plate at its full size (no subsample, scale 1): the full-data log density. */
export function fullData<A extends unknown[], R>(m: Model<A, R>): Model<A, R> {
  return m.withSubsampling(FULL_PLATES);
}

/** A plate that took a subsample (the first one seen): its name and sizes. */
export interface SubsampledPlate {
  readonly plate: string;
  readonly size: number;
  readonly subsample: number;
}

/**
 * One subsample per plate per step, shared by every run of the step (a guide
 * model's and the model's, every draw or particle), as Pyro's `plate` shares
 * its subsample between guide and model: each step's subsample is drawn from
 * the engine's seeded stream when a run first opens the plate in that step.
 * Use {@link SharedSubsamples.hook} with `Model.withSubsampling` on both.
 */
export class SharedSubsamples {
  private readonly current = new Map<string, number[]>();
  private first: SubsampledPlate | undefined;

  /** @param rng - the stream the subsamples are drawn from */
  constructor(private readonly rng: Rng) {}

  /** The first plate that took a subsample, if any. */
  get seen(): SubsampledPlate | undefined {
    return this.first;
  }

  /** A new step: the next runs draw new subsamples. */
  next(): void {
    this.current.clear();
  }

  /** The hook for `Model.withSubsampling`. */
  readonly hook: SubsamplingHook = (plate, size, subsample) => {
    let taken: number[];
    if (Array.isArray(subsample)) taken = subsample;
    else {
      const key = `${plate}/${size}/${subsample}`;
      taken = this.current.get(key) ?? subsampleIndices(plate, size, subsample, this.rng);
      this.current.set(key, taken);
    }
    this.first ??= { plate, size, subsample: taken.length };
    return taken;
  };
}
