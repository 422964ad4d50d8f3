/**
 * Variational inference: objectives, guides, parameters and the SVI loop.
 * Importing it registers the `vi` engine with `infer`.
 * @module
 */
export { ParamStore, type StoredParam } from './param-store.js';
export {
  type Particles, type ObjectiveValue, type ObjectiveState, type Objective, type ElboOptions, type ObjectiveName,
  logWeights, grouped, logMeanExp, stopGradient, scoreFunctionSurrogate, groupObjective, elbo, iwae, renyi, objectiveFrom, BASELINE_DECAY,
} from './objectives.js';
export { type Guide, type GuideDraws, type GuideValue, type DrawOptions, type ModelRunOptions, Unconstrained, guideValuesHandler, modelLogJoint } from './guide.js';
export { AutoGuide, type AutoGuideOptions, type AutoInit, type UnconstrainedMoments, type LatentDraws, constrainDraws } from './autoguide.js';
export { AutoDelta, AutoNormal, AutoMultivariateNormal, AutoLowRankMultivariateNormal, type AutoLowRankOptions, type AutoGuideName, autoGuide, lowRankLogDensity } from './autoguides.js';
export { ModelGuide } from './model-guide.js';
export { type SiteTerm, type ParticleSites, type SiteBaselines, siteTermsOf, raoBlackwellScore } from './rao-blackwell.js';
export { type Schedule, type OptimizerSpec, type SviOptimizer, exponentialDecay, cosineDecay, piecewiseConstant, clipByGlobalNorm, sviOptimizer } from './optim.js';
export { SVI, type SVIOptions, type SviSample, type GuideSpec, type VIOptions, type VIProgress, type VIDiagnostics, guideFrom, khatReport, vi } from './svi.js';
export { AutoFlow, type AutoFlowOptions } from './auto-flow.js';
export { svgd, steinDirection, medianBandwidth, adagradStepper, coinStepper, type ParticleStepper, type SVGDOptions } from './svgd.js';
export { paramNetwork, column, type Activation } from './amortized.js';
export { neutra, neutraModel, NEUTRA_SITE, type NeuTraOptions } from './neutra.js';
export { type LossTrend } from './convergence.js';
export { type MeanFieldCheck } from './mean-field-check.js';
export { type GuideDrift } from './guide-drift.js';
