/**
 * The SVI optimisers now live in `src/optim/optim.ts` (below flows and infer,
 * which both fit parameters); re-exported here so existing imports keep working.
 *
 * @module
 */
export * from '../../optim/optim.js';
