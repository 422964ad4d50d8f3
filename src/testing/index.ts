/**
 * `tyche/testing`: checks that inference is correct, for the engines in
 * tyche and for your own.
 *
 * - {@link sbc}: simulation-based calibration (rank statistics, chi-square
 *   and simultaneous ECDF-band tests, Bonferroni across quantities).
 * - {@link tarp} / {@link tarpCheck}: TARP expected-coverage curves from
 *   samples alone (any engine, VI and flows included).
 * - {@link logZUnbiasedness}, {@link bidirectionalBounds},
 *   {@link stateSpaceLogZBounds}: log-normaliser checks and the
 *   symmetric-KL bound from bidirectional estimates.
 * - {@link checkLogDetJacobian}, {@link logDetJacobianProperty}: a
 *   bijector's log|det J| against finite differences, as a fast-check
 *   property.
 * - {@link compareWithEnumeration}, {@link engineAgreesWithExact}: exact
 *   oracles on discrete models and a fast-check property over random
 *   programs.
 * - {@link arbDistribution}, {@link arbProgram}, {@link arbConjugate}:
 *   fast-check arbitraries.
 * - {@link banana}, {@link twoMoons}, {@link ringMixture}: 2-D targets with
 *   exact densities and samplers for flows and guides, with
 *   {@link quadratureLogZ}, {@link histogramChiSquare} (draws against a
 *   density), {@link targetDistribution} and the {@link gaussianMle} baseline.
 * - {@link checkLanguageModel}: conformance checks for any language model
 *   (normalised rows, batched = unbatched, cached = uncached, KV-cached =
 *   recomputed, errors, flat tensor count).
 *
 * Needs `fast-check` installed (it is a peer of this entry point only).
 *
 * @module
 */
export {
  type Simulation,
  type Simulator,
  type EngineFn,
  type EngineSpec,
  type SimulationLoopOptions,
  priorPredictive,
  posteriorFromSamples,
  flattenValues,
  logLikelihoodAt,
  runEngine,
  engineName,
  forEachSimulation,
} from './simulate.js';
export { independentDraws, type IndependentDraws } from './draws.js';
export {
  chiSquareUniformity,
  chiSquareSurvival,
  defaultBins,
  uniformEcdfBand,
  ecdfBandTest,
  type ChiSquareResult,
  type EcdfBand,
  type EcdfBandOptions,
  type EcdfTestResult,
} from './uniformity.js';
export { sbc, analyzeRanks, rankOf, rescaleRank, SbcResult, LOG_LIKELIHOOD, type SbcOptions, type SbcQuantity, type SbcQuantityResult, type RankAnalysisOptions } from './sbc.js';
export { tarp, tarpCheck, type TarpOptions, type TarpResult, type TarpCheckOptions } from './tarp.js';
export {
  logZUnbiasedness,
  checkLogZUnbiased,
  bidirectionalBounds,
  gapDecreases,
  stateSpaceLogZBounds,
  linearGaussianLogZBounds,
  linearGaussianSmoothingDraw,
  type MeanSe,
  type UnbiasednessResult,
  type BidirectionalBounds,
  type LogZBoundsLevel,
  type LogZBoundsSweep,
  type LogZBoundsSweepOptions,
} from './logz.js';
export { finiteDifferenceLogDet, checkLogDetJacobian, logDetJacobianProperty, arbBijectorInput, type LogDetCheck, type LogDetCheckOptions, type BijectorCase } from './jacobian.js';
export {
  compareWithEnumeration,
  engineAgreesWithExact,
  engineAgreesWithExactProperty,
  RETURN_VALUE,
  type OracleOptions,
  type OracleResult,
  type SiteComparison,
  type AgreesOptions,
  type OracleEngine,
} from './oracles.js';
export {
  arbDistribution,
  arbConjugate,
  arbProgram,
  buildProgram,
  type ArbDistributionOptions,
  type ArbConjugateOptions,
  type ArbProgramOptions,
  type GeneratedDistribution,
  type GeneratedConjugate,
  type GeneratedProgram,
  type ProgramStmt,
} from './arbitraries.js';
export { type ConjugateFamily, normalNormal, betaBernoulli, gammaPoisson, exactConjugateEngine } from './conjugate.js';
export {
  type Target2D,
  type Box2D,
  type BananaOptions,
  type TwoMoonsOptions,
  type RingMixtureOptions,
  type HistogramChiSquareOptions,
  banana,
  twoMoons,
  ringMixture,
  quadratureLogZ,
  histogramChiSquare,
  Target2DDistribution,
  targetDistribution,
  gaussianMle,
} from './targets-2d.js';
export {
  checkLanguageModel,
  rowDistance,
  LM_CHECKS,
  type LmCheckName,
  type LmCheck,
  type LmConformanceOptions,
  type LmConformanceReport,
} from './lm-conformance.js';
export { checkMixtureSamples, bonferroniZ, type MixtureCheck, type MomentZ } from './diffusion.js';
export { checkPotential, POTENTIAL_CHECKS, type PotentialCheck, type PotentialConformanceOptions } from './potential-conformance.js';
export { steeringBounds, type BoundsOptions, type SteeringBounds } from '../steer/lm/smc/bounds.js';
