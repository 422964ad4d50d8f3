/**
 * Diffusion and flow models as batched particle systems: the model
 * interface, schedules, parametrisations, samplers that report transition
 * log-densities, schedule conversions, the analytic Gaussian mixture and the
 * shipped networks. Node-only loaders (weights, digits data) are in
 * `./files.js`; PNG output in `tyche`'s io.
 *
 * @module
 */
export { type DiffusionModel, type EvalContext, denoise, predictSync, checkState, checkCondition, classifierFreeGuidance, labels } from './model.js';
export { type Prediction, type Affine, PREDICTIONS, checkPrediction, conversionCoefficients, convertPrediction } from './parametrisation.js';
export {
  type Schedule,
  type ScheduleKind,
  type VpLinearOptions,
  type VpCosineOptions,
  type VeOptions,
  type InterpolantOptions,
  vpLinear,
  vpCosine,
  veGeometric,
  linearInterpolant,
  checkTime,
  logSnr,
  dLogSnr,
  driftCoefficient,
  diffusionSquared,
  timeOfLogSnr,
  timeGrid,
} from './schedules.js';
export {
  type Sampler,
  type StepInput,
  type Kernel,
  type StepOutput,
  type OdeMethod,
  type DdimOptions,
  type FlowSdeOptions,
  type DiffusionSampleOptions,
  type DiffusionSampleResult,
  type DiffusionStepInfo,
  ddpm,
  ddim,
  eulerMaruyama,
  probabilityFlow,
  flowOde,
  flowSde,
  samplerStep,
  sampleDiffusion,
  transitionLogDensity,
  gaussianNoise,
} from './samplers.js';
export { type TimeMap, snrTimeMap, reparametrise, interpolantToVp } from './conversions.js';
export { GaussianMixture, type MixtureComponent, symmetricEigen } from './gaussian-mixture.js';
export { Mlp, type MlpConfig, type MlpManifest } from './mlp.js';
export { type Classifier, type ScheduleSpec, type ShippedMeta, type MlpDenoiserOptions, mlpDenoiser, mlpClassifier, scheduleFromSpec } from './networks.js';
export { TOY2D_CLASSES, type Toy2DName, toy2dPoint, toy2dSample } from './toy-data.js';
export * from './steering/index.js';
