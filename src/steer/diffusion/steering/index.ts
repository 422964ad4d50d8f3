/**
 * Steering diffusion and flow models as particle inference on the particle
 * core: rewards, FK steering, Feynman–Kac correctors.
 *
 * @module
 */
export { type Reward, type RewardContext, evaluateReward, tensorReward, classifierReward, linearReward, linearTilt } from './rewards.js';
export {
  type FkPotential,
  type FkSteeringOptions,
  type FkState,
  type FkCounters,
  type FkRunOptions,
  type FkSteeringResult,
  fkSteeringModel,
  fkSteering,
  COLLAPSE_STEP_FRACTION,
} from './fk-steering.js';
export { gaussianPowerProduct, mixtureProduct, quadratureMoments1d } from './closed-form.js';
export {
  type CorrectorTerm,
  type CorrectorTilt,
  type CorrectorOptions,
  type CorrectorState,
  type CorrectorRunOptions,
  type CorrectorResult,
  annealedTerms,
  productTerms,
  guidanceTerms,
  type CorrectorCounters,
  CORRECTOR_STIFFNESS_LIMIT,
  correctorModel,
  fkCorrector,
} from './correctors.js';
export { type CorrectorGridCheckOptions, type CorrectorGridRuns, type CorrectorGridCheck, correctorGridCheck } from './corrector-grid.js';
export { type LogLikelihood, type TdsOptions, type TdsState, type TdsRunOptions, type TdsResult, type TdsCounters, tdsModel, twistedDiffusion, mixtureClassLikelihood, maskedGaussianLikelihood } from './tds.js';
export { type NoiseSearchSpace, type SearchOptions, type SearchResult, type ZeroOrderSearchOptions, diffusionBestOfN, sampleAlongNoise, zeroOrderSearch } from './search.js';
export { type RolloverOptions, type RolloverResult, rolloverBudgetForcing } from './rollover.js';
export { type ParticleRunOptions, type ParticleRunResult, type WeightSpread, WEIGHT_VARIANCE_LIMIT } from './particle-run.js';
export { type DtsMode, type DtsOptions, type DtsNode, type DtsLeaves, type DtsTracePoint, type DtsResult, diffusionTreeSampling, dtsFrames, treeLeaves, softMean } from './dts.js';
export { type Frame, frameRow } from './frames.js';
export { type PathSearchOptions, pathBranchCost, pathSearch } from './path-search.js';
export { STEER_METHODS, type SteerMethod, type SteerAtBudgetOptions, type SteerRun, steerAtBudget } from './methods.js';
