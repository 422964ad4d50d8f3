/**
 * `tyche/steer`: language models and diffusion models steered as particle
 * inference. See docs/steer/.
 *
 * @module
 */
export * from './lm/index.js';
export * from './diffusion/index.js';
// both layers have a best-of-N baseline: the LM one keeps the plain name, the diffusion one is prefixed
export { bestOfN } from './lm/index.js';
export { bestOfN as diffusionBestOfN } from './diffusion/index.js';
