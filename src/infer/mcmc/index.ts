/**
 * Gradient-based MCMC over a log-density target: static HMC and NUTS with
 * Stan-style warmup, run chain by chain or with all chains vectorised.
 *
 * ```ts
 * const result = await sampleNuts((q) => ({ logp: -0.5 * q[0]! ** 2, grad: Float64Array.of(-q[0]!) }), {
 *   dim: 1, chains: 4, warmup: 1000, draws: 1000, seed: 1,
 * });
 * const x = parameterDraws(result, 0); // chains x draws, for essBulk / rhatBulk
 * ```
 *
 * @module
 */
export {
  type MaybePromise,
  type LogDensityAndGradient,
  type BatchedLogDensityAndGradient,
  type LogDensityTarget,
  type BatchedLogDensityTarget,
  type GradientAnswer,
  batchTarget,
  checkLogDensityAndGradient,
  checkBatchedLogDensityAndGradient,
} from './target.js';
export { EuclideanMetric, type MetricKind, METRIC_KINDS } from './metric.js';
export { type MassMatrixOption, type MetricChoiceOptions, type MetricDecision, MASS_MATRIX_OPTIONS, chooseMetric, chooseLowRank, describeMetricChoice } from './metric-choice.js';
export { LowRankInverse, packLowRank, lowRankRankOf } from './metric-lowrank.js';
export { type LowRankFit, type LowRankFitOptions, fitLowRank, spdMeanWithInverse } from './metric-lowrank-fit.js';
export { type SymmetricEigen, symmetricEigen, symmetricEigenvalues, topEigen, orthonormalRows } from './eigen.js';
export { type GradientCoroutine, type Position, type PhasePoint, evaluate, hamiltonian, leapfrog } from './integrator.js';
export { type Transition, type HamiltonianKernel, DEFAULT_MAX_ENERGY_ERROR } from './kernel.js';
export { HmcKernel, type HmcKernelOptions } from './hmc.js';
export { NutsKernel, NutsTrajectory, type NutsKernelOptions } from './nuts.js';
export { WelfordVariance, WelfordCovariance } from './welford.js';
export {
  DualAveraging,
  type DualAveragingOptions,
  type WindowOptions,
  type WindowSchedule,
  windowSchedule,
  MetricAdapter,
  initialStepSize,
} from './adaptation.js';
export { type SamplerStats, type ChainProgress, type ChainConfig, type ChainOutput } from './chain.js';
export { runChain } from './chain-driver.js';
export { type AscentEnd, type InitStrategy, type InitSettings, INIT_STRATEGIES, DEFAULT_INIT, DEFAULT_INIT_SETTINGS, initialise, ascend, describeInit } from './initialise.js';
export {
  type McmcProgress,
  type SamplerOptions,
  type NutsOptions,
  type HmcOptions,
  type BatchOptions,
  type McmcTiming,
  type McmcSamples,
  sampleNuts,
  sampleHmc,
  sampleNutsBatched,
  sampleHmcBatched,
  type ChainTarget,
  sampleNutsPerChain,
  sampleHmcPerChain,
} from './sampler.js';
export { parameterDraws, drawOf, type SamplerDigest, samplerDigest } from './results.js';
