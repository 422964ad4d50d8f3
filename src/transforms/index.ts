/**
 * Bijectors (invertible differentiable maps with log-Jacobians) and
 * `bijectTo`, the map from a constraint to a bijector from real space.
 *
 * @module
 */
export { Bijector, checkEventRank, eventTensor } from './bijector.js';
export { ExpBijector, IdentityBijector, SigmoidBijector, SoftplusBijector, Exp, Identity, Sigmoid, Softplus } from './elementwise.js';
export { AffineBijector, IntervalBijector, LowerBoundBijector, UpperBoundBijector, Affine, Interval, LowerBound, UpperBound } from './affine.js';
export { ComposeBijector, IndependentBijector, Compose, Independent } from './compose.js';
export { StickBreakingBijector, StickBreaking } from './stick-breaking.js';
export { OrderedBijector, Ordered } from './ordered.js';
export { CholeskyOuterProductBijector, LowerCholeskyBijector, CholeskyOuterProduct, LowerCholesky, cholesky } from './cholesky.js';
export { CorrCholeskyBijector, CorrCholesky } from './corr-cholesky.js';
export { type BijectToRule, bijectTo, registerBijectTo } from './biject-to.js';
