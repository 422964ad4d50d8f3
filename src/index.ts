/**
 * tyche: probabilistic programming in TypeScript on TensorFlow.js.
 *
 * ```ts
 * import { model, infer, Beta, Bernoulli } from 'tyche';
 * const coin = model(async ({ sample, observe }, flips: number[]) => {
 *   const p = await sample('p', Beta(1, 1));
 *   await observe('flips', Bernoulli(p).expand([flips.length]), flips);
 *   return p;
 * });
 * const post = await infer(coin, { method: 'importance', particles: 5000, seed: 1 }, [1, 1, 0, 1]);
 * console.log(post.summary().toString());
 * ```
 *
 * @module tyche
 */
export * from './core/index.js';
export * from './distributions/index.js';
export * from './infer/index.js';
export * from './backend/select.js';
export { valueAndGradsAsync, withGradientLock } from './backend/autodiff.js';
export { float64Of, tensor64 } from './backend/float64-constants.js';
export * as diagnostics from './diagnostics/index.js';
export * as transforms from './transforms/index.js';
export { bijectTo, Bijector } from './transforms/index.js';
export * as flows from './flows/index.js';
export * as linalg from './linalg/index.js';
export { odeSolve, type OdeRhs, type OdeJacobian, type OdeOptions, type OdeVector } from './ode/index.js';
export { cholesky, solveTriangular, logDet, gpExpQuadCov, gpMatern12Cov, gpMatern32Cov, gpMatern52Cov, gpPeriodicCov } from './linalg/index.js';
