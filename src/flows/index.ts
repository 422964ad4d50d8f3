/**
 * Normalizing flows: planar, radial, affine coupling (RealNVP), masked
 * autoregressive (MAF / IAF), reversal and elementwise affine layers, as
 * bijectors with log|det J|; stacks; density estimation by maximum
 * likelihood. `AutoFlow` (in `infer/vi`) uses them as variational guides.
 * @module
 */
export { FlowBijector, type FlowLayer, type FlowParams, dense, smallNormal } from './flow-bijector.js';
export { PlanarBijector, RadialBijector, planar, radial } from './planar.js';
export { AffineCouplingBijector, ReverseBijector, affineCoupling, reverse, type CouplingOptions } from './coupling.js';
export { MaskedAutoregressiveBijector, iaf, maf, madeMasks, type AutoregressiveDirection, type AutoregressiveOptions } from './autoregressive.js';
export { ElementwiseAffineBijector, affine } from './affine.js';
export { createFlowParams, buildFlow, pushForward, flowLogProb, standardNormalLogDensity, fitFlow, type FitFlowOptions, type FittedFlow } from './flow.js';
