/**
 * The values of the options every steering entry point shares (the particle
 * settings, the abort signal, the step callback), checked before any work and
 * worded as the PPL engines word them (`infer`'s option rules): a bad
 * `essThreshold`, `resampling`, `signal`, `onStep` or `rng` was reported as
 * `SMC: essThreshold must lie in [0, 1]` (no entry point named), `unknown
 * resampling scheme "sys"` (no near miss), or crashed on
 * `signal?.removeEventListener is not a function` / `options.onStep is not a
 * function` after the run had started.
 *
 * @module
 */
import { type OptionRules, checkOptionValues, checkOptions } from '../core/options.js';
import { RESAMPLERS } from '../infer/smc/resampling.js';

/** The rules of the options steering entry points share (each checked only where given). */
export const STEER_RUN_RULES: OptionRules = {
  essThreshold: { type: 'number', min: 0, max: 1 },
  resampling: { type: 'choice', values: Object.keys(RESAMPLERS), orElse: 'a resampling function', orType: ['function'] },
  signal: { type: 'signal' },
  onStep: { type: 'function' },
  rng: { type: 'object', what: 'an Rng (rngFrom(seed)); or give seed' },
};

/** The rule of a diffusion entry point's `sampler` (a substrate Sampler, not its name). */
export const DIFFUSION_SAMPLER_RULES: OptionRules = {
  sampler: { type: 'object', what: 'a Sampler such as ddpm(), ddim({ eta }) or eulerMaruyama() (the function called, not its name)' },
};

/**
 * The most particles a steering run takes (2^22 = 4,194,304). The whole
 * population is made at once, before the first step and its abort check: an LM
 * particle held about 1.5 kB (smcSteer on a Markov LM, 4 tokens: 918 MB peak at
 * 2^19 particles), so `particles: 1e9` (a typo for 1e3) grew the process by
 * gigabytes a second until the machine ran out of memory, with no error and no
 * way to abort. More samples than this: repeat runs and pool them.
 */
export const MAX_STEER_PARTICLES = 2 ** 22;

/**
 * `checkOptions` (unknown names, with the near miss; the seed), then the
 * values of the shared options ({@link STEER_RUN_RULES}, and `extra`), and
 * `particles` against {@link MAX_STEER_PARTICLES}.
 *
 * @param who - the entry point, first in every message
 */
export function checkSteerOptions(who: string, options: unknown, allowed: Iterable<string>, extra?: OptionRules): void {
  checkOptions(who, options, allowed);
  checkOptionValues(who, options as object, extra ? { ...STEER_RUN_RULES, ...extra } : STEER_RUN_RULES);
  const particles = (options as { particles?: unknown }).particles;
  if (typeof particles === 'number' && particles > MAX_STEER_PARTICLES) {
    throw new RangeError(`${who}: particles must be at most ${MAX_STEER_PARTICLES} (2^22), got ${particles}: the whole population is held in memory at once; for more samples, repeat runs and pool them`);
  }
}
