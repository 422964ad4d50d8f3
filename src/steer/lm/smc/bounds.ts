/**
 * Bidirectional bounds on log Z of a steering problem (as in Zhao et al.,
 * "Probabilistic Inference in Language Models via Twisted SMC"):
 *
 * - lower: E[log Ẑ] of forward SMC ≤ log Z (Jensen on an unbiased Ẑ);
 * - upper: E[log Ẑ] of conditional SMC whose reference is an exact draw from
 *   the target ≥ log Z.
 *
 * Both shrink to log Z as particles grow; their gap bounds the KL divergence
 * between the SMC sampling distribution and the target in both directions,
 * so a large gap says the sampler is far from the target. Without exact
 * draws, references from a long SMC run give an approximate upper bound
 * (say so when reporting it).
 *
 * @module
 */
import { checkSteerOptions } from '../../run-rules.js';
import { checkIntegerOptions, optionNames } from '../../../core/options.js';
import { type Rng, rngFrom, type Seed } from '../../../core/rng.js';
import { conditionalSteer, smcSteer, type SteerOptions } from './steer.js';

/** Options of {@link steeringBounds}. */
export interface BoundsOptions extends Omit<SteerOptions, 'seed' | 'rng' | 'reference' | 'onEmpty'> {
  /** Independent runs of each kind (default 32). */
  readonly runs?: number;
  /** A draw from the target (exact if you can: then the upper bound is a true bound). */
  readonly reference: (rng: Rng) => readonly number[] | Promise<readonly number[]>;
  readonly seed?: Seed;
}

/** The bounds with their Monte Carlo standard errors. */
export interface SteeringBounds {
  /** Mean log Ẑ of forward SMC (≤ log Z in expectation). */
  readonly lower: number;
  readonly lowerSE: number;
  /** Mean log Ẑ of conditional SMC with reference draws (≥ log Z in expectation). */
  readonly upper: number;
  readonly upperSE: number;
  /** upper − lower. */
  readonly gap: number;
  /** Per-run estimates. */
  readonly lowerRuns: number[];
  readonly upperRuns: number[];
}

function meanSE(xs: number[]): { mean: number; se: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1);
  return { mean: m, se: Math.sqrt(v / xs.length) };
}

/** The option names steeringBounds accepts (checked against its options type by the compiler). */
const STEERING_BOUNDS_OPTIONS = optionNames<BoundsOptions>({ runs: true, reference: true, seed: true, resampling: true, essThreshold: true, signal: true, onStep: true, temper: true, ancestorSampler: true, particles: true, lm: true, potential: true, critic: true, sampler: true, maxTokens: true, prompt: true });

/**
 * Run `runs` forward SMC sweeps and `runs` conditional SMC sweeps (one fresh
 * reference each) and return the bidirectional bounds on log Z. Forward runs
 * that die entirely give log Ẑ = -Infinity, so the lower bound is then
 * -Infinity (honestly: Ẑ = 0 happened).
 */
export async function steeringBounds(options: BoundsOptions): Promise<SteeringBounds> {
  checkSteerOptions('steeringBounds', options, STEERING_BOUNDS_OPTIONS);
  checkIntegerOptions('steeringBounds', options, { particles: 1, maxTokens: 0 });
  // essThreshold, temper and ancestorSampler shape the forward runs only: conditional SMC resamples every step with its own ancestors
  const { runs = 32, reference, seed, essThreshold, temper, ancestorSampler, ...steer } = options;
  if (!(Number.isInteger(runs) && runs >= 2)) throw new Error(`steeringBounds: runs must be an integer >= 2, got ${runs}`);
  const rng = rngFrom(seed ?? 'steering-bounds');
  const lowerRuns: number[] = [];
  const upperRuns: number[] = [];
  for (let r = 0; r < runs; r++) {
    lowerRuns.push((await smcSteer({ ...steer, essThreshold, temper, ancestorSampler, rng: rng.split(), onEmpty: 'empty' })).logZ);
    const ref = await reference(rng.split());
    upperRuns.push((await conditionalSteer({ ...steer, rng: rng.split(), reference: ref })).logZ);
  }
  const lo = meanSE(lowerRuns);
  const hi = meanSE(upperRuns);
  return { lower: lo.mean, lowerSE: lo.se, upper: hi.mean, upperSE: hi.se, gap: hi.mean - lo.mean, lowerRuns, upperRuns };
}
