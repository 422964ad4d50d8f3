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
 * `checkOptions` (unknown names, with the near miss; the seed), then the
 * values of the shared options ({@link STEER_RUN_RULES}, and `extra`).
 *
 * @param who - the entry point, first in every message
 */
export function checkSteerOptions(who: string, options: unknown, allowed: Iterable<string>, extra?: OptionRules): void {
  checkOptions(who, options, allowed);
  checkOptionValues(who, options as object, extra ? { ...STEER_RUN_RULES, ...extra } : STEER_RUN_RULES);
}
