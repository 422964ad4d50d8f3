/**
 * What each engine's options may hold, checked by `infer` before anything
 * runs (core/options.ts `checkOptionValues`): a bad value is an error naming
 * the engine and the option, at once, not after the source lint, the
 * numbers-and-tensors check, the layout probe and the initial points (about
 * 330 ms on eight schools), and worded the same by every engine. Options
 * shared by several engines (the MCMC counts and warmup settings, `signal`,
 * `compile`, ...) have one rule here, used by all of them.
 *
 * The engines keep their own checks for direct callers (`sampleNuts`,
 * `runSMC`, ...) and for what a rule cannot see (a guide's own options, a
 * `vi` particle count that must be a multiple of K).
 *
 * @module
 */
import type { OptionRule, OptionRules } from '../core/options.js';
import { INIT_STRATEGIES } from './mcmc/initialise.js';
import { MASS_MATRIX_OPTIONS } from './mcmc/metric-choice.js';
import { RESAMPLERS } from './smc/resampling.js';
import { POPULATION_RULE } from './smc/population.js';
import { OPTIMIZER_RULE } from '../optim/optim.js';
import type { HMCEngineOptions } from './mcmc/hmc-engine.js';
import type { HMCGibbsOptions } from './mcmc/hmc-gibbs.js';
import type { MHOptions } from './mcmc/mh-engine.js';
import type { ImportanceOptions } from './importance.js';
import type { SMCProgramOptions } from './smc/program.js';
import type { TemperedOptions } from './smc/tempered.js';
import type { SVIOptions, VIOptions } from './vi/svi.js';
import type { SVGDOptions } from './vi/svgd.js';
import type { NeuTraOptions } from './vi/neutra.js';
import type { EnumerateOptions } from './enumerate.js';

/** Rules for the options of `O` besides those `infer` checks itself (the compiler refuses a name `O` lacks). */
type RulesOf<O> = { readonly [K in Exclude<keyof O, 'method' | 'seed' | 'checkConditions'>]?: OptionRule };

const positive: OptionRule = { type: 'integer', min: 1 };
const nonNegative: OptionRule = { type: 'integer', min: 0 };
const fn: OptionRule = { type: 'function' };
const signal: OptionRule = { type: 'signal' };
const flag: OptionRule = { type: 'boolean' };
const autoFlag: OptionRule = { type: 'choice', values: [true, false, 'auto'] };
const proposals: OptionRule = { type: 'object', what: 'an object of proposals by address' };
const resampling: OptionRule = { type: 'choice', values: Object.keys(RESAMPLERS), orElse: 'a resampling function', orType: ['function'] };

/** The MCMC options that NUTS, HMC, HMC within Gibbs and NeuTra share. */
const MCMC = {
  chains: positive,
  warmup: nonNegative,
  samples: positive,
  targetAccept: { type: 'number', min: 0, max: 1, openMin: true, openMax: true },
  maxTreeDepth: { type: 'integer', min: 1, max: 30 },
  massMatrix: { type: 'choice', values: ['auto', ...MASS_MATRIX_OPTIONS.filter((k) => k !== 'auto')] },
  init: { type: 'choice', values: [...INIT_STRATEGIES, 'prior'], orElse: 'values by address', orType: ['object'] },
  onProgress: fn,
  signal,
} as const satisfies OptionRules;

/** Static HMC's trajectory length. */
const STATIC = {
  numSteps: positive,
  integrationTime: { type: 'number', min: 0, openMin: true },
  jitter: { type: 'number', min: 0, max: 1 },
} as const satisfies OptionRules;

const HMC = {
  ...MCMC,
  ...STATIC,
  vectorize: autoFlag,
  compile: autoFlag,
  workers: { type: 'object', what: 'an object { module, exportName?, threads? }', keys: ['module', 'exportName', 'threads'], rules: { threads: positive } },
} as const satisfies RulesOf<HMCEngineOptions>;

const NUTS: RulesOf<HMCEngineOptions> = (({ numSteps: _n, integrationTime: _t, jitter: _j, ...rest }) => rest)(HMC);
const STATIC_HMC: RulesOf<HMCEngineOptions> = (({ maxTreeDepth: _d, ...rest }) => rest)(HMC);

const HMC_GIBBS: RulesOf<HMCGibbsOptions> = { ...MCMC, ...STATIC, kernel: { type: 'choice', values: ['nuts', 'hmc'] }, compile: flag, vectorizeGibbs: flag };

const MH: RulesOf<MHOptions> = { samples: positive, warmup: nonNegative, thin: positive, chains: positive, proposals, gibbs: flag, vectorizeGibbs: flag, compile: flag, onProgress: fn, signal };

// (batched: being added to importance this session; the rule stands either way)
const IMPORTANCE: RulesOf<ImportanceOptions> & { readonly batched?: OptionRule } = {
  particles: POPULATION_RULE,
  batched: autoFlag,
  guide: { type: 'choice', values: [], orElse: 'a guide model (made with model(...)) or a guide function', orType: ['object', 'function'] },
  onProgress: fn,
  signal,
  compile: autoFlag,
};

const SMC: RulesOf<SMCProgramOptions> = {
  particles: POPULATION_RULE,
  resampling,
  essThreshold: { type: 'number', min: 0, max: 1 },
  onStep: fn,
  signal,
  rejuvenate: { type: 'object', what: 'an object { steps, proposals? }', keys: ['steps', 'proposals'], rules: { steps: nonNegative, proposals } },
  batched: autoFlag,
  lean: flag,
  grouped: flag,
};

const TEMPERED: RulesOf<TemperedOptions> = {
  particles: POPULATION_RULE,
  targetEss: { type: 'number', min: 0, max: 1, openMin: true, openMax: true },
  moves: nonNegative,
  proposals,
  compile: autoFlag,
  resampling,
  onStep: fn,
  signal,
};

/** The options of the SVI fit itself (`vi`'s, and NeuTra's `vi` option). */
const SVI = {
  objective: { type: 'choice', values: ['elbo', 'elbo-stl', 'iwae', 'renyi'], orElse: 'an Objective', orType: ['object'] },
  k: positive,
  particles: positive,
  optimizer: OPTIMIZER_RULE,
  vectorize: autoFlag,
  compile: flag,
  surrogateGradients: flag,
} as const satisfies RulesOf<Omit<SVIOptions, 'seed'>>;

const VI: RulesOf<VIOptions> = {
  ...SVI,
  guide: { type: 'choice', values: ['normal', 'mvn', 'lowrank', 'delta', 'flow'], orElse: 'a Guide or a guide model', orType: ['object'] },
  init: { type: 'choice', values: ['uniform', 'prior', 'zero'], orElse: 'values by address', orType: ['object'] },
  steps: nonNegative,
  samples: positive,
  importanceWeights: { type: 'choice', values: [true, false, 'psis'] },
  onStep: fn,
  progressEvery: positive,
  signal,
};

const SVGD: RulesOf<SVGDOptions> = {
  particles: { type: 'integer', min: 2 },
  steps: nonNegative,
  optimizer: { type: 'choice', values: ['adagrad', 'coin'] },
  lr: { type: 'number', min: 0, openMin: true },
  bandwidth: { type: 'number', min: 0, openMin: true, alsoChoices: ['median'] },
  init: { type: 'choice', values: ['uniform', 'prior'] },
  vectorize: autoFlag,
  surrogateGradients: flag,
  onStep: fn,
  signal,
};

const NEUTRA: RulesOf<NeuTraOptions> = {
  chains: MCMC.chains,
  warmup: MCMC.warmup,
  samples: MCMC.samples,
  targetAccept: MCMC.targetAccept,
  maxTreeDepth: MCMC.maxTreeDepth,
  onProgress: fn,
  signal,
  vectorize: autoFlag,
  guide: { type: 'choice', values: ['flow', 'mvn', 'normal'], orElse: 'an autoguide', orType: ['object'] },
  viSteps: nonNegative,
  vi: { type: 'object', what: "an object of vi options (objective, optimizer, ...; see method 'vi')", keys: Object.keys(SVI), rules: SVI },
};

const ENUMERATE: RulesOf<EnumerateOptions> = {
  maxExecutions: positive,
  strategy: { type: 'choice', values: ['sequential', 'parallel', 'auto'] },
  maxSites: positive,
  signal,
  lean: flag,
};

/** The option rules of each built-in engine, by method (registered with the engine: `Engine.rules`). */
export const ENGINE_OPTION_RULES: Readonly<Record<string, OptionRules>> = {
  nuts: NUTS as OptionRules,
  hmc: STATIC_HMC as OptionRules,
  'hmc-gibbs': HMC_GIBBS as OptionRules,
  mh: MH as OptionRules,
  importance: IMPORTANCE as OptionRules,
  smc: SMC as OptionRules,
  tempered: TEMPERED as OptionRules,
  vi: VI as OptionRules,
  svgd: SVGD as OptionRules,
  neutra: NEUTRA as OptionRules,
  enumerate: ENUMERATE as OptionRules,
};
