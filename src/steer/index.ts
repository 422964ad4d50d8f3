/**
 * `tyche/steer`: language models and diffusion models steered as particle
 * inference. See docs/steer/.
 *
 * @module
 */
export * from './lm/index.js';
export * from './diffusion/index.js';
export { type CheckedRun, type ParticleCountCheckOptions, type ParticleCountRuns, type ParticleCountCheck, particleCountCheck } from './particle-count-check.js';
