/**
 * Normalizing flows: planar, radial, affine coupling (RealNVP),
 * rational-quadratic splines (coupling, MAF, IAF), masked autoregressive (MAF / IAF),
 * reversal and elementwise affine layers, as bijectors with log|det J|;
 * stacks; density estimation by maximum likelihood; flows as distributions.
 * `AutoFlow` (in `infer/vi`) uses them as variational guides.
 * @module
 */
export { FlowBijector, type FlowLayer, type FlowParams, dense, smallNormal } from './flow-bijector.js';
export { PlanarBijector, RadialBijector, planar, radial } from './planar.js';
export { AffineCouplingBijector, ReverseBijector, affineCoupling, couplingMask, reverse, type CouplingOptions } from './coupling.js';
export { MaskedAutoregressiveBijector, iaf, maf, madeMasks, autoregressiveSolve, type AutoregressiveDirection, type AutoregressiveOptions } from './autoregressive.js';
export {
  SplineCouplingBijector, splineCoupling, splineBins, splineBinForward, splineBinInverse, splineLogSlope, splineForward, splineInverse,
  splineLogSlopes, splineHeads, splineHeadInit, splineShapeOf,
  type SplineOptions, type SplineCouplingOptions, type SplineShape, type SplineRaw, type SplineBins, type SplineBin,
} from './spline.js';
export { MaskedSplineBijector, splineMaf, splineIaf, type SplineAutoregressiveOptions } from './spline-autoregressive.js';
export { FlowDistribution, Flow, type FlowSource } from './flow-distribution.js';
export { ElementwiseAffineBijector, affine } from './affine.js';
export { createFlowParams, buildFlow, pushForward, flowLogProb, standardNormalLogDensity, fitFlow, type FitFlowOptions, type FittedFlow } from './flow.js';
