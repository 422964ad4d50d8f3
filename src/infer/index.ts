/**
 * Inference engines behind one entry point, `infer`.
 * @module
 */
export { infer, registerEngine, listEngines, type CommonOptions, type Engine } from './registry.js';
export { SelfWaitError } from './one-at-a-time.js';
export { type OptionRule, type OptionRules, checkOptionValues } from '../core/options.js';
export { numbersVersusTensors, type NumbersVersusTensors, type NumbersVersusTensorsOptions, type BranchDisagreement } from './branch-check.js';
export { Posterior, Marginal, Summary, type Draw, type DrawColumn, type DrawColumns, type PredictiveArgs, type SummaryRow, weightedQuantile } from './posterior.js';
export { type EnumerateOptions } from './enumerate.js';
export { type ImportanceOptions } from './importance.js';
export { type SMCProgramOptions } from './smc/program.js';
export { type MHOptions } from './mcmc/mh-engine.js';
export { mhStep, gibbsStep, type TraceState, type SiteProposal, type GibbsStepOptions } from './mcmc/trace-mh.js';
export { VectorizedGibbs } from './mcmc/vector-gibbs.js';
export { nextTemperature, type TemperedOptions } from './smc/tempered.js';
export { type HMCEngineOptions, type HMCDiagnostics } from './mcmc/hmc-engine.js';
export type { WorkersOption } from './mcmc/worker-pool.js';
export { gibbsSitesOf, type HMCGibbsOptions, type HMCGibbsDiagnostics } from './mcmc/hmc-gibbs.js';
/** The engines' functions, each `infer` with its method (the same option checks, queue and warnings). */
export { enumerate, importance, smcProgram, mh, tempered, hmcEngine, hmcGibbs, vi, svgd, neutra, type EngineFunction } from './direct.js';
export { layoutOf, logDensityFn, batchedLogDensityFn, constrain, unconstrain, type Layout, type SiteLayout, type PotentialOptions, type Compiled } from './mcmc/potential.js';
export { CompiledDensity, type CompileMode, type CompileStatus, type CompileStats, type Evaluation } from './mcmc/compiled-density.js';
export { replayDraws, type DrawSource, type ReplayOptions, type Replayed, type UnconstrainedSite } from './replay-draws.js';
/** Subsampled plates: which engines fit with them, the one refusal of the others, the full-data model. */
export { fullData, subsampleRefusal, SUBSAMPLING_METHODS, type SubsampledPlate } from './subsample.js';
/** Variational inference (SVI, autoguides, objectives, amortised guides), SVGD and NeuTra; registers the `vi`, `svgd` and `neutra` engines. The full API: `./vi/index.js`. */
export {
  SVI, ParamStore, AutoGuide, AutoFlow, AutoDelta, AutoNormal, AutoMultivariateNormal, AutoLowRankMultivariateNormal, ModelGuide,
  elbo, iwae, renyi, groupObjective, exponentialDecay, cosineDecay, piecewiseConstant,
  Unconstrained, type GuideValue, type AutoInit, type SviSample, type LossTrend, type MeanFieldCheck, type GuideDrift, type LatentDraws,
  type VIOptions, type SVGDOptions, type NeuTraOptions, type VIDiagnostics, type SVIOptions, type Guide, type GuideDraws, type Objective, type Particles, type ParticleSites, type SiteTerm, type OptimizerSpec, type Schedule,
} from './vi/index.js';
/** The particle engine: Feynman–Kac core, resampling, state-space filters and smoothers, CSMC, particle Gibbs, Kalman and HMM references. */
export * as particles from './smc/index.js';
export { runSMC, particleFilter, type FeynmanKac, type StateSpaceModel } from './smc/index.js';
/** NUTS/HMC kernels, adaptation and samplers over plain log-density targets. */
export * as mcmc from './mcmc/index.js';
