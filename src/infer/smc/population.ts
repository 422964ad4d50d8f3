/**
 * The particle-count rule of the engines that hold a whole population at once: importance, SMC over
 * programs, tempered SMC and `runSMC`. A typo such as `particles: 1e9` otherwise grows the process for
 * minutes, with no error and out of reach of an abort, until memory runs out; the ceiling turns it into an
 * error before anything runs. 2^24 scalar particles take 64 MB per site in float32, far beyond what a
 * run's answers need (their Monte Carlo error shrinks as 1 / sqrt(particles)).
 *
 * @module
 */
import type { OptionRule } from '../../core/options.js';

/** The largest population an engine takes (2^24). */
export const MAX_PARTICLES = 2 ** 24;

/** `particles` for the population engines: a positive integer, at most {@link MAX_PARTICLES}, the message saying why. */
export const POPULATION_RULE: OptionRule = {
  type: 'integer',
  min: 1,
  ceiling: { max: MAX_PARTICLES, why: 'every particle is held in memory at once; for more draws, repeat runs with other seeds and pool them' },
};
