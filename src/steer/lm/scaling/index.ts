/**
 * Step-level inference-time scaling on the particle core: particle filtering
 * with a process reward model in proper Feynman–Kac form (and its_hub's
 * weight-replacement variant), entropic particle filtering, particle Gibbs
 * over steps, and the baselines (best-of-N, beam search, self-consistency).
 *
 * @module
 */
export * from './types.js';
export * from './epf.js';
export * from './aggregate.js';
export { StepSampler, type PartialSolution, emptySolution, cloneSolution, solutionText, extendAll, completeAll } from './steps.js';
export { stepModel, referenceOf, type ReferencePath, type WeightMode, type StepModelOptions } from './fk.js';
export { withLookahead, type LookaheadModulation } from './lookahead.js';
export { particleFilterSteps, runStepSMC, type StepPFOptions, type StepPFResult } from './pf.js';
export { particleGibbsSteps, type StepPGOptions, type StepPGResult } from './particle-gibbs.js';
export { bestOfNSteps, selfConsistencySteps, beamSearchSteps, type BeamSearchStepsOptions } from './baselines.js';
