/**
 * Steering algorithms as Feynman–Kac models on the particle core.
 *
 * @module
 */
export { TokenFeynmanKac, type TokenParticle, type TokenModelOptions, type TokenModelStats } from './token-fk.js';
export { smcSteer, conditionalSteer, runTokenModel, readParticles, SteeringResult, NoSatisfyingStringError, type SteerOptions, type SteeredString } from './steer.js';
export { locallyConstrainedDecode, bestOfN, UnweightedSampler, type BaselineOptions } from './baselines.js';
export { steeringBounds, type BoundsOptions, type SteeringBounds } from './bounds.js';
export { ExactTwist, TabularTwist, learnTwistCTL, type CTLOptions } from './twist.js';
export { smcSteerK, fearnheadClifford, type SmcSteerKOptions } from './smc-steer.js';
export { nextToken, NextTokenDistribution } from './next-token.js';
export { StepProgram, runStepPrograms, type StepProgramOptions, type StepProgramResult } from './program.js';
