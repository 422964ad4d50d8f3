/**
 * The batched dense linear algebra kernels moved to `src/linalg/dense.ts`
 * (a floor below distributions, public as `tyche`'s linear-algebra helpers);
 * re-exported here so existing imports keep working.
 *
 * @module
 */
export * from '../linalg/dense.js';
