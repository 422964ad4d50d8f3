/**
 * Steering algorithms as Feynman–Kac models on the particle core.
 *
 * @module
 */
export { TokenFeynmanKac, type TokenParticle, type TokenModelOptions, type TokenModelStats } from './token-fk.js';
export { smcSteer, conditionalSteer, runTokenModel, readParticles, SteeringResult, NoSatisfyingStringError, type SteerOptions, type SteeredString } from './steer.js';
