/**
 * The engines' own functions as the package exports them
 * (`importance(model, options, args)`, `hmcEngine(...)`, ...): each is
 * `infer` with that `method`, so a direct call gets what an `infer` call
 * gets, with the same messages. Its options are checked before anything
 * runs (an unknown key with its near miss, every value by the rule table in
 * `option-rules.ts`); the model's source is linted; it waits its turn in the
 * one-at-a-time queue (`one-at-a-time.ts`: a direct call beside an `infer`
 * call shared tfjs's scopes and tape with it); and the engine's warnings are
 * printed. Before, these were the engines' inner functions, which skipped
 * all of that: `importance(m, { particle: 10 }, [])` ran 1000 particles.
 *
 * The engines call their inner functions (`./importance.js` and so on)
 * themselves; only the package's exports go through here.
 *
 * @module
 */
import type { Model } from '../core/model.js';
import type { Posterior } from './posterior.js';
import { infer } from './registry.js';
import type { EnumerateOptions } from './enumerate.js';
import type { ImportanceOptions } from './importance.js';
import type { SMCProgramOptions } from './smc/program.js';
import type { MHOptions } from './mcmc/mh-engine.js';
import type { TemperedOptions } from './smc/tempered.js';
import type { HMCEngineOptions } from './mcmc/hmc-engine.js';
import type { HMCGibbsOptions } from './mcmc/hmc-gibbs.js';
import type { VIOptions } from './vi/svi.js';
import type { SVGDOptions } from './vi/svgd.js';
import type { NeuTraOptions } from './vi/neutra.js';
// (the engines register themselves with `infer` when loaded: load them, whatever else is imported)
import './enumerate.js';
import './importance.js';
import './smc/program.js';
import './mcmc/mh-engine.js';
import './smc/tempered.js';
import './mcmc/hmc-engine.js';
import './mcmc/hmc-gibbs.js';
import './vi/svi.js';
import './vi/svgd.js';
import './vi/neutra.js';

/** An engine's function: a model, that engine's options (without `method`), the model's arguments. */
export type EngineFunction<O> = <A extends unknown[], R>(m: Model<A, R>, options: O, args: A) => Promise<Posterior<A, R>>;

/** `infer(m, { ...options, method }, ...args)`, as a function of the engine's own shape. */
function viaInfer<O extends object>(method: string): EngineFunction<Omit<O, 'method'>> {
  return (m, options, args) => infer(m, { ...options, method } as O & { method: string }, ...args);
}

/** Exact enumeration (`infer` with `method: 'enumerate'`; see {@link EnumerateOptions}). */
export const enumerate: EngineFunction<Omit<EnumerateOptions, 'method'>> = viaInfer<EnumerateOptions>('enumerate');
/** Importance sampling (`infer` with `method: 'importance'`; see {@link ImportanceOptions}). */
export const importance: EngineFunction<Omit<ImportanceOptions, 'method'>> = viaInfer<ImportanceOptions>('importance');
/** SMC over the program (`infer` with `method: 'smc'`; see {@link SMCProgramOptions}). */
export const smcProgram: EngineFunction<Omit<SMCProgramOptions, 'method'>> = viaInfer<SMCProgramOptions>('smc');
/** Metropolis–Hastings (`infer` with `method: 'mh'`; see {@link MHOptions}). */
export const mh: EngineFunction<Omit<MHOptions, 'method'>> = viaInfer<MHOptions>('mh');
/** Tempered SMC (`infer` with `method: 'tempered'`; see {@link TemperedOptions}). */
export const tempered: EngineFunction<Omit<TemperedOptions, 'method'>> = viaInfer<TemperedOptions>('tempered');
/** HMC within Gibbs (`infer` with `method: 'hmc-gibbs'`; see {@link HMCGibbsOptions}). */
export const hmcGibbs: EngineFunction<Omit<HMCGibbsOptions, 'method'>> = viaInfer<HMCGibbsOptions>('hmc-gibbs');
/** Stein variational gradient descent (`infer` with `method: 'svgd'`; see {@link SVGDOptions}). */
export const svgd: EngineFunction<Omit<SVGDOptions, 'method'>> = viaInfer<SVGDOptions>('svgd');
/** NeuTra: a fitted flow, then NUTS in its space (`infer` with `method: 'neutra'`; see {@link NeuTraOptions}). */
export const neutra: EngineFunction<Omit<NeuTraOptions, 'method'>> = viaInfer<NeuTraOptions>('neutra');

/** NUTS or static HMC, by `options.method` (`infer` with that method; see {@link HMCEngineOptions}). */
export function hmcEngine<A extends unknown[], R>(m: Model<A, R>, options: Omit<HMCEngineOptions, 'method'> & { method: 'nuts' | 'hmc' }, args: A): Promise<Posterior<A, R>> {
  return infer(m, options, ...args);
}

/** Variational inference (`infer` with `method: 'vi'`; see {@link VIOptions}). */
export function vi<A extends unknown[], R>(m: Model<A, R>, options: Omit<VIOptions<A>, 'method'>, args: A): Promise<Posterior<A, R>> {
  return infer(m, { ...options, method: 'vi' }, ...args);
}
